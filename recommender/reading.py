"""Which part of what a user typed says what they want: the reading done before any classification.

People paste a contract under "review this and list my obligations", ask "which model for coding?",
write "no SQL please, just a poem about databases" or type in German. The classifier's head only
knows short English task descriptions, so this module turns raw input into the text the head should
read, plus what it learned on the way:

- the language (ISO 639-1, from the script and from function words; no dependency, no model);
- for long or multi-line input, the instruction (the asking line or sentence before or after the
  pasted material) and the kind of the payload (code, legal text, table, email thread, transcript, prose);
- for a question about models ("best local LLM for X"), the X;
- a negated request ("I don't need a system design, just ...") loses the part it declines.

Everything here is regular expressions and string work on at most a bounded prefix/suffix of the
text, so a 100 kB paste costs milliseconds.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from recommender import lexicon

# Input of several lines shorter than this (words) is read whole unless part of it is code, a table and so on.
SHORT_WORDS = 60
# A single paragraph is split into sentences only past this many words: a task described in a few
# sentences is read whole, a pasted article is not.
PASTE_WORDS = 150
# An instruction is at most this long; longer units are payload.
MAX_INSTRUCTION_WORDS = 50
# Characters of payload examined to name its kind.
KIND_SAMPLE_CHARS = 20_000
# Characters kept from each end of a huge paste: the instruction sits at one end.
EDGE_CHARS = 4_000
# Characters of the ask read past this point: twice what the encoder reads (encoder.MAX_CHARS, 6,144),
# so its truncation flag still shows, and a bound on the regexes and the speller for a 1 MB text.
READ_CHARS = 12_288
# Of a longer text only these ends are kept: all that split_instruction reads of a huge paste (its two
# EDGE_CHARS ends and KIND_SAMPLE_CHARS after the head), and READ_CHARS of its start, with room to spare.
KEEP_HEAD = EDGE_CHARS + KIND_SAMPLE_CHARS + 4_000
KEEP_TAIL = EDGE_CHARS + 1_000
ENGLISH = "en"
UNDETERMINED = "und"


class Reading(NamedTuple):
    text: str  # the input, whitespace collapsed
    model_text: str  # what the classifier should read
    focus: str | None  # the span that decides, when it is not the whole text
    payload_kind: str | None
    language: str  # ISO 639-1, or "und"
    language_supported: bool
    second_ask: str | None = None  # "X and then Y": Y, a second signal beside X (model_text)


class _lazy:
    """A regular expression compiled on first use: most inputs are one short line that needs few of
    them, and compiling them all at import would add milliseconds to every cold `taskprof suggest`."""

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


# --- language ----------------------------------------------------------------------------------

# Frequent function words; a text's language is the one whose words it uses most. Words shared by
# several languages ("a", "de", "la", "en") still count for each, and the margin decides.
_FUNCTION_WORDS = {
    "en": "the a an and or of to in on for with this that is are be it my me i you your can how what which "
          "please write make give find help about from as at by do does should would could need want into not "
          "no just using use who was were when where why did has have had will there their they we our us its "
          "than then if so all any some more most these those get tell list",
    "de": "der die das und oder ist nicht ein eine einen mit für von zu den dem des ich du sie wir bitte "
          "schreibe schreib erstelle mir mein meine wie was welche welches kann können auf aus im bei über "
          "dieser diese dieses hilf",
    "es": "el la los las y o es no un una unos con para por de del que en mi mis me tu como qué cuál "
          "puedes escribe escribir haz dame ayúdame sobre este esta estos al se lo",
    "fr": "le la les et ou est pas un une des avec pour par de du que en mon ma mes me je tu vous comment "
          "quel quelle peux pouvez écris écrire fais donne aide-moi sur ce cette ces au aux se il",
    "it": "il lo la gli le e o è non un una con per di del che in mio mia mi come quale puoi scrivi fammi "
          "dammi aiutami su questo questa sono",
    "pt": "o a os as e ou é não um uma com para por de do da que em meu minha me como qual você pode "
          "escreva faça dê ajude sobre este esta isso",
    "nl": "de het een en of is niet met voor van te dat in mijn ik je jij hoe wat welke kun kunt schrijf "
          "maak geef help over deze dit",
    "sv": "och att det en ett är inte med för av till som på jag du min mitt hur vad vilken kan skriv "
          "gör ge hjälp om den denna",
    "pl": "i w na z do nie jest się że to jak co czy mój moja mi proszę napisz zrób daj pomóż o ten ta",
    "tr": "ve bir bu için ile de da mi ne nasıl hangi benim bana lütfen yaz yap ver yardım hakkında değil",
}
_LANGUAGES_OF_WORD: dict[str, tuple[str, ...]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in set(_words.split()):
        _LANGUAGES_OF_WORD[_w] = (*_LANGUAGES_OF_WORD.get(_w, ()), _lang)
_DIACRITICS = {
    "de": "äöüß", "es": "ñ¿¡áéíóú", "fr": "àâçèéêëîïôùûœ", "pt": "ãõçáéêó", "pl": "ąćęłńśźż",
    "tr": "ğışç", "sv": "åäö", "it": "àèéìòù",
}
_SCRIPTS = [  # (language, pattern of its letters)
    ("ja", _lazy(r"[\u3040-\u30ff]")),  # kana first: Japanese also uses CJK ideographs
    ("ko", _lazy(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("zh", _lazy(r"[\u4e00-\u9fff\u3400-\u4dbf]")),
    ("ru", _lazy(r"[\u0400-\u04ff]")),
    ("ar", _lazy(r"[\u0600-\u06ff]")),
    ("he", _lazy(r"[\u0590-\u05ff]")),
    ("el", _lazy(r"[\u0370-\u03ff]")),
    ("hi", _lazy(r"[\u0900-\u097f]")),
    ("th", _lazy(r"[\u0e00-\u0e7f]")),
]
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, "und" when it cannot tell (a single technical word)."""
    sample = text[:2000]
    ascii_only = sample.isascii()
    if not ascii_only:
        letters = len(_LATIN_LETTER.findall(sample))
        for lang, pattern in _SCRIPTS:
            found = len(pattern.findall(sample))
            if found and found >= letters * 0.5:
                return lang
    scores = dict.fromkeys(_FUNCTION_WORDS, 0.0)
    any_word = False
    for word in _WORD.findall(sample.lower()):
        any_word = True
        for lang in _LANGUAGES_OF_WORD.get(word, ()):
            scores[lang] += 1
    if not any_word:
        return UNDETERMINED
    if not ascii_only:
        lowered = sample.lower()
        for lang, marks in _DIACRITICS.items():
            scores[lang] += 0.5 * sum(lowered.count(c) for c in marks)
    best = max(scores, key=lambda lang: (scores[lang], lang == ENGLISH))
    if best != ENGLISH and scores[best] < 2:
        # One shared-looking word ("was", "com" in "Mint.com") is no evidence of another language.
        best = ENGLISH if scores[ENGLISH] > 0 or ascii_only else best
    if scores[best] == 0:
        # No function word: a keyword or two ("sql", "kubernetes helm chart"); English-like tokens
        # are what the head reads, so treat it as English when it is plain ASCII.
        return ENGLISH if ascii_only else UNDETERMINED
    if best != ENGLISH and scores[best] <= scores[ENGLISH]:
        return ENGLISH
    return best


