"""The course glossary (``corpus/notes/glossary.md``): every spelling a learner may use for a term.

Each ``## `` section's first non-empty line is ``Terms: a; b; c``. A question that writes one
spelling (カプラン, 迎合) is also searched, and judged covered, under the others (Kaplan,
sycophancy): :meth:`Glossary.readings` gives the question re-read in each script, and the
lexical leg and the coverage decision use them. The content belongs to the corpus; this module
only reads the format, so any glossary written in it works.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .ingest import parse_front_matter
from .lexical import tokenize

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_KATAKANA = re.compile(r"[\u30a0-\u30ff]")


@dataclass(frozen=True)
class Term:
    heading: str
    spellings: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def latin(self) -> tuple[str, ...]:
        return tuple(s for s in self.spellings if not _CJK.search(s))

    @property
    def japanese(self) -> tuple[str, ...]:
        return tuple(s for s in self.spellings if _CJK.search(s))

    @property
    def is_person(self) -> bool:
        """An author's entry (Kaplan, ウェイ, Bowman): spelled "Kaplan et al." or with an initial
        ("Samuel R. Bowman")."""
        return any(s.rstrip(".").lower().endswith("et al") or re.search(r"\b[A-Z]\. [A-Z]", s)
                   for s in self.spellings)

    def named_in(self, text: str) -> bool:
        """Whether ``text`` writes the term in any spelling: a Latin one as a whole word
        ("Burns", not "burnside"), a Japanese one anywhere (バーンズ)."""
        t = unicodedata.normalize("NFKC", text)
        return any(re.search(rf"(?<![A-Za-z]){re.escape(s)}(?![A-Za-z])", t) for s in self.latin) \
            or any(s in t for s in self.japanese)

    def is_entry(self, hit_source: str, hit_location: str) -> bool:
        """Whether a chunk (its source and section) is this term's glossary entry."""
        return is_glossary(hit_source) and hit_location.rstrip().endswith(self.heading)


@dataclass(frozen=True)
class Match:
    term: Term
    spelling: str  # as written in the glossary
    start: int  # in the NFKC-normalised question
    end: int


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def parse(text: str) -> list[Term]:
    """The terms of a glossary note; sections without a ``Terms:`` line are skipped."""
    _, body = parse_front_matter(text)
    terms: list[Term] = []
    for section in re.split(r"^##\s+", body, flags=re.M)[1:]:
        heading, _, rest = section.partition("\n")
        lines = [ln.strip() for ln in rest.splitlines() if ln.strip()]
        if not lines or not lines[0].lower().startswith("terms:"):
            continue
        spellings = tuple(dict.fromkeys(s.strip() for s in lines[0].split(":", 1)[1].split(";")
                                        if s.strip()))
        notes: tuple[str, ...] = ()
        for ln in lines[1:]:
            if ln.lower().startswith("notes:"):
                notes = tuple(n.strip() for n in ln.split(":", 1)[1].split(",") if n.strip())
        if spellings:
            terms.append(Term(heading.strip(), spellings, notes))
    return terms


GLOSSARY_PATH = "notes/glossary.md"  # inside the corpus folder
GLOSSARY_ID = "glossary"  # its document id (front matter)


def is_glossary(source: str) -> bool:
    """Whether a hit's source (a corpus path) is the glossary note."""
    return source.replace("\\", "/").endswith(GLOSSARY_PATH)


def is_glossary_line(sentence: str) -> bool:
    """``Terms: …`` and ``Notes: …`` lines are data for this module, not prose to quote."""
    return bool(re.match(r"\s*(terms|notes)\s*:", sentence, flags=re.I))


@dataclass
class Glossary:
    terms: list[Term] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Glossary:
        """The glossary at ``path``; an empty one when the corpus has none (or it is unreadable)."""
        try:
            return cls(parse(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            return cls([])

    def matches(self, question: str) -> list[Match]:
        """Spellings the question uses, longest first where two overlap."""
        q = _norm(question)
        q_tokens = tokenize(q)
        found: list[Match] = []
        for term in self.terms:
            for spelling in sorted(term.spellings, key=len, reverse=True):
                s = _norm(spelling)
                span = _find(q, s, q_tokens)
                if span is not None:
                    found.append(Match(term, spelling, *span))
                    break
        found.sort(key=lambda m: (m.start, -(m.end - m.start)))
        kept: list[Match] = []
        for m in found:  # "GPT-4" inside a longer match, or one span claimed by two terms
            if kept and m.start < kept[-1].end:
                continue
            kept.append(m)
        return kept

    def readings(self, question: str, expand_acronyms: bool = False) -> list[str]:
        """The question as written, then re-read with each matched term in English and in
        Japanese: 「カプランの論文」 -> 「kaplanの論文」. Only the readings that differ. The
        Japanese reading keeps an acronym (RLHF, MMLU) as written, as Japanese text does, unless
        ``expand_acronyms``: 「RLHFで直せないの？」 re-read as 「人間のフィードバックによる強化学習で
        …」 matched the note's definition of RLHF on ten bigrams, not its sentence on 迎合 and RLHF."""
        q = _norm(question)
        found = self.matches(question)
        out = [q]
        for pick in (_latin, _japanese):
            text, last = "", 0
            for m in found:
                keep = pick is _japanese and not expand_acronyms and _ACRONYM.fullmatch(m.spelling)
                alt = pick(m.term)
                text += q[last:m.start] + (f" {_norm(alt[0])} " if alt and not keep
                                           else q[m.start:m.end])
                last = m.end
            text += q[last:]
            if text not in out:
                out.append(text)
        return out

    def explain(self, question: str) -> list[str]:
        """One line per matched term, for the Sources panel: "カプラン = Kaplan"."""
        out = []
        for m in self.matches(question):
            others = [s for s in m.term.spellings if _CJK.search(s) != _CJK.search(m.spelling)]
            if others:
                out.append(f"{m.spelling} = {others[0]}")
        return out


def _latin(term: Term) -> tuple[str, ...]:
    return term.latin


def _japanese(term: Term) -> tuple[str, ...]:
    return term.japanese


_ACRONYM = re.compile(r"[A-Z][A-Z0-9]+(?:-[A-Z0-9]+)*")


def _find(q: str, s: str, q_tokens: list[str]) -> tuple[int, int] | None:
    """Where spelling ``s`` occurs in question ``q``: Latin spellings as whole words (so
    "tokens" finds "token" and "wei" is not found in "weights"), katakana ones not inside a longer
    katakana word (ウェイ is not ウェイト), kanji ones anywhere."""
    if not s:
        return None
    if _CJK.search(s):
        start = 0
        while (i := q.find(s, start)) >= 0:
            j = i + len(s)
            before, after = q[i - 1:i], q[j:j + 1]
            if not (_KATAKANA.match(s[0]) and _KATAKANA.match(before)) and \
                    not (_KATAKANA.match(s[-1]) and _KATAKANA.match(after)):
                return i, j
            start = i + 1
        return None
    s_tokens = tokenize(s)
    if not s_tokens:
        m = re.search(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])", q)
        return (m.start(), m.end()) if m else None
    n = len(s_tokens)
    if not any(q_tokens[i:i + n] == s_tokens for i in range(len(q_tokens) - n + 1)):
        return None
    # locate the words in the text: a regex over the spelling's words with any separators
    words = re.findall(r"[a-z0-9]+", s)
    pattern = r"(?<![a-z0-9])" + r"[^a-z0-9]{0,3}".join(re.escape(w) + r"[a-z]*" for w in words)
    m = re.search(pattern, q)
    return (m.start(), m.end()) if m else None
