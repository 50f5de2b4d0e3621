"""The RAG lab: the same question answered with retrieval and without it, and what differs.

:func:`bare_answer` asks the tutor's model the question alone: the same model and sampling as
:meth:`tutor.pipeline.Tutor.ask`, but no passages, a system prompt that does not mention sources,
and no grounding gate (showing what the bare model invents is the point). :func:`tuned` gives a
view of a :class:`~tutor.pipeline.Tutor` whose retrieval uses other knobs (k, which leg), so the
learner can see the answer change. :func:`difference` reads two answers against the passages:
the figures and names only one of them gives, and whether any passage supports them.

Data flows one way: this module uses the pipeline's public pieces (retrieve, load_model, the
model's stream, the events) and adds nothing to it.
"""
from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from .llm import LocalModel, ModelError
from .pipeline import Done, Event, Notice, PromptReady, Token, Tutor
from .retrieve import Retriever, SearchResult

LEGS = ("hybrid", "dense", "lexical")

BARE_SYSTEM_PROMPT = (
    "You are a patient tutor who explains the paper \"Eight Things to Know about Large Language "
    "Models\" (Bowman 2023) and the papers it cites. Answer the learner's question from what you "
    "know. Keep it short: two to four sentences."
)
NO_MODEL = "no model loaded, so there is no answer without sources to compare; the retrieval side is shown"


# ---------------------------------------------------------------- retrieval knobs


class _LegRetriever:
    """A retriever that always searches with one leg (``hybrid``, ``dense`` or ``lexical``)."""

    def __init__(self, base: Retriever, leg: str) -> None:
        self.base = base
        self.leg = leg

    def search(self, query: str, k: int = 5, claim: int | None = None,
               mode: str | None = None) -> SearchResult:
        return self.base.search(query, k=k, claim=claim, mode=mode or self.leg)

    def __getattr__(self, name: str):
        # everything else (the glossary, the coverage threshold) is the base retriever's
        if name == "base":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.base, name)


def tuned(tutor: Tutor, k: int | None = None, leg: str = "hybrid") -> Tutor:
    """A view of ``tutor`` retrieving ``k`` passages with ``leg``; index and model are shared."""
    if leg not in LEGS:
        raise ValueError(f"leg {leg!r}: must be one of {', '.join(LEGS)}")
    if k is not None and k < 1:
        raise ValueError(f"k = {k}: must be at least 1")
    if (k is None or k == tutor.settings.k) and leg == "hybrid":
        return tutor
    view = Tutor(replace(tutor.settings, k=k or tutor.settings.k), index=tutor.index,
                 retriever=_LegRetriever(tutor.retriever, leg))  # type: ignore[arg-type]
    view.model, view.model_error = tutor.model, tutor.model_error
    view.load_model = tutor.load_model  # type: ignore[method-assign]  # one model, one lock
    return view


# ---------------------------------------------------------------- the bare answer


