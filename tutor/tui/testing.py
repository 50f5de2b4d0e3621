"""A scripted engine for tests, snapshots and the latency benchmark.

:class:`ScriptedBackend` has the :class:`tutor.tui.backend.Backend` interface and yields the
same events as :meth:`tutor.pipeline.Tutor.ask`, from a script: no index, no model, fully
deterministic. Gates (``threading.Event``) let a test hold loading or streaming at a known
point instead of sleeping.
"""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..index import AddResult, Progress, StoredChunk
from ..llm import ModelError
from ..pipeline import NOT_COVERED, SYSTEM_PROMPT, Done, Event, Notice, PromptReady, Retrieved, Token
from ..retrieve import Hit

KAPLAN = ("\"Scaling Laws for Neural Language Models\" by Kaplan et al. 2020 (arXiv:2001.08361) "
          "comes from researchers at OpenAI and Johns Hopkins University. Kaplan et al. measured "
          "how the loss of a language model depends on model size, dataset size and training "
          "compute, and found that each relationship follows a simple power law. The paper is the "
          "main evidence for claim 1 of Bowman 2023.")
CLAIM1 = ("The main evidence for claim 1 is the scaling laws. What scaling laws predict are coarse "
          "quantities like this pretraining loss, not individual skills. In the Kaplan et al. fit, "
          "each doubling of N multiplies the loss by about 0.95. These trends stayed valid over a "
          "compute range spanning some 7 to 8 powers of ten.")
CLAIM2 = ("Claim 2 says that specific abilities emerge unpredictably: few-shot arithmetic or "
          "multi-step reasoning can jump from chance to competent between two model sizes. "
          "Scaling laws forecast the loss, but not which skill appears when.")

DEFAULT_HITS: list[dict[str, Any]] = [
    dict(chunk_id="kaplan-2020@34fb2757a952#0", doc_id="kaplan-2020",
         title="Kaplan et al. 2020: Scaling Laws for Neural Language Models",
         source="corpus/notes/kaplan-2020.md",
         location="The scaling laws paper and its link to claim 1", text=KAPLAN, score=0.984,
         relevance=0.512, dense=0.512, lexical=5.63, dense_rank=1, lexical_rank=2, claims=[1]),
    dict(chunk_id="claim-1@31eeaf24fe02#1", doc_id="claim-1",
         title="Claim 1: LLMs predictably get more capable with increasing investment",
         source="corpus/notes/claim-1.md", location="Scaling laws: the evidence behind claim 1",
         text=CLAIM1, score=0.968, relevance=0.493, dense=0.493, lexical=5.44, dense_rank=2,
         lexical_rank=3, claims=[1]),
    dict(chunk_id="claim-2@aa11bb22cc33#2", doc_id="claim-2",
         title="Claim 2: Many important LLM behaviors emerge unpredictably",
         source="corpus/notes/claim-2.md", location="Emergence versus scaling laws", text=CLAIM2,
         score=0.610, relevance=0.41, dense=None, lexical=7.10, dense_rank=None, lexical_rank=1,
         claims=[2]),
]
DEFAULT_ANSWER = ("Claim 1 says that **LLMs get predictably better** as we spend more on data, "
                  "parameters and compute [1]. The evidence is the *scaling laws*: the loss falls "
                  "along a smooth power law, about 0.95 per doubling of parameters [2].\n\n"
                  "- What is predictable is the loss, not each skill [2].\n"
                  "- Which skills appear is the topic of claim 2 [3].")

# what the bare model says to "What does claim 1 say?" in the snapshots: an invented figure and a
# name no passage gives, next to one the passages do give
BARE_ANSWER = ("Claim 1 says that language models get about 12% better every year, as Smith et al. "
               "showed in 2019. The scaling laws of Kaplan et al. explain why bigger models learn "
               "faster.")


def make_hits(specs: Sequence[dict[str, Any]] = DEFAULT_HITS) -> list[Hit]:
    return [Hit(rank=i, pinned=False, **spec) for i, spec in enumerate(specs, 1)]


def pieces_of(text: str) -> list[str]:
    """Split an answer the way a tokenizer streams it: words with their trailing space."""
    return re.findall(r"\S+\s*|\s+", text)


@dataclass
class Script:
    """What one answer does."""

    answer: str = DEFAULT_ANSWER
    hits: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_HITS))
    covered: bool = True
    token_delay: float = 0.0  # seconds between tokens
    gate: threading.Event | None = None  # tokens after the first ``gate_after`` wait for it
    gate_after: int = 3
    error: str | None = None  # raise RuntimeError(error) after retrieval
    notice: str | None = None
    bare: str = BARE_ANSWER  # the answer without sources (the RAG lab)


