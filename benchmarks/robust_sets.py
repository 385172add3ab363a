"""The robustness sets: input as people really type it, one set per failure kind (issue 13).

Every set is built here at run time, seeded, from sentences written for this file: none comes from
training/data or the public benchmark (the typo'd public set is the public benchmark itself, misspelt
by a seeded script, and only measured). Each item is (text, expected profile); "general" means the
right answer is to abstain.
"""

from __future__ import annotations

import inspect
import json
import random
from pathlib import Path

from typos import with_typos

Item = tuple[str, str]

# --- payloads: long pasted material of six kinds ----------------------------------------------

_PARTIES = ["the Licensor", "the Licensee", "the Supplier", "the Customer", "each party", "the Contractor"]
_LEGAL_CLAUSES = [
    "{a} shall not sublicense, sell, lease or otherwise transfer the Software without prior written consent of {b}.",
    "Subject to the terms and conditions of this Agreement, {a} hereby grants to {b} a non-exclusive, non-transferable licence to use the Software.",
    "{a} shall indemnify and hold harmless {b} from any claims, damages or liabilities arising out of a breach of this Agreement.",
    "This Agreement shall be governed by and construed in accordance with the laws of the State of Delaware, without regard to conflict of law principles.",
    "Either party may terminate this Agreement upon thirty (30) days written notice if the other party materially breaches any provision hereof.",
    "Except as expressly provided herein, the Software is provided as is, without warranty of any kind, express or implied, including warranties of merchantability.",
    "In no event shall {a} be liable for any indirect, incidental, special or consequential damages, however caused, even if advised of the possibility thereof.",
    "{a} shall keep confidential all Confidential Information disclosed by {b} and shall use it solely for the purposes of this Agreement.",
    "All notices under this Agreement shall be in writing and delivered by courier or registered mail to the addresses set out above.",
    "Notwithstanding the foregoing, the obligations in this Section shall survive termination or expiry of this Agreement for five (5) years.",
    "{a} shall pay all fees within forty-five (45) days of the invoice date; late payments shall bear interest at one percent per month.",
    "Any dispute arising hereunder shall be referred to binding arbitration in accordance with the rules then in force.",
]
_CODE_MODULES = ["json.decoder", "textwrap", "shlex", "fractions", "string", "colorsys"]
_EMAIL_BODIES = [
    "Thanks for sending the revised quote. Before we sign off I need to check two things with finance: whether the "
    "annual discount applies from the first invoice, and whether the support hours include weekends.",
    "Following up on our call last week. The team is happy with the pilot results, but procurement wants the security "
    "questionnaire completed before we can move to the full rollout.",
    "Could we move Thursday's review to next week? Half of the stakeholders are travelling and I would rather have "
    "everyone in the room when we decide on the vendor.",
    "Attached is the updated timeline. The main change is that the data migration now starts on the 14th, which pushes "
    "user training back by about ten days.",
]
_NAMES = ["Maria Lopez", "Tom Becker", "Priya Nair", "Jonas Eriksen", "Aiko Tanaka", "Sam Okafor"]
_SPOKEN = [
    "okay so let's start with the budget numbers for next quarter",
    "I think marketing is over by about twelve percent at this point",
    "right, and that is mostly the trade show we added in March",
    "can we agree that the launch date stays on the first of June",
    "I'll take the action to send the revised plan to the board by Friday",
    "one concern is hiring, we still have two open engineering roles",
    "let's park that and come back to it in the next meeting",
    "so to summarise, the launch stays, budget gets cut in events, and hiring is the risk",
    "does anyone object if we move the weekly sync to Tuesdays",
    "the customer feedback from the beta was mostly positive about onboarding",
]
_PROSE = [
    "The rain had not stopped for three days when Elena finally opened the letter.",
    "She read it twice, standing by the window, while the kettle whistled behind her and nobody came to take it off the stove.",
    "Her brother had always written like that, in short sentences that sounded like orders and ended without a signature.",
    "Outside, the harbour lights blurred into long yellow streaks, and a ferry sounded its horn somewhere past the breakwater.",
    "She remembered the summer they had rowed out to the island and got caught by the tide, and how he had laughed the whole way back.",
    "There was no laughter in the letter, only a date, an address in the old town, and a request that she come alone.",
    "By the time the tea had gone cold she had decided, though she told herself she was still thinking it over.",
    "The next morning the streets were washed clean and the air smelled of salt and diesel and bread from the bakery on the corner.",
    "Mr. Hollis, who ran the bakery, waved at her with a floury hand and asked whether she was going somewhere nice.",
    "She said she was visiting family, which was true in the way that most of the things she said that year were true.",
]


