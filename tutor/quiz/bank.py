"""The question bank: TOML files in ``corpus/quiz/``, loaded into :class:`Item` objects.

One file per topic (``claim-1.toml`` ... ``claim-8.toml``, ``kaplan-2020.toml``,
``bubeck-2023.toml``). A file sets ``topic`` and a default ``claim``, then lists ``[[item]]``
tables. Every item has a hand-written ``id`` that never changes: progress is keyed by it, so
the wording can be edited freely. Three kinds:

``multiple_choice``
    ``options = [{text, correct = true}, {text, why}, ...]``: four options, one correct, each
    distractor with ``why`` (shown when a learner picks it). Shown in a fixed order shuffled
    by the id, so the right answer is not always first.
``cloze``
    ``prompt`` holds ``____`` for the blank; ``answer`` plus ``accept`` alternatives.
``short_answer``
    ``answer`` is the reference answer, ``references`` more of them (other wordings or the
    other language), ``concepts = [{name, terms, required}]`` the key ideas with their
    synonyms in English and Japanese (terms are word stems: "predictab" finds "predictably";
    a term preceded by "not"/"no"/... or followed by ない does not count, so a concept that is
    itself a negation spells the negation out: "not reliab", "保証できな"), ``contradicts``
    phrases that state the misconception.

Every item has two ``hints``, an ``explanation`` and ``source = {doc, quote}``: a document id
of the corpus and a verbatim passage of it (a test checks the passage is there). Cloze and
short items list ``wrong = [{text, why}]``: known wrong answers, graded "wrong" by the tests.
"""
from __future__ import annotations

import hashlib
import random
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..ingest import parse_front_matter, slug

KINDS = ("multiple_choice", "cloze", "short_answer")
BLANK = "____"
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")


class BankError(Exception):
    """A bank file is unreadable or an item is malformed; the message names file and item."""


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool = False
    why: str = ""


@dataclass(frozen=True)
class Concept:
    name: str
    terms: tuple[str, ...]
    required: bool = False  # an answer without it is never graded correct


@dataclass(frozen=True)
class WrongAnswer:
    text: str
    why: str = ""


@dataclass(frozen=True)
class Item:
    id: str
    topic: str
    claim: int | None
    kind: str
    lang: str
    prompt: str
    answer: str  # multiple choice: the right option's text
    explanation: str
    hints: tuple[str, ...]
    doc_id: str
    quote: str
    options: tuple[Option, ...] = ()  # in display order
    accept: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    concepts: tuple[Concept, ...] = ()
    contradicts: tuple[str, ...] = ()
    wrong: tuple[WrongAnswer, ...] = ()
    generated: bool = False
    origin: str = ""  # the bank file, or "generated from <doc>"

    @property
    def choices(self) -> list[str]:
        return [o.text for o in self.options]

    @property
    def correct_index(self) -> int | None:
        return next((i for i, o in enumerate(self.options) if o.correct), None)

    @property
    def all_references(self) -> list[str]:
        return [self.answer, *self.references]

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "claim": self.claim, "kind": self.kind,
                                  "prompt": self.prompt}
        if self.kind == "multiple_choice":
            out["choices"] = self.choices
        out.update({"answer": self.answer, "explanation": self.explanation,
                    "source": {"doc_id": self.doc_id, "quote": self.quote},
                    "topic": self.topic, "lang": self.lang, "hints": list(self.hints),
                    "generated": self.generated})
        if self.accept:
            out["accept"] = list(self.accept)
        return out


@dataclass
class Bank:
    items: list[Item] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.by_id = {i.id: i for i in self.items}

    def get(self, item_id: str) -> Item | None:
        return self.by_id.get(item_id)

    def for_claim(self, claim: int) -> list[Item]:
        return [i for i in self.items if i.claim == claim]

    def extend(self, items: list[Item]) -> None:
        for item in items:
            if item.id not in self.by_id:
                self.items.append(item)
                self.by_id[item.id] = item


def default_bank_dir(corpus_dir: Path) -> Path:
    return corpus_dir / "quiz"


def shuffled(options: list[Option], item_id: str) -> tuple[Option, ...]:
    """A fixed order derived from the id alone, so rewording an option never moves it."""
    order = list(range(len(options)))
    random.Random(int(hashlib.sha256(item_id.encode()).hexdigest()[:16], 16)).shuffle(order)
    return tuple(options[i] for i in order)


def load_bank(directory: Path) -> Bank:
    """All ``*.toml`` files of ``directory`` in name order; raises :class:`BankError`."""
    files = sorted(directory.glob("*.toml")) if directory.is_dir() else []
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return Bank(list(_load_files(stamp)))


@lru_cache(maxsize=4)
def _load_files(stamp: tuple[tuple[str, int, int], ...]) -> tuple[Item, ...]:
    items: list[Item] = []
    seen: dict[str, str] = {}
    for name, _, _ in stamp:
        path = Path(name)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BankError(f"{path}: cannot read the quiz bank: {exc}") from None
        for raw in data.get("item", []):
            item = parse_item(raw, data, path.name)
            if item.id in seen:
                raise BankError(f"{path.name}: {item.id}: id already used in {seen[item.id]}")
            seen[item.id] = path.name
            items.append(item)
    return tuple(items)


