"""Cloze items from documents the learner added (``tutor add``): deterministic, answer known.

For each user document, the key sentences are the ones richest in the document's recurring
terms; in each, the most distinctive term (a number if there is one, else the term the document
repeats most, preferring longer and capitalised words, katakana or kanji compounds for
Japanese) becomes the blank. Ids derive from the document id and the sentence, so an unchanged
sentence keeps its progress when the document is re-added. Items are marked ``generated``.
"""
from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from ..config import Settings
from ..ingest import language_of, split_sentences
from .bank import BLANK, Item

MAX_PER_DOC = 5
PREFIX = "gen-"
_STOP = set("""a about above after again against all also although among an and any are as at be
because been before being below between both but by can could did do does doing down during each
either few for from further had has have having he her here hers him his how however i if in into
is it its itself just many may might more most much must my no nor not now of off on once only or
other our out over own same she should since so some such than that the their theirs them then
there these they this those through thus to too under until up upon us very was we were what when
where whether which while who whom whose why will with within without would yet you your one two
three first second new used using use make makes made like also often well even still""".split())
_NUMBER = re.compile(r"(?<![\w.\-:/])(\d+(?:[.,]\d+)*(?:\s?%|x\b)?)(?![\w])")
_LATIN = re.compile(r"(?<![\w\-.:/])[A-Za-z][A-Za-z\-]{3,}[A-Za-z](?![\w\-])")
_ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "vs.", "cf.", "Fig.", "No.", "Dr.", "Mr.", "Ms.")
_KATAKANA = re.compile(r"[\u30a0-\u30ffー]{3,}")
_KANJI = re.compile(r"[\u4e00-\u9fff]{2,6}")


class _Catalog(Protocol):
    def documents(self) -> Sequence: ...  # DocInfo: doc_id, title, origin, claims
    def chunks_of(self, doc_id: str) -> Sequence: ...  # StoredChunk: text


def generated_items(index: _Catalog, max_per_doc: int = MAX_PER_DOC) -> list[Item]:
    """Cloze items for every document the learner added (origin ``user``)."""
    items: list[Item] = []
    for doc in index.documents():
        if doc.origin != "user":
            continue
        texts = [c.text for c in index.chunks_of(doc.doc_id)]
        items += items_for_document(doc.doc_id, doc.title, texts, doc.claims, max_per_doc)
    return items


def _terms(sentence: str) -> list[str]:
    found = [m.group() for m in _LATIN.finditer(sentence) if m.group().lower() not in _STOP]
    found += _KATAKANA.findall(sentence) + _KANJI.findall(sentence)
    return found