def legal_payload(rng: random.Random, words: int = 5000) -> str:
    parts, count, section = [], 0, 1
    while count < words:
        clause = rng.choice(_LEGAL_CLAUSES).format(a=rng.choice(_PARTIES), b=rng.choice(_PARTIES))
        parts.append(f"{section}. {clause}")
        section += 1
        count += len(clause.split())
    return "SOFTWARE LICENCE AGREEMENT\n\n" + "\n\n".join(parts)


def code_payload(rng: random.Random) -> str:
    import importlib

    module = importlib.import_module(rng.choice(_CODE_MODULES))
    return inspect.getsource(module)[:12000]


def table_payload(rng: random.Random, rows: int = 300) -> str:
    regions = ["north", "south", "east", "west"]
    lines = ["date,region,product,units,revenue"]
    for i in range(rows):
        lines.append(f"2025-{1 + i % 12:02d}-{1 + i % 28:02d},{rng.choice(regions)},SKU-{rng.randrange(100, 999)},"
                     f"{rng.randrange(1, 500)},{rng.uniform(10, 9000):.2f}")
    return "\n".join(lines)


def email_payload(rng: random.Random, messages: int = 5) -> str:
    out = []
    for i in range(messages):
        a, b = rng.sample(_NAMES, 2)
        out.append(f"From: {a} <{a.split()[0].lower()}@example.com>\nTo: {b} <{b.split()[0].lower()}@example.com>\n"
                   f"Date: Mon, {3 + i} Mar 2025 09:{10 + i:02d}\nSubject: Re: rollout plan\n\nHi {b.split()[0]},\n\n"
                   f"{rng.choice(_EMAIL_BODIES)}\n\nBest regards,\n{a.split()[0]}")
    return "\n\n-----Original Message-----\n".join(out)


def transcript_payload(rng: random.Random, turns: int = 80) -> str:
    lines = []
    for i in range(turns):
        lines.append(f"[{i // 2:02d}:{(i * 17) % 60:02d}] {rng.choice(_NAMES).split()[0]}: {rng.choice(_SPOKEN)}")
    return "\n".join(lines)


def prose_payload(rng: random.Random, paragraphs: int = 25) -> str:
    return "CHAPTER SEVEN\n\n" + "\n\n".join(" ".join(rng.sample(_PROSE, 5)) for _ in range(paragraphs))