def _text(raw: dict, key: str, where: str, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise BankError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _strings(raw: dict, key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise BankError(f"{where}: '{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_item(raw: dict, file_data: dict, file_name: str) -> Item:
    item_id = raw.get("id")
    where = f"{file_name}: {item_id or '(item without id)'}"
    if not isinstance(item_id, str) or not _ID.match(item_id):
        raise BankError(f"{where}: 'id' must be 3-64 characters of a-z, 0-9 and '-'")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BankError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
    claim = raw.get("claim", file_data.get("claim"))
    if claim is not None and (not isinstance(claim, int) or not 1 <= claim <= 8):
        raise BankError(f"{where}: 'claim' must be 1 to 8")
    lang = raw.get("lang", file_data.get("lang", "en"))
    if lang not in ("en", "ja"):
        raise BankError(f"{where}: 'lang' must be en or ja")
    hints = _strings(raw, "hints", where)
    if len(hints) != 2:
        raise BankError(f"{where}: needs exactly two hints")
    source = raw.get("source")
    if not isinstance(source, dict):
        raise BankError(f"{where}: 'source' must be {{doc = ..., quote = ...}}")
    wrong = tuple(WrongAnswer(_text(w, "text", where), str(w.get("why", "")).strip())
                  for w in raw.get("wrong", []))
    common = dict(id=item_id, topic=str(file_data.get("topic", Path(file_name).stem)), claim=claim,
                  kind=kind, lang=lang, prompt=_text(raw, "prompt", where),
                  explanation=_text(raw, "explanation", where), hints=hints,
                  doc_id=_text(source, "doc", where), quote=_text(source, "quote", where),
                  wrong=wrong, origin=file_name)
    if kind == "multiple_choice":
        opts = raw.get("options", [])
        if not isinstance(opts, list) or len(opts) != 4:
            raise BankError(f"{where}: a multiple-choice item needs exactly four options")
        options = [Option(_text(o, "text", where), bool(o.get("correct", False)),
                          str(o.get("why", "")).strip()) for o in opts]
        if sum(o.correct for o in options) != 1:
            raise BankError(f"{where}: exactly one option must have correct = true")
        if any(not o.correct and not o.why for o in options):
            raise BankError(f"{where}: every wrong option needs 'why'")
        if len({o.text.casefold() for o in options}) != 4:
            raise BankError(f"{where}: the four options must differ")
        ordered = shuffled(options, item_id)
        return Item(answer=next(o.text for o in ordered if o.correct), options=ordered, **common)
    answer = _text(raw, "answer", where)
    if kind == "cloze":
        if BLANK not in common["prompt"]:
            raise BankError(f"{where}: a cloze prompt must contain the blank {BLANK}")
        if not wrong:
            raise BankError(f"{where}: list at least one known wrong answer in 'wrong'")
        return Item(answer=answer, accept=_strings(raw, "accept", where), **common)
    concepts = []
    for c in raw.get("concepts", []):
        terms = _strings(c, "terms", where)
        if not terms:
            raise BankError(f"{where}: every concept needs terms")
        concepts.append(Concept(_text(c, "name", where), terms, bool(c.get("required", False))))
    if not concepts:
        raise BankError(f"{where}: a short-answer item needs at least one concept")
    if not wrong:
        raise BankError(f"{where}: list at least one known wrong answer in 'wrong'")
    return Item(answer=answer, references=_strings(raw, "references", where),
                concepts=tuple(concepts), contradicts=_strings(raw, "contradicts", where), **common)


# ---------------------------------------------------------------- sources

def corpus_documents(corpus_dir: Path) -> dict[str, Path]:
    """Doc id -> file for the bundled corpus (front-matter id, else the path's slug)."""
    out: dict[str, Path] = {}
    for path in sorted(corpus_dir.rglob("*.md")):
        rel = path.relative_to(corpus_dir)
        if "quiz" in rel.parts[:-1]:
            continue
        meta, _ = parse_front_matter(path.read_text(encoding="utf-8"))
        doc_id = str(meta.get("id") or slug(rel.with_suffix("").as_posix()))
        out[doc_id] = path
    return out


def squash(text: str) -> str:
    return " ".join(text.split())


def quote_problems(items: list[Item], corpus_dir: Path) -> list[str]:
    """Items whose source document is unknown or whose quote is not in it (spaces squashed)."""
    docs = corpus_documents(corpus_dir)
    texts = {d: squash(p.read_text(encoding="utf-8")) for d, p in docs.items()}
    problems = []
    for item in items:
        if item.generated:
            continue
        if item.doc_id not in texts:
            problems.append(f"{item.id}: unknown document {item.doc_id!r}")
        elif squash(item.quote) not in texts[item.doc_id]:
            problems.append(f"{item.id}: quote not found in {item.doc_id}: {item.quote[:60]!r}")
    return problems