def bare_prompt(model: LocalModel, question: str, max_tokens: int) -> PromptReady:
    prompt = model.render([{"role": "system", "content": BARE_SYSTEM_PROMPT},
                           {"role": "user", "content": question}])
    total = model.count(prompt)
    reserve = min(max_tokens, model.n_ctx // 4)
    budget = {"n_ctx": model.n_ctx, "prompt": total, "sources": 0, "history": 0,
              "history_turns": 0, "sources_used": 0, "answer_reserved": reserve,
              "free": max(0, model.n_ctx - total - reserve)}
    return PromptReady(prompt, total, model.n_ctx, budget, "")


def bare_answer(tutor: Tutor, question: str, *, use_llm: bool = True,
                cancel: threading.Event | None = None) -> Iterator[Event]:
    """The model's answer with no retrieval: events like :meth:`Tutor.ask`, ``sources`` empty.

    Without a model (``use_llm`` False, or it cannot load) it yields a :class:`Notice` and a
    :class:`Done` with an empty answer and ``stopped_by`` ``"no-llm"``.
    """
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    t0 = time.perf_counter()
    timings: dict[str, float] = {"retrieval_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0,
                                 "completion_tokens": 0, "tokens_per_s": 0.0}
    model: LocalModel | None = None
    reason = NO_MODEL
    if use_llm:
        try:
            model = tutor.load_model()
        except ModelError as exc:
            reason = f"{exc}; {NO_MODEL}"
    if model is None:
        yield Notice(reason)
        yield Done(question, "", [], None, timings, covered=False, stopped_by="no-llm")
        return
    settings = tutor.settings
    ready = bare_prompt(model, question, settings.max_tokens)
    yield ready
    pieces: list[str] = []
    stamps: list[float] = []  # when each piece came: first-token time and tokens/s
    for piece in model.stream(ready.prompt, max_tokens=settings.max_tokens,
                              temperature=settings.temperature, cancel=cancel):
        stamps.append(time.perf_counter())
        pieces.append(piece)
        yield Token(piece)
    stopped = ("cancelled" if cancel is not None and cancel.is_set()
               else "length" if len(pieces) >= settings.max_tokens else "stop")
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    timings["first_token_ms"] = round(((stamps[0] if stamps else t0) - t0) * 1000, 1)
    timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    timings["completion_tokens"] = len(pieces)
    timings["tokens_per_s"] = round((len(stamps) - 1) / span, 1) if span > 0 else 0.0
    timings["prompt_tokens"] = ready.prompt_tokens
    yield Done(question, "".join(pieces).strip(), [], model.name, timings, covered=False,
               stopped_by=stopped, prompt=ready.prompt, budget=ready.budget)


# ---------------------------------------------------------------- the difference


_CITATION = re.compile(r"\[\d+\]")
_FIGURE = re.compile(r"(?<![A-Za-z0-9_.-])\d+(?:[.,]\d+)*(?:e[+-]?\d+)?(?:\s?%|[KMBT]\b|x\b)?")
# a name: a capitalised or all-caps Latin word (GPT-4, Chinchilla, OpenAI), or a katakana word
_NAME = re.compile(r"\b[A-Z][A-Za-z]*[A-Z0-9-][A-Za-z0-9-]*\b|\b[A-Z][a-z]{2,}\b|[ァ-ヺー]{3,}")
_COMMON = {"the", "this", "that", "these", "those", "they", "there", "their", "then", "when",
           "what", "which", "while", "where", "with", "without", "from", "for", "and", "but",
           "however", "each", "every", "both", "some", "many", "most", "such", "one", "two",
           "first", "second", "third", "also", "yes", "not", "its", "his", "her", "our", "your",
           "llm", "llms", "claim", "answer", "question", "source", "sources", "large", "language",
           "models", "model", "eight", "things", "know", "about", "paper", "in", "it", "if", "as",
           "an", "a", "i", "we", "you", "he", "she", "so", "to", "on", "at", "by", "or", "is",
           "are", "was", "be", "no", "here", "thank", "sure", "according", "overall", "finally",
           # katakana loan words of the topic itself, not names
           "モデル", "トークン", "パラメータ", "パラメーター", "データ", "スケーリング", "テスト"}


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


_COUNTED = re.compile(r"(?:claim|thing|step|part|section|chapter|figure|table|主張|第)\s*(?:no\.?\s*)?$",
                      re.I)


def _is_label(text: str, m: re.Match[str]) -> bool:
    """A lone digit that numbers something ("claim 4", 「4つ目」, a list item "1."), not a figure."""
    before, after = text[: m.start()], text[m.end():]
    if _COUNTED.search(before) or re.match(r"\s*(?:つ目|番目|個目|章)", after):
        return True
    return re.search(r"(?:^|\n)\s*$", before) is not None and re.match(r"[.)]\s", after) is not None


def figures(text: str) -> list[str]:
    """The figures an answer states ("0.076", "20", "10,000x", "67.5%", "about 1"), in order,
    once each; citation marks and digits that number something ("claim 4") are not figures."""
    text = _CITATION.sub(" ", _norm(text))
    out: list[str] = []
    seen: set[str] = set()  # "1.4兆" and "1.4T" are one figure
    for m in _FIGURE.finditer(text):
        fig = m.group().replace(" ", "").rstrip(".,")
        if len(re.sub(r"\D", "", fig)) == 1 and _is_label(text, m):
            continue
        if _bare_figure(fig) not in seen:
            out.append(fig)
            seen.add(_bare_figure(fig))
    return out


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip(" \t\"'*(“「")
    return not before or before[-1] in ".!?。！？:;\n-•"


def names(text: str) -> list[str]:
    """The names an answer gives (people, models, benchmarks, organisations), in order, once each.

    A capitalised word that opens a sentence ("Sycophancy is…") is taken for an ordinary word;
    mixed-case and all-caps words (GPT-4, OpenAI, MMLU) count wherever they stand.
    """
    text = _CITATION.sub(" ", _norm(text))
    out: list[str] = []
    for m in _NAME.finditer(text):
        name = m.group().strip("-")
        title_case = name[:1].isupper() and name[1:].islower()
        if title_case and _opens_sentence(text, m.start()):
            continue
        if len(name) >= 3 and name.lower() not in _COMMON and name not in out:
            out.append(name)
    return out


def _bare_figure(fig: str) -> str:
    """A figure's value as written, without separators and units: "10,000x" is "10000"."""
    return re.sub(r"[^\d.e]", "", fig.replace(",", ""))


def supported(term: str, sources: Sequence[str]) -> bool:
    """Whether some source text gives ``term``: a figure by its digits ("10000" is "10,000"), a name
    by its letters, ignoring case."""
    joined = _norm(" ".join(sources))
    if term[:1].isdigit():
        wanted = _bare_figure(term)
        if any(_bare_figure(f) == wanted for f in figures(joined)):
            return True
        # a figure written inside a formula ("N^0.076"); never a lone digit ("claim 1")
        return len(wanted.replace(".", "")) > 1 and wanted in {
            _bare_figure(m.group()) for m in re.finditer(r"\d+(?:[.,]\d+)*", joined)}
    return term.lower() in joined.lower()


@dataclass
class Difference:
    """What one answer says that the other does not, checked against the passages."""

    only_with: list[str] = field(default_factory=list)  # figures and names only with sources
    only_without: list[str] = field(default_factory=list)  # ... only without sources
    unsupported_with: list[str] = field(default_factory=list)  # no passage gives them
    unsupported_without: list[str] = field(default_factory=list)
    same: bool = False
    summary: str = ""

    def as_json(self) -> dict[str, object]:
        return {"only_with_sources": self.only_with, "only_without_sources": self.only_without,
                "unsupported_with_sources": self.unsupported_with,
                "unsupported_without_sources": self.unsupported_without,
                "same_answer": self.same, "summary": self.summary}


def _terms(text: str) -> list[str]:
    return figures(text) + names(text)


def _listed(terms: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(terms[:limit])
    return shown + (f" and {len(terms) - limit} more" if len(terms) > limit else "")


def given(passages: Sequence[str]) -> list[str]:
    """What the model was told on either side: the passages, and the system prompts' own facts
    (both name the paper, "Bowman 2023")."""
    return [*passages, BARE_SYSTEM_PROMPT]


def difference(with_sources: str, without_sources: str, passages: Sequence[str],
               model: bool = True) -> Difference:
    """Read the two answers against the passages the sourced answer was given."""
    if not model:
        return Difference(summary=f"No comparison: {NO_MODEL}.")
    sources = given(passages)
    w, wo = _terms(with_sources), _terms(without_sources)
    wo_keys = {t.lower() for t in wo} | {_bare_figure(t) for t in wo if t[:1].isdigit()}
    w_keys = {t.lower() for t in w} | {_bare_figure(t) for t in w if t[:1].isdigit()}

    def key(t: str) -> str:
        return _bare_figure(t) if t[:1].isdigit() else t.lower()

    diff = Difference(
        only_with=[t for t in w if key(t) not in wo_keys],
        only_without=[t for t in wo if key(t) not in w_keys],
        unsupported_with=[t for t in w if not supported(t, sources)],
        unsupported_without=[t for t in wo if not supported(t, sources)],
        same=" ".join(with_sources.split()) == " ".join(without_sources.split()))
    parts: list[str] = []
    if diff.same:
        parts.append("Both answers are the same.")
    if diff.only_with:
        backed = [t for t in diff.only_with if t not in diff.unsupported_with]
        parts.append(f"Only with sources: {_listed(diff.only_with)}"
                     + (" (all supported)." if len(backed) == len(diff.only_with)
                        else f" ({len(backed)} of {len(diff.only_with)} supported)."))
    if diff.only_without:
        parts.append(f"Only without sources: {_listed(diff.only_without)}"
                     + (f" ({len(diff.unsupported_without)} that no source supports)."
                        if diff.unsupported_without else " (all supported)."))
    elif not without_sources.strip():
        parts.append("The model said nothing without sources.")
    if not parts:
        parts.append("No figure or name appears in only one answer.")
    diff.summary = " ".join(parts)
    return diff


# ---------------------------------------------------------------- both sides


@dataclass
class Comparison:
    question: str
    with_sources: Done
    without_sources: Done
    difference: Difference

    def as_json(self) -> dict[str, object]:
        return {"question": self.question, "with_sources": self.with_sources.as_json(),
                "without_sources": self.without_sources.as_json(),
                "difference": self.difference.as_json()}


def compare(with_sources: Done, without_sources: Done) -> Comparison:
    diff = difference(with_sources.answer, without_sources.answer,
                      [h.text for h in with_sources.sources],
                      model=without_sources.model is not None)
    return Comparison(with_sources.question, with_sources, without_sources, diff)