PAYLOADS = {
    "legal": legal_payload,
    "code": code_payload,
    "table": table_payload,
    "email": email_payload,
    "transcript": transcript_payload,
    "prose": prose_payload,
}
# The asks around each payload, with the profile each one needs.
INSTRUCTIONS: dict[str, list[Item]] = {
    "legal": [
        ("Go through this licence and tell me what I am obliged to do as the licensee.", "document-intelligence"),
        ("What are the termination conditions in this agreement?", "document-intelligence"),
        ("Can you flag the clauses that are risky for us before we sign?", "document-intelligence"),
        ("Summarise the liability and indemnity terms of the contract in plain language.", "document-intelligence"),
        ("Please check whether this agreement lets us sublicense the software.", "document-intelligence"),
    ],
    "code": [
        ("Why does this module raise an exception when the input is empty? Find the bug.", "programming"),
        ("Add type hints and docstrings to the functions in this file.", "programming"),
        ("Write pytest unit tests for the code below.", "programming"),
        ("Refactor this code to be easier to read without changing behaviour.", "programming"),
        ("Can you port this to TypeScript?", "programming"),
    ],
    "table": [
        ("Which region grew revenue fastest? Give me the pandas code to work it out.", "data-work"),
        ("Clean up this CSV: remove duplicate rows and fix the date format.", "data-work"),
        ("Compute total revenue per product per month from this export.", "data-work"),
        ("Write the SQL table definition and an import statement for this data.", "data-work"),
        ("What is the average number of units per order, by region?", "data-work"),
    ],
    "email": [
        ("Draft a polite reply to the last message saying we need one more week.", "writing"),
        ("Write a short, friendly answer to this thread confirming the new timeline.", "writing"),
        ("Summarise this email thread and list who still owes what.", "document-intelligence"),
        ("Reply to Maria for me, keep it professional and brief.", "writing"),
        ("Extract every date and commitment mentioned in these emails.", "document-intelligence"),
    ],
    "transcript": [
        ("Summarise the action items and owners from this meeting.", "document-intelligence"),
        ("Who agreed to what in this call? List the decisions.", "document-intelligence"),
        ("Pull out every concern raised about hiring in the transcript.", "document-intelligence"),
        ("Give me a one-paragraph summary of this meeting for people who missed it.", "document-intelligence"),
        ("Extract the open questions from the call above.", "document-intelligence"),
    ],
    "prose": [
        ("Proofread this chapter and fix grammar and punctuation, keep my voice.", "writing"),
        ("Tighten the prose in this chapter and make the dialogue sharper.", "writing"),
        ("Edit this draft chapter for pacing; it drags in the middle.", "writing"),
        ("Rewrite the opening of this chapter so it hooks the reader faster.", "writing"),
        ("Give me line edits on this chapter of my novel.", "writing"),
    ],
}


def long_pastes(seed: int = 13) -> list[tuple[str, str, str, str]]:
    """(text, expected, payload kind, position) for every instruction, first and last, over six payload kinds."""
    rng = random.Random(seed)
    items = []
    for kind, asks in INSTRUCTIONS.items():
        for ask, expected in asks:
            payload = PAYLOADS[kind](rng)
            items.append((f"{ask}\n\n{payload}", expected, kind, "first"))
            items.append((f"{payload}\n\n{ask}", expected, kind, "last"))
    return items


META: list[Item] = [
    ("which model is best for writing sql?", "data-work"),
    ("what local llm should I use to proofread my essays", "writing"),
    ("best ollama model for debugging javascript", "programming"),
    ("which model should I pick for reviewing legal contracts?", "document-intelligence"),
    ("what's the best open source model for brainstorming product names", "brainstorming"),
    ("recommend a model for designing microservice architectures", "systems-architecture"),
    ("which llm is good for literature reviews", "research"),
    ("what model would you recommend for competitor analysis", "business-research"),
    ("best local model to write system prompts and test them", "skills-building"),
    ("which model for data cleaning in pandas?", "data-work"),
    ("what model do I use to summarize long pdf reports", "document-intelligence"),
    ("which ai model should I use for writing blog posts", "writing"),
    ("good local llm for rust programming", "programming"),
    ("which model works best for market research on startups", "business-research"),
    ("what is the best model for answering questions about scientific papers", "research"),
    ("I need a model for generating creative ideas for a party", "brainstorming"),
    ("what model should we use to plan database sharding", "systems-architecture"),
    ("which llm to use for extracting tables from invoices", "document-intelligence"),
    ("best small model for code completion in python", "programming"),
    ("which model should I run for prompt engineering", "skills-building"),
    ("what's a good model for excel formulas", "data-work"),
    ("recommend me an llm for writing short stories", "writing"),
    ("which model is best for brainstorming?", "brainstorming"),
    ("what model is best for coding", "programming"),
    ("looking for a model that can analyze quarterly earnings of companies", "business-research"),
    ("which local model for explaining research findings in biology", "research"),
    ("what's the best llm to use when reviewing a 100 page contract", "document-intelligence"),
    ("which model should i use to design a scalable backend", "systems-architecture"),
    ("best model for translating my marketing copy into a catchier tone", "writing"),
    ("what model should I use for sql query optimization", "data-work"),
]

