"""Text normalisation and matching used by the grader: pure functions, no model.

Everything that decides a verdict lives here or in :mod:`tutor.quiz.grade`, and all of it is
deterministic: NFKC folding (full-width digits and letters become half-width), lower case,
one long-vowel mark, no punctuation; numbers compared by value; edit distance for typos.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_LONG_VOWELS = str.maketrans({c: "ー" for c in "ｰ－―‐─━〜~"})
_APOSTROPHES = str.maketrans({c: "" for c in "'’`´"})
# punctuation and symbols (but not letters, digits or CJK) become spaces
_PUNCT = re.compile(r"[^\w\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+", re.UNICODE)


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))


def fold(text: str) -> str:
    """NFKC, lower case, one long-vowel mark, apostrophes dropped ("can't" -> "cant")."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text.translate(_LONG_VOWELS).translate(_APOSTROPHES)


def words_text(text: str) -> str:
    """Folded text with punctuation turned into single spaces: the form terms are matched in."""
    return " ".join(_PUNCT.sub(" ", fold(text)).replace("_", " ").split())


_CLAUSE = re.compile(r"[.,;:!?()\[\]{}\"“”。、；：！？（）「」『』]+|\s[-–—]+\s|\bbut\b|\bhowever\b|\bwhile\b|\bwhereas\b|が、|けど|けれど")


def clause_text(text: str) -> str:
    """Like :func:`words_text`, with clause breaks kept as ``|`` so that a negation in one
    clause ("skills are not: ...") does not reach into the next."""
    parts = (" ".join(_PUNCT.sub(" ", p).replace("_", " ").split()) for p in _CLAUSE.split(fold(text)))
    return " | ".join(p for p in parts if p)


def key(text: str) -> str:
    """The comparison key for short answers: folded, no punctuation, no spaces, no 長音."""
    return words_text(text).replace(" ", "").replace("ー", "")


# ---------------------------------------------------------------- numbers

_MULT = {"万": 1e4, "億": 1e8, "兆": 1e12, "k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6,
         "b": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12}
_FILLER = re.compile(r"^(about|approximately|approx|roughly|around|nearly|almost|some|~|≈|約|およそ|"
                     r"だいたい|大体)\s*|\s*(程度|くらい|ぐらい|前後|ほど|倍|times|x|×|fold)$")
_NUMBER = re.compile(
    r"^(?P<num>[-+]?(\d+(\.\d*)?|\.\d+))\s*(?:(e|×\s*10\^|x\s*10\^|\*\s*10\^|\s*\*\*\s*)"
    r"(?P<exp>[-+]?\d+))?\s*(?P<mult>万|億|兆|thousand|million|billion|trillion|k|m|b|t)?\s*"
    r"(?P<pct>%|percent|パーセント)?$")


def parse_number(text: str) -> tuple[float, bool] | None:
    """The value of an answer that is just a number (``0.076``, ``.076``, ``10,000x``, ``1万``,
    ``8.8e13``, ``38.2%``), with whether it carried a percent sign; None for anything else."""
    t = unicodedata.normalize("NFKC", text).strip().lower().replace(",", "").replace("，", "")
    for _ in range(3):
        stripped = _FILLER.sub("", t).strip()
        if stripped == t:
            break
        t = stripped
    m = _NUMBER.match(t)
    if not m:
        return None
    value = float(m["num"])
    if m["exp"]:
        value *= 10 ** int(m["exp"])
    if m["mult"]:
        value *= _MULT[m["mult"]]
    return value, bool(m["pct"])


def same_number(a: str, b: str) -> bool:
    pa, pb = parse_number(a), parse_number(b)
    if pa is None or pb is None:
        return False
    (va, _), (vb, _) = pa, pb
    return abs(va - vb) <= 1e-9 * max(1.0, abs(va), abs(vb))


def is_numeric(text: str) -> bool:
    return parse_number(text) is not None


# ---------------------------------------------------------------- typos

def edit_distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance; stops early (returns limit + 1) once it must exceed ``limit``."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    if limit is not None and len(a) - len(b) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if limit is not None and min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


TYPO_MIN_CHARS = 6


def typo_budget(expected_key: str) -> int:
    """Edits allowed for an answer: none under 6 characters or for numbers, else 1 per 8."""
    if len(expected_key) < TYPO_MIN_CHARS or re.search(r"\d", expected_key):
        return 0
    return max(1, len(expected_key) // 8)


def close_enough(answer_key: str, expected_key: str) -> bool:
    budget = typo_budget(expected_key)
    return budget > 0 and edit_distance(answer_key, expected_key, budget) <= budget


# ---------------------------------------------------------------- terms in free text

NEGATORS = {"not", "no", "never", "cannot", "cant", "isnt", "arent", "wasnt", "werent", "doesnt",
            "dont", "didnt", "wont", "wouldnt", "shouldnt", "couldnt", "neither", "nor", "hardly",
            "barely", "nothing", "none", "n't"}
JA_NEGATIONS = ("ない", "なく", "ません", "なかっ", "無い", "無く", "せず", "きず", "らず", "れず",
                "わず", "えず")


@dataclass(frozen=True)
class Hit:
    term: str
    start: int
    negated: bool


def find_term(text: str, term: str, fuzzy: bool = True) -> list[Hit]:
    """Occurrences of ``term`` (through :func:`words_text`) in ``text`` (through
    :func:`clause_text`).

    Latin terms are stems matched at a word start ("unpredictab" finds "unpredictably");
    CJK terms are substrings. A hit is *negated* when one of the four words before it in the
    same clause is a negator ("not predictable"), or, in Japanese, when a negative ending
    follows within six characters ("予測" + "できない"). Single Latin words of 8+ letters
    also match with one typo per 8 letters.
    """
    hits: list[Hit] = []
    if not term:
        return hits
    if has_cjk(term):
        pattern = re.compile(re.escape(term).replace(r"\ ", r"\s*"))
    else:
        pattern = re.compile(r"(?<![\w])" + re.escape(term).replace(r"\ ", r"\s+"))
    for m in pattern.finditer(text):
        hits.append(Hit(term, m.start(), _negated(text, m.start(), m.end())))
    if not hits and fuzzy and " " not in term and not has_cjk(term) and len(term) >= 8:
        budget = max(1, len(term) // 8)
        for m in re.finditer(r"\w+", text):
            word = m.group()
            if len(word) >= len(term) - budget and any(
                    edit_distance(word[:len(term) + d], term, budget) <= budget for d in (-1, 0, 1)):
                hits.append(Hit(term, m.start(), _negated(text, m.start(), m.end())))
    return hits


def _negated(text: str, start: int, end: int) -> bool:
    before = text[:start].split("|")[-1].split()[-4:]
    if any(w in NEGATORS for w in before):
        return True
    if has_cjk(text[max(0, end - 1):end]):
        # a negative ending within the next few characters of the same clause: 予測 + できない
        after = text[end:end + 8].split("|")[0].replace(" ", "")[:6]
        return any(neg in after for neg in JA_NEGATIONS)
    return False


def found(text: str, terms: Iterable[str]) -> str | None:
    """The first term with an occurrence that is not negated, or None.

    A term written ``!term`` asks for the opposite: it counts only where negated, so
    ``!guarantee`` finds "none of them guarantees" and ``!保証`` finds 保証できない.
    """
    for term in terms:
        want_negated = term.startswith("!")
        t = words_text(term.lstrip("!"))
        if any(h.negated == want_negated for h in find_term(text, t)):
            return term
    return None