def _sentences(texts: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for text in texts:
        merged: list[str] = []
        for s in split_sentences(text):
            if merged and merged[-1].endswith(_ABBREVIATIONS):  # "Hoffmann et al. 2022, ..."
                merged[-1] += " " + s
            else:
                merged.append(s)
        for s in merged:
            if s not in seen and s in text:  # consecutive chunks overlap by a sentence
                seen.add(s)
                out.append(s)
    return out


def _fits(sentence: str) -> bool:
    if BLANK in sentence or sentence.startswith(("#", "|", "```")):
        return False
    if language_of(sentence) == "ja":
        return 15 <= len(sentence) <= 140
    return 6 <= len(sentence.split()) <= 45


def _numbers(sentence: str) -> list[str]:
    """Numbers worth asking for: not list markers like [1], not parts of names like GPT-4."""
    return [m.group(1) for m in _NUMBER.finditer(sentence)
            if (len(m.group(1).strip("%x ").replace(",", "")) >= 2 or "%" in m.group(1) or "." in m.group(1))
            and not sentence[:m.start()].rstrip().endswith("et al.")]  # not a citation's year


def _blank_term(sentence: str, freq: Counter, df: Counter, n_sentences: int) -> str | None:
    numbers = _numbers(sentence)
    if numbers:
        return max(numbers, key=lambda n: (len(n.strip("%x ")), -sentence.index(n)))
    candidates = _terms(sentence)
    if not candidates:
        return None

    def weight(term: str) -> tuple[float, int]:
        # recurring in the document (tf) but not in every sentence (idf): a key term
        key = term.lower()
        tf = math.sqrt(freq[key]) * (0.5 if freq[key] == 1 else 1.0)
        idf = math.log(max(1.0, n_sentences / df[key]))
        capital = 1.5 if term[:1].isupper() and not sentence.startswith(term) else 1.0
        return tf * idf * capital * math.log(1 + len(term)), -sentence.index(term)

    return max(candidates, key=weight)


def items_for_document(doc_id: str, title: str, texts: Sequence[str], claims: Sequence[int] = (),
                       max_items: int = MAX_PER_DOC) -> list[Item]:
    sentences = _sentences(texts)
    freq: Counter[str] = Counter(t.lower() for s in sentences for t in _terms(s))
    df: Counter[str] = Counter(t for s in sentences for t in {x.lower() for x in _terms(s)})
    ranked = []
    for pos, sentence in enumerate(sentences):
        if not _fits(sentence):
            continue
        term = _blank_term(sentence, freq, df, len(sentences))
        if not term:
            continue
        terms = {t.lower() for t in _terms(sentence)}
        score = sum(math.log(1 + freq[t]) for t in terms) / math.sqrt(1 + len(terms))
        score += 0.5 if _numbers(sentence) else 0.0
        ranked.append((score, -pos, sentence, term))
    claim = claims[0] if len(claims) == 1 else None
    items: list[tuple[int, Item]] = []
    for _, neg_pos, sentence, term in sorted(ranked, reverse=True):
        item = _cloze(doc_id, title, sentence, term, claim)
        if item is not None:
            items.append((-neg_pos, item))
        if len(items) == max_items:
            break
    return [item for _, item in sorted(items, key=lambda x: x[0])]  # in document order


def _cloze(doc_id: str, title: str, sentence: str, term: str, claim: int | None) -> Item | None:
    lang = language_of(sentence)
    if re.search(r"[A-Za-z0-9]", term):  # whole words or numbers only, never inside a name
        pattern = r"(?<![\w.\-:/])" + re.escape(term) + r"(?![\w])"
    else:
        pattern = re.escape(term)
    blanked = re.sub(pattern, BLANK, sentence, flags=re.IGNORECASE)
    if BLANK not in blanked:
        return None
    digest = hashlib.sha1(f"{doc_id}\0{sentence}".encode()).hexdigest()[:12]
    answer = term.strip()
    if lang == "ja":
        prompt = f"「{title}」より：{blanked}"
        hints = (f"{len(answer)}文字で、「{answer[0]}」で始まります。",
                 f"答えの形：{_mask(answer)}")
        explanation = f"「{title}」の原文：{sentence}"
    else:
        prompt = f"From “{title}”: {blanked}"
        kind = "a number" if any(c.isdigit() for c in answer) else f"{len(answer)} letters"
        hints = (f"It is {kind}, starting with “{answer[0]}”.", f"Its shape: {_mask(answer)}")
        explanation = f"The sentence in “{title}”: {sentence}"
    return Item(id=f"{PREFIX}{digest}", topic=doc_id, claim=claim, kind="cloze", lang=lang,
                prompt=prompt, answer=answer, explanation=explanation, hints=hints, doc_id=doc_id,
                quote=sentence, generated=True, origin=f"generated from {doc_id}")


def _mask(term: str) -> str:
    if len(term) <= 2:
        return term[0] + "＿" * (len(term) - 1) if not term.isascii() else term[0] + "_" * (len(term) - 1)
    fill = "＿" if not term.isascii() else "_"
    return term[0] + fill * (len(term) - 2) + term[-1]


def has_user_documents(home: Path) -> bool:
    """Whether the index in ``home`` holds documents the learner added, without opening the
    vector store (a read-only look at the catalog; True when unsure, so the caller asks the
    index itself)."""
    path = home / "index.sqlite"
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT 1 FROM documents WHERE origin='user' LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return True


def items_for_settings(settings: Settings) -> list[Item]:
    """Generated items for the learner's documents in ``settings.home`` ([] when there are none)."""
    if not has_user_documents(settings.home):
        return []
    from ..index import Index

    return generated_items(Index(settings))