NEGATIONS: list[Item] = [
    ("no python please, just a sonnet about snakes", "writing"),
    ("I don't need SQL, write a bedtime story about a lonely spreadsheet", "writing"),
    ("not a poem, I need the SQL that counts orders per day", "data-work"),
    ("don't write code, brainstorm names for my coding bootcamp", "brainstorming"),
    ("I'm not after a business plan, write a funny toast for my cofounder", "writing"),
    ("no architecture talk, just fix this null pointer in my java method", "programming"),
    ("skip the essay, give me the market size of electric scooters in France", "business-research"),
    ("I don't want a summary of the contract, write a friendly email asking the landlord for repairs", "writing"),
    ("without any code, explain what the research says about sleep and memory", "research"),
    ("not brainstorming, I need a distributed design for a global leaderboard service", "systems-architecture"),
    ("no creative writing please, extract the renewal date from this lease", "document-intelligence"),
    ("forget the prompt engineering stuff, write a python script that renames files by date", "programming"),
    ("I don't need a system prompt, just write a limerick about my cat", "writing"),
    ("rather than a blog post, give me twenty ideas for team building activities", "brainstorming"),
    ("instead of a market report, write a short story set in a stock exchange", "writing"),
    ("no pandas, just tell me which studies link coffee to heart health", "research"),
    ("I don't want marketing copy, analyze the competitive landscape of meal kit delivery", "business-research"),
    ("not an architecture doc, just brainstorm fun names for our new microservice", "brainstorming"),
    ("no need to research anything, write a cheerful retirement card message", "writing"),
    ("don't give me ideas, write the regex that matches US zip codes", "programming"),
    ("no code please, just a poem about recursion", "writing"),
    ("I don't need a literature review, just a pivot table of sales by region in excel", "data-work"),
    ("skip the brainstorming and design a caching layer for our read-heavy API", "systems-architecture"),
    ("not a story, list the obligations of the tenant in this rental agreement", "document-intelligence"),
    ("I don't want a tutorial, I need a prompt that makes the model answer only in JSON and tests for it", "skills-building"),
    ("no financial analysis, write a product description for our new headphones", "writing"),
    ("don't summarize the paper, find other studies that replicate its findings", "research"),
    ("without writing a whole essay, brainstorm slogans for a recycling campaign", "brainstorming"),
    ("no SQL, write a rust function that parses a config file", "programming"),
    ("I'm not looking for a poem, compare the pricing of the top three CRM vendors", "business-research"),
]

MULTI_INTENT: list[tuple[str, str, str]] = [  # (text, first intent, second intent)
    ("write a python scraper for product prices and then a blog post about what we found", "programming", "writing"),
    ("analyze this sales CSV and brainstorm campaign ideas from the results", "data-work", "brainstorming"),
    ("summarize this contract and draft an email to the client about the risky clauses", "document-intelligence", "writing"),
    ("research the market for pet insurance and write a pitch for investors", "business-research", "writing"),
    ("design the architecture for a chat app and write the websocket server in go", "systems-architecture", "programming"),
    ("find studies on remote work productivity and turn them into a newsletter article", "research", "writing"),
    ("brainstorm names for my bakery and then write the about page", "brainstorming", "writing"),
    ("write the SQL for monthly churn and a python script that emails the report", "data-work", "programming"),
    ("write a system prompt for a support bot and test it on ten tricky questions", "skills-building", "skills-building"),
    ("extract the key figures from this annual report and compare them with competitors", "document-intelligence", "business-research"),
    ("fix the failing unit test and explain the design of the retry module", "programming", "systems-architecture"),
    ("review this research paper's methods and brainstorm follow-up experiments", "research", "brainstorming"),
    ("clean this dataset in pandas and write a short summary of the trends for my boss", "data-work", "writing"),
    ("brainstorm features for a fitness app and estimate its market size", "brainstorming", "business-research"),
    ("proofread my cover letter and suggest companies in my area to apply to", "writing", "business-research"),
]