# --- instruction and payload ---------------------------------------------------------------------

_ASKING_START = _lazy(
    r"^\W*(please\s+|pls\s+|kindly\s+|now\s+|ok(ay)?,?\s+|so,?\s+|hey,?\s+|hi,?\s+)?"
    r"(can|could|would|will|should|what|which|who|why|how|is|are|does|do|did|where|when|"
    r"review|summari[sz]e|summary|list|write|rewrite|draft|fix|debug|explain|translate|find|check|proofread|"
    r"edit|analy[sz]e|compare|extract|tell|give|make|create|generate|turn|convert|identify|highlight|flag|"
    r"help|read|go|look|improve|refactor|answer|reply|respond|plot|chart|calculate|compute|clean|"
    r"optimi[sz]e|test|brainstorm|suggest|propose|design|outline|critique|assess|evaluate|tl;?dr|i need|"
    r"tighten|polish|shorten|condense|expand|simplify|paraphrase|reformat|format|sort|group|visuali[sz]e|port|"
    r"add|remove|delete|update|change|modify|rename|implement|build|continue|finish|complete|cut|spot|point|"
    r"mark|count|sum|estimate|predict|classify|tag|label|rate|score|rank|grade|verify|validate|confirm|"
    r"describe|show|detect|spot|pull|pick|choose|decide|recommend|advise|prepare|plan|schedule|draw|sketch|"
    r"i'm|i am|my|thoughts|"
    r"i want|i'd like|i would like|we need|here is|here's|below is|above is|attached|the following|"
    r"based on|using|from|given|in the|for the|for this)\b",
    re.IGNORECASE,
)
_ASKING_ANYWHERE = _lazy(
    r"\?|\b(please|can you|could you|would you|help me|i need|i want|for me|"
    r"this (contract|licen[cs]e|agreement|code|script|function|file|table|csv|data|email|thread|transcript|"
    r"chapter|text|document|essay|article|passage|log|report)|the (text|code|data|table|email|transcript|"
    r"document|chapter|contract|licen[cs]e|agreement|thread|passage) (above|below)|above|below)\b",
    re.IGNORECASE,
)
_SENTENCE_END = _lazy(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def _asks(unit: str) -> bool:
    """Does a short unit read like a request? A request opening, or a question, is needed."""
    if _EMAIL_HEADER.match(unit) or _SPEAKER_LINE.match(unit) or _looks_structured(unit):
        return False
    score = 2 * bool(_ASKING_START.search(unit)) + 2 * ("?" in unit) + bool(_ASKING_ANYWHERE.search(unit))
    if _NUMBERED.match(unit) and "?" not in unit:
        score -= 2  # "12. The Licensee shall ..." is a clause, not a request
    return score >= 2


_NUMBERED = _lazy(r"^\s*(\(?\d+(\.\d+)*[.)]|[a-z][.)]|section\s+\d|article\s+\d)\s", re.IGNORECASE)
_CODE_LINE = _lazy(
    r"(^\s*(def |class |import |from \S+ import|return\b|if\s*\(|for\s*\(|while\s*\(|function\b|const |let |var |"
    r"public |private |#include|package |fn |SELECT |INSERT |UPDATE |CREATE TABLE|@\w+|}\s*$|\{\s*$)|"
    r"[;{}]\s*$|=>|==|!=|\)\s*:\s*$|^\s{4,}\S)"
)
# Line-anchored patterns start with [ \t]*, never \s*: with MULTILINE, \s* at each of n blank lines runs
# over all the blank lines after it before failing, O(n^2) on a paste of empty lines (a minute for 1 MB).
_EMAIL_HEADER = _lazy(r"^[ \t]*(>[ \t]*)?(from|to|subject|sent|cc|date|reply-to):\s", re.IGNORECASE | re.MULTILINE)
_EMAIL_MARK = _lazy(r"-----\s*original message\s*-----|^on .{5,80} wrote:\s*$|^(best|kind) regards,?\s*$|^thanks,?\s*$",
                         re.IGNORECASE | re.MULTILINE)
_SPEAKER_LINE = _lazy(r"^[ \t]*(\[?\(?\d{1,2}:\d{2}(:\d{2})?\)?\]?[ \t]*)?([A-Z][\w.'-]*( [A-Z][\w.'-]*){0,2}|SPEAKER \d+)\s*:\s+\S",
                           re.MULTILINE)
_TIMESTAMP = _lazy(r"^[ \t]*\[?\(?\d{1,2}:\d{2}(:\d{2})?", re.MULTILINE)
_LEGAL = _lazy(
    r"\b(shall|hereby|herein|hereunder|thereof|whereas|licensee|licensor|licen[cs]ed|warrant(y|ies)|liabilit(y|ies)|"
    r"indemnif\w*|pursuant|notwithstanding|terms and conditions|agreement|part(y|ies)|obligations?|jurisdiction|"
    r"termination|copyright|governing law)\b",
    re.IGNORECASE,
)


def _looks_structured(unit: str) -> bool:
    lines = [line for line in unit.splitlines() if line.strip()]
    if not lines:
        return False
    if unit.lstrip().startswith("```"):
        return True
    code = sum(bool(_CODE_LINE.search(line)) for line in lines)
    return code >= max(2, len(lines) * 0.5) or (len(lines) == 1 and _CODE_LINE.search(lines[0]) is not None
                                                  and len(lines[0].split()) < 4)


def payload_kind(text: str) -> str:
    """The kind of pasted material: code, legal, table, email, transcript or prose."""
    sample = text[:KIND_SAMPLE_CHARS]
    lines = [line for line in sample.splitlines() if line.strip()]
    n = max(len(lines), 1)
    if len(_EMAIL_HEADER.findall(sample)) >= 2 or len(_EMAIL_MARK.findall(sample)) >= 2:
        return "email"
    speakers = len(_SPEAKER_LINE.findall(sample))
    if (speakers >= 3 and speakers >= n * 0.4) or len(_TIMESTAMP.findall(sample)) >= max(3, n * 0.4):
        return "transcript"
    if "```" in sample:
        return "code"
    short_lines = sum(len(line.split()) for line in lines[:200]) / min(n, 200) <= 15
    for sep in (",", "\t", "|", ";"):
        if sep in ",;" and not short_lines:
            break  # commas in long lines are sentences, not columns
        counts = [line.count(sep) for line in lines[:200]]
        common = max(set(counts), key=counts.count) if counts else 0
        if common >= 2 and counts.count(common) >= max(3, 0.6 * len(counts)):
            return "table"
    code = sum(bool(_CODE_LINE.search(line)) for line in lines)
    if code >= max(3, n * 0.3):
        return "code"
    words = max(len(sample.split()), 1)
    if len(_LEGAL.findall(sample)) * 100 / words >= 1.5:
        return "legal"
    return "prose"


_GREETING = _lazy(r"^\W*(hi|hello|hey|dear\s+\w+|thanks|thank\s+you|thx|cheers|best|regards|kind\s+regards)\b[\w\s,!.]{0,20}$",
                       re.IGNORECASE)


def _edge_pieces(paragraph: str) -> list[str]:
    """A first or last paragraph as lines, a long line as sentences: the ask may be any one of them."""
    pieces: list[str] = []
    for line in paragraph.strip().splitlines():
        if not line.strip() or _GREETING.match(line):
            continue
        if len(line.split()) > MAX_INSTRUCTION_WORDS:
            pieces += [s for s in _SENTENCE_END.split(line.strip()) if s.strip()]
        else:
            pieces.append(line)
    return pieces


def _units(text: str) -> tuple[str | None, str, str | None]:
    """(first piece, middle, last piece): the candidates for the ask at each end and what lies between."""
    paragraphs = _paragraphs(text)
    if len(paragraphs) == 1:
        pieces = _edge_pieces(paragraphs[0])
        if len(pieces) < 2:
            return None, "\n".join(pieces), None
        return pieces[0], "\n".join(pieces[1:-1]), pieces[-1]
    first, last = _edge_pieces(paragraphs[0]), _edge_pieces(paragraphs[-1])
    middle = [*first[1:], *paragraphs[1:-1], *last[:-1]]
    return (first[0] if first else None), "\n".join(middle), (last[-1] if last else None)


def split_instruction(text: str) -> tuple[str | None, str | None]:
    """(instruction, payload kind) for long or multi-line input; (None, None) when the text is all instruction.

    The instruction is the short asking piece (line or sentence) at the start and/or the end; the
    payload is what lies between. A huge paste is read at its two ends only.
    """
    stripped = text.strip()
    huge = len(stripped) > 2 * EDGE_CHARS + 100
    words = len(stripped.split()) if not huge else PASTE_WORDS + 1
    multi = "\n" in stripped
    if not multi and words <= PASTE_WORDS:
        return None, None
    if huge:
        head, tail = stripped[:EDGE_CHARS], stripped[-EDGE_CHARS:]
        # Cut at line breaks (or sentence ends) so that no edge piece is half a line.
        head = head[: head.rfind("\n")] if "\n" in head else head[: head.rfind(". ") + 1] or head
        tail = tail[tail.find("\n") + 1:] if "\n" in tail else tail[tail.find(". ") + 2:]
        first, _, _ = _units(head + "\n\n.")
        _, _, last = _units(".\n\n" + tail)
        middle = stripped[len(head): len(head) + KIND_SAMPLE_CHARS]
    else:
        first, middle, last = _units(stripped)
    if first is None and last is None:
        return None, None
    if words <= SHORT_WORDS and not _looks_structured(middle):
        return None, None  # a few lines that all describe the task
    chosen = []
    payload = [middle]
    for piece in (first, last):
        if piece is None:
            continue
        if len(piece.split()) <= MAX_INSTRUCTION_WORDS and _asks(piece):
            chosen.append(" ".join(piece.split()))
        else:
            payload.append(piece)
    payload_text = "\n".join(p for p in payload if p)
    kind = payload_kind(payload_text) if payload_text.strip() else None
    return (" ".join(chosen) if chosen else None), kind


# --- questions about models, negations, role-play ------------------------------------------------

_MODEL = (r"(local\s+|open[- ]source\s+|open[- ]weights?\s+|ollama\s+|small\s+|good\s+|free\s+|ai\s+|llm\s+|"
          r"offline\s+)*(llms?|models?|ais?|language models?)")
_META = [
    _lazy(rf"^\W*(which|what|what's|whats)\s+(is\s+the\s+)?(best\s+)?{_MODEL}\s+"
               r"(should|shall|would|could|can|do)\s+(i|we|you)\s+(use|pick|choose|run|install|get)\s+(for|to|when)\s+(?P<x>.+)$",
               re.IGNORECASE),
    _lazy(rf"^\W*(which|what|what's|whats)\s+(is\s+|are\s+)?(the\s+)?(best\s+|right\s+|good\s+|ideal\s+)?{_MODEL}\s+"
               r"(to\s+use\s+|to\s+run\s+|would\s+you\s+recommend\s+|do\s+you\s+recommend\s+|is\s+best\s+|works\s+best\s+|is\s+good\s+)?"
               r"(for|to|when)\s+(?P<x>.+)$", re.IGNORECASE),
    _lazy(rf"^\W*(the\s+)?(best|good|recommended|top|fastest)\s+{_MODEL}\s+(for|to)\s+(?P<x>.+)$", re.IGNORECASE),
    _lazy(rf"^\W*(can\s+you\s+|could\s+you\s+|please\s+)?(recommend|suggest|pick|choose)\s+(me\s+)?(a|an|the)\s+(\w+\s+)?{_MODEL}\s+"
               r"(for|to)\s+(?P<x>.+)$", re.IGNORECASE),
    _lazy(rf"^\W*(i\s+need|i\s+want|looking\s+for)\s+(a|an)\s+(\w+\s+)?{_MODEL}\s+(for|to|that\s+can|that\s+is\s+good\s+at)\s+(?P<x>.+)$",
               re.IGNORECASE),
]
_NEGATION = _lazy(
    r"(\b(i\s+)?(do\s+not|don't|dont|never)\s+\w+\s+|\bno\s+need\s+(for|to)\s+|\bnot\s+(a|an|the|looking\s+for)\s+|"
    r"^\W*not\s+|,\s*not\s+|\b(i'm|i\s+am)\s+not\s+(asking|looking)\s+for\s+|"
    r"^\W*no\s+|,\s*no\s+|\bwithout\s+(any\s+)?|\binstead\s+of\s+|\brather\s+than\s+|\bnothing\s+to\s+do\s+with\s+|"
    r"\bforget\s+(about\s+)?|\bskip\s+the\s+)"
    r"[^,.;!?]*?(?=\s*(,|;|\.|!|\bjust\b|\bbut\b|\bonly\b|\bplease\b|\binstead\b|$))",
    re.IGNORECASE,
)
_ROLE = _lazy(
    r"^\W*(you\s+are|you're|act\s+as|pretend\s+(to\s+be|you\s+are)|imagine\s+you\s+are|as\s+an?\s+(expert|experienced|senior)|"
    r"take\s+the\s+role\s+of|i\s+want\s+you\s+to\s+act\s+as)\b[^.!?\n]*[.!?\n]\s*",
    re.IGNORECASE,
)


# Substring pre-checks: most texts contain none of these, and skip the long patterns below.
_META_HINTS = ("model", "llm", "ai")
_NEGATION_HINTS = ("no", "n't", "dont", "never", "without", "instead", "rather", "forget", "skip")


def meta_subject(text: str) -> str | None:
    """X in "which model should I use for X" / "best local LLM for X"; None for other texts."""
    lowered = text.lower()
    if len(text) > 400 or not any(hint in lowered for hint in _META_HINTS):
        return None
    for pattern in _META:
        m = pattern.match(text.strip())
        if m:
            subject = str(m.group("x")).strip(" ?.!")
            if subject:
                return subject
    return None


def drop_negated(text: str) -> str:
    """The request without the parts it declines: "no SQL please, just a poem" -> "a poem"."""
    lowered = text.lower()
    if not any(hint in lowered for hint in _NEGATION_HINTS):
        return text
    kept, count = _NEGATION.subn(" ", text)
    if not count:
        return text
    kept = " ".join(kept.split()).strip(" ,;")
    kept = re.sub(r"^((please|just|only|but)\b\W*)+", "", kept, flags=re.IGNORECASE)
    return kept if len(kept.split()) >= 2 and kept != text else text


_ROLE_HINTS = ("you", "act", "pretend", "imagine", "as a", "as an", "take", "i want you")


def drop_role(text: str) -> str:
    """A role-play preamble ("You are a senior analyst with 20 years ...") before the actual request."""
    if not text.lstrip(" \"'*#>-").lower().startswith(_ROLE_HINTS):
        return text
    rest = text
    for _ in range(3):  # "You are X. You have Y. You care about Z." — up to three role sentences
        m = _ROLE.match(rest)
        if not m:
            break
        rest = rest[m.end():]
        rest = re.sub(r"^\W*(you\s+(have|care|know|always|never|speak|write|work)\b[^.!?\n]*[.!?\n]\s*)+", "", rest,
                      flags=re.IGNORECASE)
    return rest if len(rest.split()) >= 3 and rest != text else text


# Two asks in one request ("write a scraper and then a blog post about what we found"): the first
# decides, the second is a second signal. Split at "and then" / ", then", or at "and" before "a/an
# <noun>" or before a verb that starts a deliverable of another kind ("proofread this and fix ...",
# "read this and tell me ..." go on with the same task, and are one ask); only in a short request,
# and only into two parts of some length.
_REQUEST_VERBS = (
    r"write|draft|compose|create|build|design|brainstorm|estimate|plan|generate|implement|code|outline|"
    r"chart|plot|visuali[sz]e|come\s+up\s+with|send|email"
)
_SECOND_ASK = _lazy(
    rf"\s*(?:,?\s+and\s+then\s+|[,;.]\s*then\s+|,?\s+and\s+(?=(?:also\s+)?(?:{_REQUEST_VERBS})\b)|"
    r",?\s+and\s+(?=(?:also\s+)?(?:a|an)\s+\w+))",
    re.IGNORECASE,
)
ASKS_MAX_CHARS = 400


def split_asks(text: str) -> tuple[str, str] | None:
    """(first ask, second ask) of a short request that makes two, else None."""
    lowered = text.lower()
    if len(text) > ASKS_MAX_CHARS or (" and " not in lowered and "then" not in lowered):
        return None
    parts = _SECOND_ASK.split(text, maxsplit=1)
    if len(parts) == 2 and len(parts[0].split()) >= 3 and len(parts[1].split()) >= 3:
        return parts[0].strip(), parts[1].strip()
    return None


def _declined(part: str) -> bool:
    """Is this ask one the user declines ("skip the brainstorming", "no SQL")?"""
    lowered = part.lower()
    if not any(hint in lowered for hint in _NEGATION_HINTS):
        return False
    m = _NEGATION.search(part)
    return m is not None and m.start() <= 2 and m.end() - m.start() >= 0.6 * len(part.strip())


# --- the whole reading ---------------------------------------------------------------------------


def read(raw: str, *, glossed: bool = True) -> Reading:
    """Everything decided before the head sees the text.

    English (or an undetermined keyword) is read as it is; German, Spanish and French through the
    word-for-word gloss when `glossed`; any other language is not supported.
    """
    if len(raw) > KEEP_HEAD + KEEP_TAIL + 1_000:
        # A huge paste is read at its two ends and the start of its middle (split_instruction); the
        # rest is never looked at, so it is not split, joined or copied either.
        raw = raw[:KEEP_HEAD] + "\n\n" + raw[-KEEP_TAIL:]
    text = " ".join(raw.split())
    instruction, kind = split_instruction(raw)
    ask = (instruction or text)[:READ_CHARS]
    language = detect_language(ask)
    focus = instruction
    if language not in (ENGLISH, UNDETERMINED):
        if glossed and language in lexicon.LANGUAGES:
            return Reading(text=text, model_text=lexicon.gloss(ask, language), focus=focus, payload_kind=kind,
                           language=language, language_supported=True)
        return Reading(text=text, model_text=ask, focus=focus, payload_kind=kind, language=language,
                       language_supported=False)
    subject = meta_subject(ask)
    second = None
    if subject is not None:
        focus = subject
    else:
        cleaned = drop_role(ask)
        asks = split_asks(cleaned)
        if asks is not None and _declined(asks[0]):
            cleaned = asks[1]  # "skip the brainstorming and design a caching layer"
        elif asks is not None and not _declined(asks[1]):
            cleaned, second = asks
        cleaned = drop_negated(cleaned)
        if cleaned != ask:
            focus = cleaned
    model_text = focus if focus is not None else text[:READ_CHARS]
    return Reading(text=text, model_text=model_text, focus=focus, payload_kind=kind, language=language,
                   language_supported=True, second_ask=second)
