"""What the TUI asks of the engine, and the real implementation over :class:`tutor.pipeline.Tutor`.

The chat screen talks only to a :class:`Backend`; every method may block (index, embedder,
model) and is called from a thread worker, never from the event loop. Tests and the latency
benchmark swap in :class:`tutor.tui.testing.ScriptedBackend`, which yields scripted events.

This module imports the engine, so the app imports it lazily, inside the loading worker.
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from ..config import Settings
from ..index import AddResult, Progress, StoredChunk
from ..pipeline import Event, Tutor
from ..retrieve import Hit


class Backend(Protocol):
    settings: Settings

    @property
    def model_name(self) -> str | None: ...

    def open(self, progress: Any) -> list[str]:
        """Open the index and index the bundled corpus if needed; notices for the learner."""

    def load_embedder(self) -> None: ...

    def load_model(self) -> str:
        """Load the GGUF in ``settings.model``; return its name or raise (ModelError)."""

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (),
            claim: int | None = None, pinned: Sequence[Hit] = (), use_llm: bool = True,
            cancel: threading.Event | None = None) -> Iterator[Event]: ...

    def claim_passages(self, claim: int, language: str = "en") -> list[Hit]: ...

    def ask_tuned(self, question: str, *, k: int, leg: str, claim: int | None = None,
                  use_llm: bool = True, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Like ``ask`` with other retrieval knobs: ``k`` sources found by ``leg`` (the lab)."""

    def ask_bare(self, question: str, *, use_llm: bool = True,
                 cancel: threading.Event | None = None) -> Iterator[Event]:
        """The same model asked with no retrieval at all (:func:`tutor.lab.bare_answer`)."""

    def search(self, question: str, *, k: int, leg: str) -> list[Hit]:
        """Retrieval alone with one leg (the RAG lesson shows each leg's ranking)."""

    def document_chunks(self, doc_id: str) -> list[StoredChunk]: ...

    def switch_model(self, path: Path) -> str:
        """Unload the current model and load ``path``; return its name or raise."""

    def update_settings(self, settings: Settings) -> None: ...

    def add_paths(self, specs: Sequence[str], progress: Progress,
                  password: str | None = None) -> list[AddResult]:
        """Add files, folders or globs to the index the chat searches (the Add screen);
        ``password`` opens encrypted PDFs."""