class ScriptedBackend:
    """A deterministic stand-in for :class:`tutor.tui.backend.TutorBackend`."""

    def __init__(self, settings: Settings, scripts: Sequence[Script] | Callable[[str], Script] = (),
                 *, load_gate: threading.Event | None = None, open_error: str | None = None,
                 model_error: str | None = None, model_name: str = "SmolLM2-135M-Instruct.Q4_1.gguf",
                 documents: dict[str, list[StoredChunk]] | None = None,
                 add_files: Sequence[tuple[str, int | str | tuple[str, str, int]]] = (
                     ("notes-1.md", 3), ("notes-2.md", 3)),
                 add_delay: float = 0.005, add_gate: threading.Event | None = None) -> None:
        self.settings = settings
        self._scripts = scripts
        self._next = 0
        self.load_gate = load_gate
        self.open_error = open_error
        self.model_error = model_error
        self._model: str | None = None
        self._wanted_model = model_name
        self.calls: list[dict[str, Any]] = []
        self.switched: list[Path] = []
        self.documents = documents if documents is not None else default_documents()
        self._lock = threading.Lock()
        # the Add screen: each path "holds" these files (name, chunks or an error reason); after
        # the first chunk of a file, embedding waits for ``add_gate`` (or a cancel) if given
        self.add_files = list(add_files)
        self.add_delay = add_delay
        self.add_gate = add_gate
        self.added: list[str] = []

    # ------------------------------------------------------------ start-up

    @property
    def model_name(self) -> str | None:
        return self._model

    def open(self, progress: Any) -> list[str]:
        if self.load_gate is not None:
            progress.file_started("corpus/notes/claim-1.md", 0, 2)
            progress.chunks_planned("corpus/notes/claim-1.md", 10)
            progress.embedded(4)
            deadline = time.monotonic() + 60
            while not self.load_gate.wait(0.02) and not progress.cancelled():
                if time.monotonic() > deadline:
                    break
            if progress.cancelled():
                raise InterruptedError("cancelled")
        if self.open_error:
            raise RuntimeError(self.open_error)
        return []

    def load_embedder(self) -> None:
        return None

    def load_model(self) -> str:
        if self.model_error:
            raise ModelError(self.model_error)
        self._model = self._wanted_model
        return self._model

    def switch_model(self, path: Path) -> str:
        self.switched.append(path)
        self.settings = replace(self.settings, model=path)
        self._wanted_model = path.name
        self.model_error = None
        return self.load_model()

    def update_settings(self, settings: Settings) -> None:
        self.settings = settings

    # ------------------------------------------------------------ adding documents

    def add_paths(self, specs: Sequence[str], progress: Progress,
                  password: str | None = None) -> list[AddResult]:
        """Simulate :meth:`tutor.index.Index.add_paths`: same callbacks, same cancel rules.

        An ``add_files`` entry ``(name, ("password", PW, chunks))`` is an encrypted PDF: added
        with ``password`` PW, else an error that asks for it."""
        files = []
        for spec in specs:  # a spec naming one of the files is that file, else a folder of all
            named = [(spec, what) for name, what in self.add_files if Path(spec).name == name]
            files += named or [(f"{spec.rstrip('/')}/{name}", what) for name, what in self.add_files]
        results: list[AddResult] = []
        for i, (path, what) in enumerate(files):
            result: AddResult | None = None
            if progress.cancelled():
                result = AddResult(path, "error", error="cancelled before it started")
                progress.file_done(result)
                results.append(result)
                continue
            progress.file_started(path, i, len(files))
            if isinstance(what, tuple):
                _, wanted, what = what
                if password != wanted:
                    result = AddResult(path, "error", needs_password=True,
                                       error="encrypted PDF: wrong password" if password
                                       else "encrypted PDF: it needs a password")
                    progress.file_done(result)
                    results.append(result)
                    continue
            if isinstance(what, str):
                result = AddResult(path, "error", error=what)
            else:
                progress.chunks_planned(path, what)
                for n in range(what):
                    if self.add_gate is not None and n >= 1:
                        deadline = time.monotonic() + 60  # a failed test must not hang
                        while (not self.add_gate.wait(0.01) and not progress.cancelled()
                               and time.monotonic() < deadline):
                            pass
                    if progress.cancelled():
                        result = AddResult(path, "error", error="cancelled; nothing of it was kept")
                        break
                    if self.add_delay:
                        time.sleep(self.add_delay)
                    progress.embedded(1)
                if result is None:
                    self.added.append(path)
                    result = AddResult(path, "added", Path(path).stem, what)
            progress.file_done(result)
            results.append(result)
        return results

    # ------------------------------------------------------------ reading

    def claim_passages(self, claim: int, language: str = "en") -> list[Hit]:
        hit = make_hits([{**DEFAULT_HITS[1], "chunk_id": f"claim-{claim}@0#0",
                          "doc_id": f"claim-{claim}", "location": f"What claim {claim} says"}])[0]
        hit.pinned = True
        hit.dense_rank = hit.lexical_rank = None
        return [hit]

    def document_chunks(self, doc_id: str) -> list[StoredChunk]:
        return self.documents.get(doc_id, [])

    # ------------------------------------------------------------ answers

    def _script(self, question: str) -> Script:
        if callable(self._scripts):
            return self._scripts(question)
        if self._next < len(self._scripts):
            self._next += 1
            return self._scripts[self._next - 1]
        return Script()

    def _last_script(self, question: str) -> Script:
        """The script of the latest answer, without using up the next one (the lab re-asks it)."""
        if callable(self._scripts):
            return self._scripts(question)
        return self._scripts[self._next - 1] if self._next else Script()

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (),
            claim: int | None = None, pinned: Sequence[Hit] = (), use_llm: bool = True,
            cancel: threading.Event | None = None) -> Iterator[Event]:
        with self._lock:
            yield from self._ask(question, history, claim, pinned, use_llm, cancel)

    def ask_tuned(self, question: str, *, k: int, leg: str, claim: int | None = None,
                  use_llm: bool = True, cancel: threading.Event | None = None) -> Iterator[Event]:
        with self._lock:
            yield from self._ask(question, (), claim, (), use_llm, cancel, k=k, leg=leg,
                                 script=self._last_script(question))

    def search(self, question: str, *, k: int, leg: str) -> list[Hit]:
        return _leg_hits(make_hits(self._last_script(question).hits), leg)[:k]

    def ask_bare(self, question: str, *, use_llm: bool = True,
                 cancel: threading.Event | None = None) -> Iterator[Event]:
        with self._lock:
            self.calls.append({"question": question, "bare": True, "use_llm": use_llm})
            script = self._last_script(question)
            timings = {"retrieval_ms": 0.0, "first_token_ms": 0.0, "total_ms": 0.0,
                       "completion_tokens": 0, "tokens_per_s": 0.0}
            if not use_llm or self._model is None:
                from ..lab import NO_MODEL

                yield Notice(NO_MODEL)
                yield Done(question, "", [], None, timings, covered=False, stopped_by="no-llm")
                return
            from ..lab import BARE_SYSTEM_PROMPT

            prompt = (f"<|im_start|>system\n{BARE_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"
                      f"{question}<|im_end|>\n<|im_start|>assistant\n")
            total = _count(prompt)
            ready = PromptReady(prompt, total, self.settings.n_ctx,
                                {"n_ctx": self.settings.n_ctx, "prompt": total, "sources": 0,
                                 "history": 0, "history_turns": 0, "sources_used": 0,
                                 "answer_reserved": 256,
                                 "free": self.settings.n_ctx - total - 256}, "")
            yield ready
            said, stopped = yield from self._stream(script, script.bare, cancel)
            timings.update({"first_token_ms": 120.0, "total_ms": 700.0,
                            "completion_tokens": len(said), "tokens_per_s": 45.0,
                            "prompt_tokens": total})
            yield Done(question, "".join(said).strip(), [], self._model, timings, covered=False,
                       stopped_by=stopped, prompt=prompt, budget=ready.budget)

    def _ask(self, question: str, history: Sequence[tuple[str, str]], claim: int | None,
             pinned: Sequence[Hit], use_llm: bool, cancel: threading.Event | None,
             k: int | None = None, leg: str = "hybrid",
             script: Script | None = None) -> Iterator[Event]:
        self.calls.append({"question": question, "history": list(history), "claim": claim,
                           "pinned": [h.chunk_id for h in pinned], "use_llm": use_llm,
                           **({"k": k, "leg": leg} if k is not None else {})})
        script = script or self._script(question)
        hits = list(pinned) + _leg_hits(make_hits(script.hits), leg)
        if k is not None and claim:  # the lab's claim filter
            hits = [h for h in hits if claim in h.claims]
        hits = hits[: max(k or self.settings.k, len(pinned))]
        for i, h in enumerate(hits, 1):
            h.rank = i
        t0 = time.perf_counter()
        yield Retrieved(hits, 12.5, script.covered)
        timings = {"retrieval_ms": 12.5, "first_token_ms": 0.0, "total_ms": 0.0,
                   "completion_tokens": 0, "tokens_per_s": 0.0}
        if not script.covered:
            yield Done(question, NOT_COVERED, hits, None, {**timings, "total_ms": 13.0},
                       covered=False)
            return
        if script.error:
            raise RuntimeError(script.error)
        if script.notice:
            yield Notice(script.notice)
        if not use_llm or self._model is None:
            answer = "\n\n".join(f"{h.text.split('. ')[0]}. [{h.rank}]" for h in hits[:3])
            yield Done(question, answer, hits, None, {**timings, "total_ms": 14.0}, covered=True,
                       stopped_by="no-llm")
            return
        ready = fake_prompt(question, hits, history, self.settings.n_ctx)
        yield ready
        said, stopped = yield from self._stream(script, script.answer, cancel)
        answer = "".join(said).strip()
        timings.update({"first_token_ms": 150.0, "total_ms": 900.0,
                        "completion_tokens": len(said), "tokens_per_s": 42.0,
                        "prompt_tokens": ready.prompt_tokens})
        del t0
        yield Done(question, answer, hits, self._model, timings, covered=True, stopped_by=stopped,
                   prompt=ready.prompt, budget=ready.budget)

    @staticmethod
    def _stream(script: Script, text: str,
                cancel: threading.Event | None) -> Generator[Event, None, tuple[list[str], str]]:
        """Yield ``text`` a piece at a time, honouring the script's gate and delay and ``cancel``."""
        said: list[str] = []
        stopped = "stop"
        for i, piece in enumerate(pieces_of(text)):
            if cancel is not None and cancel.is_set():
                stopped = "cancelled"
                break
            if script.gate is not None and i >= script.gate_after:
                deadline = time.monotonic() + 60  # a failed test must not hang the suite
                while not script.gate.wait(0.02) and time.monotonic() < deadline:
                    if cancel is not None and cancel.is_set():
                        break
                if cancel is not None and cancel.is_set():
                    stopped = "cancelled"
                    break
            if script.token_delay:
                time.sleep(script.token_delay)
            said.append(piece)
            yield Token(piece)
        return said, stopped