ONE_WORD: list[Item] = [
    ("sql", "data-work"), ("poem", "writing"), ("contract", "document-intelligence"),
    ("microservices", "systems-architecture"), ("brainstorming", "brainstorming"), ("debugging", "programming"),
    ("competitors", "business-research"), ("essay", "writing"), ("pandas", "data-work"), ("python", "programming"),
    ("refactoring", "programming"), ("scalability", "systems-architecture"), ("invoice", "document-intelligence"),
    ("proofreading", "writing"), ("spreadsheet", "data-work"), ("ideas", "brainstorming"),
    ("javascript", "programming"), ("excel", "data-work"), ("slogans", "brainstorming"),
    ("copywriting", "writing"), ("hi", "general"), ("thanks", "general"), ("hello", "general"), ("lol", "general"),
]

LANGUAGES: dict[str, list[Item]] = {
    "de": [
        ("Überprüfe diesen Vertrag und nenne mir die Kündigungsfristen", "document-intelligence"),
        ("Schreibe eine Python-Funktion, die eine Liste sortiert", "programming"),
        ("Schreib mir ein Gedicht über den Herbst", "writing"),
        ("Erstelle eine SQL-Abfrage für den Umsatz pro Monat", "data-work"),
        ("Sammle zehn Ideen für den Namen meiner Bäckerei", "brainstorming"),
        ("Wie groß ist der Markt für E-Bikes in Deutschland und wer sind die Wettbewerber?", "business-research"),
        ("Entwirf die Architektur für einen skalierbaren Chat-Dienst", "systems-architecture"),
        ("Fasse die aktuelle Forschung zu Schlaf und Gedächtnis zusammen", "research"),
        ("Schreibe einen Systemprompt für einen Kundenservice-Bot und teste ihn", "skills-building"),
        ("Korrigiere bitte die Rechtschreibung in meinem Anschreiben", "writing"),
        ("Finde den Fehler in meinem JavaScript-Code", "programming"),
        ("Fasse dieses Besprechungsprotokoll zusammen und liste die Aufgaben auf", "document-intelligence"),
    ],
    "es": [
        ("Revisa este contrato y dime cuáles son mis obligaciones", "document-intelligence"),
        ("Escribe una función en Python que invierta una cadena", "programming"),
        ("Escríbeme un poema sobre el mar", "writing"),
        ("Haz una consulta SQL que cuente los pedidos por cliente", "data-work"),
        ("Dame ideas para el nombre de mi cafetería", "brainstorming"),
        ("Analiza el mercado de bicicletas eléctricas en España y sus competidores", "business-research"),
        ("Diseña la arquitectura de un servicio de pagos escalable", "systems-architecture"),
        ("Resume lo que dicen los estudios sobre el café y la salud", "research"),
        ("Escribe un prompt de sistema para un asistente y pruébalo con casos difíciles", "skills-building"),
        ("Corrige la gramática de mi carta de presentación", "writing"),
        ("Encuentra el error en mi código de Java", "programming"),
        ("Resume esta transcripción de la reunión y enumera las tareas", "document-intelligence"),
    ],
    "fr": [
        ("Examine ce contrat et liste mes obligations", "document-intelligence"),
        ("Écris une fonction Python qui trie une liste", "programming"),
        ("Écris-moi un poème sur la pluie", "writing"),
        ("Fais une requête SQL qui calcule le chiffre d'affaires par mois", "data-work"),
        ("Propose des idées de nom pour ma boulangerie", "brainstorming"),
        ("Analyse le marché des trottinettes électriques en France et ses concurrents", "business-research"),
        ("Conçois l'architecture d'un service de messagerie qui passe à l'échelle", "systems-architecture"),
        ("Résume ce que dit la recherche sur le sommeil et la mémoire", "research"),
        ("Écris un prompt système pour un assistant et teste-le sur des cas limites", "skills-building"),
        ("Corrige les fautes dans ma lettre de motivation", "writing"),
        ("Trouve le bug dans mon code JavaScript", "programming"),
        ("Résume ce compte rendu de réunion et liste les actions", "document-intelligence"),
    ],
}
# Written after lexicon.py was, and never used to extend it: the glossary's held-out check.
LANGUAGES_HELDOUT: dict[str, list[Item]] = {
    "de": [
        ("Kannst du mir helfen, eine Bewerbung als Krankenpfleger zu schreiben?", "writing"),
        ("Welche Klauseln in diesem Mietvertrag sind für mich als Mieter ungünstig?", "document-intelligence"),
        ("Warum stürzt mein Rust-Programm mit einem Überlauf ab?", "programming"),
        ("Berechne in Excel den Durchschnitt pro Filiale", "data-work"),
        ("Gib mir Ideen für ein Teamevent im Winter", "brainstorming"),
        ("Wer sind die größten Anbieter von Solaranlagen in Europa?", "business-research"),
        ("Was sagt die Wissenschaft über Intervallfasten?", "research"),
        ("Wie sollte ich Caching für eine stark belastete API aufbauen?", "systems-architecture"),
    ],
    "es": [
        ("¿Me ayudas a escribir un discurso para la boda de mi hermana?", "writing"),
        ("Lee este acuerdo de confidencialidad y dime qué cláusulas son peligrosas", "document-intelligence"),
        ("Mi script de Python falla con un KeyError, ¿por qué?", "programming"),
        ("Calcula la media de ventas por tienda en esta hoja de Excel", "data-work"),
        ("Necesito ideas para una fiesta de cumpleaños infantil", "brainstorming"),
        ("¿Quiénes son los principales competidores de Zara en Latinoamérica?", "business-research"),
        ("¿Qué dice la ciencia sobre el ayuno intermitente?", "research"),
        ("¿Cómo diseño una cola de mensajes que aguante millones de eventos?", "systems-architecture"),
    ],
    "fr": [
        ("Peux-tu m'aider à rédiger un discours pour le mariage de ma sœur ?", "writing"),
        ("Lis cet accord de confidentialité et dis-moi quelles clauses sont risquées", "document-intelligence"),
        ("Mon script Python plante avec une KeyError, pourquoi ?", "programming"),
        ("Calcule la moyenne des ventes par magasin dans ce fichier Excel", "data-work"),
        ("J'ai besoin d'idées pour un anniversaire d'enfant", "brainstorming"),
        ("Qui sont les principaux concurrents de Decathlon en Europe ?", "business-research"),
        ("Que dit la science sur le jeûne intermittent ?", "research"),
        ("Comment concevoir une file de messages qui tient des millions d'événements ?", "systems-architecture"),
    ],
}
OTHER_LANGUAGES: list[tuple[str, str]] = [  # (text, ISO 639-1): the head reads none of these
    ("请帮我审查这份合同", "zh"), ("写一首关于秋天的诗", "zh"), ("用Python写一个排序函数", "zh"),
    ("この契約書を確認してください", "ja"), ("秋についての詩を書いてください", "ja"),
    ("Pythonでソート関数を書いて", "ja"), ("Проверь этот договор", "ru"), ("Напиши стихотворение об осени", "ru"),
    ("이 계약서를 검토해 주세요", "ko"), ("اكتب قصيدة عن البحر", "ar"),
]


def typo_public(public_file: Path, seed: int = 20261126) -> tuple[list[Item], list[Item]]:
    """The public benchmark, clean and with 20% of words misspelt (seeded, made now, never stored)."""
    rows = [json.loads(line) for line in public_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    clean = [(r["text"], r["label"]) for r in rows]
    return clean, [(with_typos(t, rng), label) for t, label in clean]


def heldout(folder: Path | None = None) -> list[tuple[str, str]]:
    """benchmarks/heldout/: (text, label) for every line, written apart from training/data and never trained on."""
    folder = folder or Path(__file__).resolve().parent / "heldout"
    return [(line.strip(), f.stem) for f in sorted(folder.glob("*.txt"))
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
