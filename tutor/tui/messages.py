"""Messages the engine workers post to the chat screen (one file, as in harlequin).

Workers run in threads and never touch widgets: they post these, and the screen's handlers
update the widgets on the event loop. Each answer carries the key of the turn it belongs to,
so a late message from a stopped answer is recognised and dropped.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from ..pipeline import Done, Event, PromptReady, Retrieved
    from ..retrieve import Hit


# ---------------------------------------------------------------- engine start-up


class EngineStatus(Message):
    """The engine moved to a new state.

    ``state`` is one of ``loading``, ``ready``, ``no-model`` (answers from retrieval alone) or
    ``error`` (the index or embedder cannot be used); ``detail`` is a line for the status bar.
    """

    def __init__(self, state: str, detail: str, model: str | None = None,
                 backend: Any = None) -> None:
        super().__init__()
        self.state = state
        self.detail = detail
        self.model = model
        self.backend = backend  # set once, when the worker has built the backend


class IndexProgress(Message):
    """Indexing the bundled corpus on first use: files and chunks done so far."""

    def __init__(self, file: str, files_done: int, files_total: int, chunks_done: int,
                 chunks_total: int) -> None:
        super().__init__()
        self.file = file
        self.files_done = files_done
        self.files_total = files_total
        self.chunks_done = chunks_done
        self.chunks_total = chunks_total


class EngineNotice(Message):
    """Something the learner should know (e.g. the corpus was re-indexed)."""

    def __init__(self, text: str, severity: str = "information") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


# ---------------------------------------------------------------- one answer


class AnswerMessage(Message):
    def __init__(self, key: int) -> None:
        super().__init__()
        self.key = key


class AnswerRetrieved(AnswerMessage):
    def __init__(self, key: int, retrieved: Retrieved) -> None:
        super().__init__(key)
        self.retrieved = retrieved


class AnswerPrompt(AnswerMessage):
    def __init__(self, key: int, ready: PromptReady) -> None:
        super().__init__(key)
        self.ready = ready


class AnswerToken(AnswerMessage):
    def __init__(self, key: int, text: str) -> None:
        super().__init__(key)
        self.text = text


class AnswerNotice(AnswerMessage):
    def __init__(self, key: int, text: str) -> None:
        super().__init__(key)
        self.text = text


class AnswerDone(AnswerMessage):
    def __init__(self, key: int, done: Done) -> None:
        super().__init__(key)
        self.done = done


class AnswerFailed(AnswerMessage):
    def __init__(self, key: int, error: str) -> None:
        super().__init__(key)
        self.error = error


# ---------------------------------------------------------------- the RAG lab and lesson


class LabEvent(Message):
    """An answer event for one side of the lab: ``side`` is ``with`` or ``without`` (sources);
    ``run`` tells a stopped or superseded run's late events from the current one's."""

    def __init__(self, run: int, side: str, event: Event) -> None:
        super().__init__()
        self.run = run
        self.side = side
        self.event = event


class LabFailed(Message):
    def __init__(self, run: int, side: str, error: str) -> None:
        super().__init__()
        self.run = run
        self.side = side
        self.error = error


class LabLegs(Message):
    """The RAG lesson: each leg's ranking for the question (``dense``, ``lexical``, ``hybrid``)."""

    def __init__(self, run: int, legs: dict[str, list[Hit]]) -> None:
        super().__init__()
        self.run = run
        self.legs = legs


class LessonDone(Message):
    """The RAG lesson's worker has gathered everything (or failed with ``error``)."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


# ---------------------------------------------------------------- other workers


class ModelSwitched(Message):
    def __init__(self, model: str | None, error: str | None) -> None:
        super().__init__()
        self.model = model
        self.error = error


class MasteryLoaded(Message):
    def __init__(self, mastery: dict[int, float]) -> None:
        super().__init__()
        self.mastery = mastery


class DocumentLoaded(Message):
    def __init__(self, doc_id: str, chunks: list[Any], error: str | None = None) -> None:
        super().__init__()
        self.doc_id = doc_id
        self.chunks = chunks
        self.error = error