def _leg_hits(hits: list[Hit], leg: str) -> list[Hit]:
    """The scripted hits one leg would find, in that leg's order (``hybrid``: as scripted)."""
    if leg == "hybrid":
        return hits
    attr = "dense_rank" if leg == "dense" else "lexical_rank"
    found = sorted((h for h in hits if getattr(h, attr) is not None), key=lambda h: getattr(h, attr))
    for h in found:
        setattr(h, "lexical_rank" if leg == "dense" else "dense_rank", None)
        if leg == "dense":
            h.lexical = None
        else:
            h.dense = None
    return found


def _count(text: str) -> int:
    return max(1, len(text) // 4)


def fake_prompt(question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]],
                n_ctx: int) -> PromptReady:
    """A prompt shaped like the real one (ChatML, numbered sources), budgeted the same way."""
    reserve = 256
    blocks = [f"<source id={h.rank}>\n{h.title} — {h.location}\n{h.text}\n</source>" for h in hits]
    sources = sum(_count(b) + 1 for b in blocks)
    fixed = _count(SYSTEM_PROMPT) + _count(question) + 40
    room = n_ctx - reserve - fixed - sources - 16
    kept: list[tuple[str, str]] = []
    used = 0
    for q, a in reversed(list(history)):
        t = _count(q) + _count(a) + 12
        if used + t > room:
            break
        kept.insert(0, (q, a))
        used += t
    turns = "".join(f"<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n"
                    for q, a in kept)
    prompt = (f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n{turns}<|im_start|>user\nSources:\n"
              + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer from the sources, citing "
              "them like [1].<|im_end|>\n<|im_start|>assistant\n")
    total = fixed + sources + used
    budget = {"n_ctx": n_ctx, "prompt": total, "sources": sources, "history": used,
              "history_turns": len(kept), "sources_used": len(blocks), "answer_reserved": reserve,
              "free": max(0, n_ctx - total - reserve)}
    return PromptReady(prompt, total, n_ctx, budget, "")


def default_documents() -> dict[str, list[StoredChunk]]:
    docs: dict[str, list[StoredChunk]] = {}
    for spec in DEFAULT_HITS:
        doc_id = str(spec["doc_id"])
        version, _, ord_ = str(spec["chunk_id"]).partition("#")
        target = int(ord_)
        chunks = []
        for i in range(target + 3):
            text = spec["text"] if i == target else (
                f"Paragraph {i + 1} of {spec['title']}. " + "Filler sentence about the paper. " * 6)
            chunks.append(StoredChunk(f"{version}#{i}", doc_id, i, str(spec["title"]),
                                      str(spec["source"]),
                                      str(spec["location"]) if i == target else f"Section {i + 1}",
                                      str(text), tuple(spec["claims"]), "en", None))
        docs[doc_id] = chunks
    return docs