class TutorBackend:
    """The real engine. One lock keeps model calls (load, switch, answer) one at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tutor: Tutor | None = None
        self._lock = threading.Lock()

    @property
    def tutor(self) -> Tutor:
        if self._tutor is None:
            raise RuntimeError("the index is not open yet")
        return self._tutor

    @property
    def model_name(self) -> str | None:
        model = self._tutor.model if self._tutor else None
        return model.name if model else None

    def _model_settings(self, settings: Settings) -> Settings:
        """The settings the model runs with: one core is left for the interface.

        ``n_threads = 0`` means every core. On a 2-core machine llama.cpp's two threads then
        fight the event loop (and anything else running) for the cores, and its threads wait
        on each other: 0.3-0.6 tokens/s, first token after 20 s, against 35 tokens/s and
        8 s with one thread (measured under load on the 2-core dev machines). An explicit
        n_threads in the config is kept.
        """
        if settings.n_threads:
            return settings
        return replace(settings, n_threads=max(1, (os.cpu_count() or 2) - 1))

    def open(self, progress: Any) -> list[str]:
        self._tutor = Tutor(self.settings)  # the embedder: every core, one fewer while answering
        self._tutor.settings = self._model_settings(self.settings)
        return self._tutor.prepare(progress)

    def load_embedder(self) -> None:
        self.tutor.index.embedder.load()

    def load_model(self) -> str:
        with self._lock:
            return self.tutor.load_model().name

    def _locked(self, events: Iterator[Event], use_llm: bool = True) -> Iterator[Event]:
        # while the model writes, an Add screen's embedding leaves it a core
        sharing = self.tutor.index.embedder.sharing_cores() if use_llm \
            else contextlib.nullcontext()
        with self._lock, sharing, contextlib.closing(events):  # type: ignore[type-var]
            yield from events

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (),
            claim: int | None = None, pinned: Sequence[Hit] = (), use_llm: bool = True,
            cancel: threading.Event | None = None) -> Iterator[Event]:
        return self._locked(self.tutor.ask(question, history=history, claim=claim, pinned=pinned,
                                           use_llm=use_llm, cancel=cancel), use_llm)

    def ask_tuned(self, question: str, *, k: int, leg: str, claim: int | None = None,
                  use_llm: bool = True, cancel: threading.Event | None = None) -> Iterator[Event]:
        from ..lab import tuned

        return self._locked(tuned(self.tutor, k, leg).ask(question, claim=claim, use_llm=use_llm,
                                                          cancel=cancel), use_llm)

    def ask_bare(self, question: str, *, use_llm: bool = True,
                 cancel: threading.Event | None = None) -> Iterator[Event]:
        from ..lab import bare_answer

        return self._locked(bare_answer(self.tutor, question, use_llm=use_llm, cancel=cancel),
                            use_llm)

    def search(self, question: str, *, k: int, leg: str) -> list[Hit]:
        return self.tutor.retriever.search(question, k=k, mode=leg).hits

    def claim_passages(self, claim: int, language: str = "en") -> list[Hit]:
        """The opening passages of the claim's note (falling back to any tagged passage); for
        a Japanese request, the blog article's section on the claim first."""
        index = self.tutor.index
        chunks = index.chunks_of(f"claim-{claim}")[:2] or index.chunks_for_claim(claim)[:2]
        if language == "ja":
            own = [c for c in index.chunks_for_claim(claim)
                   if c.language == "ja" and tuple(c.claims) == (claim,)]
            chunks = own[:1] + chunks[:1]
        return [Hit(0, c.chunk_id, c.doc_id, c.title, c.source, c.location, c.text, 1.0, 1.0,
                    claims=list(c.claims), page=c.page, pinned=True) for c in chunks]

    def document_chunks(self, doc_id: str) -> list[StoredChunk]:
        return self.tutor.index.chunks_of(doc_id)

    def switch_model(self, path: Path) -> str:
        with self._lock:
            tutor = self.tutor
            old = tutor.model
            tutor.model = None
            del old
            self.settings = replace(self.settings, model=path)
            tutor.settings = self._model_settings(self.settings)
        return self.load_model()

    def update_settings(self, settings: Settings) -> None:
        with self._lock:
            self.settings = settings
            if self._tutor is not None:
                self._tutor.settings = self._model_settings(settings)

    def add_paths(self, specs: Sequence[str], progress: Progress,
                  password: str | None = None) -> list[AddResult]:
        # not under ``_lock``: the index has its own write lock and readers see only committed
        # documents, so the chat can keep answering while the Add screen indexes
        return self.tutor.index.add_paths(list(specs), progress, password=password)


class PostingProgress(Progress):
    """Indexing progress for the status bar: calls ``post(file, done, total, chunks, planned)``.

    Quitting during the first run's indexing sets ``stop``: the document being embedded is
    rolled back by the index's journal and the app exits at once instead of after indexing.
    """

    def __init__(self, post: Any, stop: threading.Event | None = None) -> None:
        self._post = post
        self._stop = stop  # set when the app quits: indexing stops (and rolls back) early
        self.file = ""
        self.files_done = self.files_total = 0
        self.chunks_done = self.chunks_total = 0

    def _emit(self) -> None:
        self._post(self.file, self.files_done, self.files_total, self.chunks_done,
                   self.chunks_total)

    def file_started(self, path: str, index: int, total: int) -> None:
        self.file, self.files_done, self.files_total = Path(path).name, index, total
        self._emit()

    def chunks_planned(self, path: str, chunks: int) -> None:
        self.chunks_total += chunks
        self._emit()

    def embedded(self, n: int) -> None:
        self.chunks_done += n
        self._emit()

    def file_done(self, result: Any) -> None:
        self.files_done += 1
        self._emit()

    def cancelled(self) -> bool:
        return self._stop is not None and self._stop.is_set()
