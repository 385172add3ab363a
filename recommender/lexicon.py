"""German, Spanish and French task words in English: a word-for-word gloss the English head can read.

The head was trained on English only. Task descriptions are short and their deciding words are few
(write, review, contract, query, ideas, market ...), many are shared across these languages already
(Python, SQL, Architektur, prompt), and the character n-gram head tolerates the rest's spelling. So a
gloss of the frequent request words, word by word, is enough to route a short request; anything it
does not know is left as it is. Only the verbs and nouns that carry a task are listed; function words
are dropped (an empty gloss) so they do not drown the rest.
"""

from __future__ import annotations

import re

_DE = """
überprüfe:review prüfe:check überprüfen:review prüfen:check schreibe:write schreib:write schreiben:write
erstelle:create erstellen:create entwirf:design entwerfe:design entwerfen:design fasse:summarize zusammen:summary
zusammenfassen:summarize zusammenfassung:summary finde:find finden:find korrigiere:correct korrigieren:correct
übersetze:translate analysiere:analyze analysieren:analyze vergleiche:compare erkläre:explain erklären:explain
sammle:collect nenne:list liste:list gib:give mach:make mache:make hilf:help optimiere:optimize teste:test
verbessere:improve formuliere:rewrite plane:plan recherchiere:research
vertrag:contract verträge:contracts vertrags:contract kündigung:termination frist:deadline fristen:deadlines pflichten:obligations
klausel:clause klauseln:clauses dokument:document dokumente:documents bericht:report protokoll:minutes
besprechungsprotokoll:meeting-minutes besprechung:meeting aufgaben:tasks rechnung:invoice
funktion:function code:code fehler:bug programm:program skript:script klasse:class abfrage:query sql-abfrage:sql-query
umsatz:revenue tabelle:table daten:data datenbank:database monat:month kunden:customers
gedicht:poem geschichte:story brief:letter anschreiben:cover-letter text:text aufsatz:essay rede:speech
rechtschreibung:spelling grammatik:grammar blogartikel:blog-post artikel:article
ideen:ideas idee:idea namen:names name:name vorschläge:suggestions
markt:market wettbewerber:competitors konkurrenz:competition geschäftsplan:business-plan unternehmen:company
architektur:architecture skalierbaren:scalable skalierbar:scalable dienst:service system:system
forschung:research studien:studies systemprompt:system-prompt prompt:prompt
"""
_ES = """
revisa:review revisar:review escribe:write escríbeme:write-me escribir:write haz:make hacer:make diseña:design
diseñar:design resume:summarize resumir:summarize resumen:summary encuentra:find encontrar:find corrige:correct
corregir:correct traduce:translate analiza:analyze analizar:analyze compara:compare explica:explain dame:give-me
propón:propose crea:create crear:create mejora:improve prueba:test pruébalo:test-it enumera:list lista:list
ayúdame:help-me planifica:plan investiga:research
contrato:contract contratos:contracts obligaciones:obligations cláusula:clause cláusulas:clauses documento:document
informe:report transcripción:transcript reunión:meeting tareas:tasks factura:invoice acta:minutes
función:function código:code error:bug programa:program clase:class consulta:query pedidos:orders cliente:customer
ventas:sales datos:data tabla:table base:base mes:month
poema:poem cuento:story historia:story carta:letter presentación:cover gramática:grammar ensayo:essay artículo:article
ideas:ideas idea:idea nombre:name nombres:names
mercado:market competidores:competitors competencia:competition negocio:business empresa:company
arquitectura:architecture escalable:scalable servicio:service
estudios:studies investigación:research prompt:prompt sistema:system asistente:assistant
"""
_FR = """
examine:review examiner:review vérifie:check vérifier:check écris:write écris-moi:write-me écrire:write
fais:make faire:make conçois:design concevoir:design résume:summarize résumer:summarize résumé:summary
trouve:find trouver:find corrige:correct corriger:correct traduis:translate analyse:analyze analyser:analyze
compare:compare explique:explain donne:give donne-moi:give-me propose:propose crée:create créer:create
améliore:improve teste:test teste-le:test-it liste:list aide-moi:help-me planifie:plan recherche:research
contrat:contract contrats:contracts obligations:obligations clause:clause clauses:clauses document:document
rapport:report transcription:transcript compte:report rendu:minutes réunion:meeting actions:actions facture:invoice
fonction:function code:code bug:bug programme:program classe:class requête:query chiffre:revenue affaires:business
données:data tableau:table mois:month
poème:poem histoire:story lettre:letter motivation:cover-letter fautes:mistakes grammaire:grammar essai:essay article:article
idées:ideas idée:idea nom:name noms:names
marché:market concurrents:competitors concurrence:competition entreprise:company
architecture:architecture service:service échelle:scale
études:studies prompt:prompt système:system assistant:assistant
"""
_STOP = {
    "de": "der die das und oder ist ein eine einen einem einer mit für von zu den dem des ich du sie wir bitte mir mein "
          "meine meinem meinen meiner wie was welche welches kann können auf aus im bei über dieser diese dieses diesen "
          "es in am um nicht sind wer",
    "es": "el la los las y o es un una unos unas con para por de del que en mi mis me tu como qué cuál puedes sobre "
          "este esta estos estas al se lo le sus su",
    "fr": "le la les et ou est un une des avec pour par de du que en mon ma mes me je tu vous comment quel quelle "
          "peux pouvez sur ce cette ces au aux se il l d qui passe à",
}


def _parse(table: str) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in table.split())
    return {word: english.replace("-", " ") for word, english in pairs}


GLOSSES = {"de": _parse(_DE), "es": _parse(_ES), "fr": _parse(_FR)}
for _lang, _words in _STOP.items():
    for _w in _words.split():
        GLOSSES[_lang].setdefault(_w, "")
LANGUAGES = frozenset(GLOSSES)
_TOKEN = re.compile(r"[\w'’-]+|[^\w\s]", re.UNICODE)


def gloss(text: str, language: str) -> str:
    """Word-for-word English for the request words of `language`; other words unchanged."""
    table = GLOSSES[language]
    out = []
    for token in _TOKEN.findall(text):
        lowered = token.lower()
        if lowered in table:
            if table[lowered]:
                out.append(table[lowered])
            continue
        # "d'affaires", "l'architecture": gloss the word after the elided article.
        if "'" in lowered or "’" in lowered:
            tail = re.split(r"['’]", lowered)[-1]
            if tail in table:
                if table[tail]:
                    out.append(table[tail])
                continue
        out.append(token)
    return " ".join(out)
