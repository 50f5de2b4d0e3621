"""The RAG lesson: one question walked through retrieval, fusion, the prompt and both answers.

Seven steps, each with two or three sentences in English and Japanese (drawn from the RAG note,
``corpus/notes/rag.md``) above the live data for the question: each leg's top passages, the
fused ranking, the prompt and its budget, the answer with sources and the same model's answer
without them. One thread worker gathers the data and only posts messages; → / ← (or n / p) move
between steps, Esc stops the worker or closes the lesson.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ..lab import difference
from . import messages as msg
from .lab_screen import Side, marked, sources_table, stream_side
from .panels import budget_table, hit_dict

if TYPE_CHECKING:
    from .backend import Backend

DEFAULT_QUESTION = "What exponent did Kaplan et al. find for the power law in model size N?"


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    en: str
    ja: str


STEPS = [
    Step("question", "The question",
         "A RAG tutor does not send your question straight to the model. It first searches the "
         "course material for passages about it, and only then asks the model to answer from "
         "them. The next steps show each stage for this one question.",
         "RAGのチューターは、質問をそのままモデルに渡しません。まず教材から関係する文章を検索し、"
         "その文章をもとに答えるようモデルに頼みます。次のステップから、この質問での各段階を順に見ます。"),
    Step("dense", "The dense leg: meaning",
         "The question is turned into a vector by the embedding model all-MiniLM-L6-v2, and "
         "chromadb returns the passages whose vectors are closest by cosine similarity. This leg "
         "matches meaning even without shared words, but it only understands English well.",
         "質問は埋め込みモデルall-MiniLM-L6-v2でベクトルになり、chromadbがコサイン類似度の近い文章を返します。"
         "言葉が一致しなくても意味で見つけられますが、英語以外は苦手です。"),
    Step("lexical", "The lexical leg: words",
         "BM25 ranks passages by the terms they share with the question, weighting rare terms "
         "more. Japanese is split into pairs of characters, so this leg finds Japanese text and "
         "exact terms such as arXiv numbers that the embedder can miss.",
         "BM25は質問と共通する語で文章を順位付けし、珍しい語ほど重く数えます。日本語は2文字ずつに区切るので、"
         "埋め込みが見落とす日本語や論文番号のような正確な語もこの方法で見つかります。"),
    Step("fusion", "Fusion: reciprocal rank fusion",
         "The two rankings are merged by reciprocal rank fusion: each passage scores the sum of "
         "1/(10 + rank) over the lists it appears in (10 is a smoothing constant). A passage "
         "ranked well by both legs wins; the table shows each leg's rank beside the fused score.",
         "2つの順位は相互順位融合（RRF）で統合されます。各文章は、現れた順位ごとに1/(10+順位)を合計した点を得るので"
         "（10はならすための定数）、両方で上位の文章が勝ちます。表には各方法の順位と統合後の点を並べています。"),
    Step("prompt", "The prompt and its budget",
         "The top passages become numbered <source> blocks in the prompt, after a system message "
         "that says to answer only from them and cite them like [1]. Everything must fit the "
         "model's context window (n_ctx) with room kept for the answer.",
         "上位の文章は番号付きの<source>ブロックとしてプロンプトに入り、その前のシステムメッセージが、"
         "文章だけを根拠に[1]のように引用して答えるよう指示します。全体は回答の余地を残してモデルの文脈長（n_ctx）に収めます。"),
    Step("with", "The answer with sources",
         "The answer opens with the source sentence that best matches the question, cited, and "
         "the model continues only while its sentences stay grounded in the passages. Figures "
         "and names a passage gives are marked green.",
         "回答は質問に最も合う出典の文から引用付きで始まり、モデルの文は出典に根拠がある間だけ続きます。"
         "文章にある数字や名前は緑で示します。"),
    Step("without", "The same model without sources",
         "Now the same model, with the same settings, gets the question alone. With nothing to "
         "quote, a small model fills the gap with fluent invention: figures and names no passage "
         "supports are marked red. This is hallucination, and it is why RAG matters.",
         "同じモデルに同じ設定で、質問だけを渡します。引用するものがないと、小さなモデルはもっともらしい作り話で埋めます。"
         "どの文章にもない数字や名前は赤で示します。これが幻覚（ハルシネーション）で、RAGが必要な理由です。"),
]


def _leg_table(hits: list[dict[str, Any]], leg: str) -> Table | Text:
    if not hits:
        return Text("This leg found nothing.", style="dim")
    table = Table(box=None, padding=(0, 1), expand=True, header_style="bold")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("passage", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("cosine" if leg == "dense" else "BM25", justify="right", no_wrap=True)
    for n, src in enumerate(hits, 1):
        value = src.get("dense") if leg == "dense" else src.get("lexical")
        table.add_row(str(n), f"{src.get('title', '')} — {src.get('location', '')}",
                      "—" if value is None else f"{float(value):.3f}")
    return table


class LessonScreen(Screen[None]):
    """A palette entry, "RAG lesson": one question, step by step."""

    DEFAULT_CSS = """
    LessonScreen #lesson-title { padding: 0 1; text-style: bold; color: $text-accent; }
    LessonScreen #lesson-en, LessonScreen #lesson-ja { padding: 0 1; margin: 0 0 1 0; }
    LessonScreen #lesson-ja { color: $text-muted; }
    LessonScreen #lesson-body { height: 1fr; padding: 0 1; border-top: solid $accent; }
    """

    BINDINGS = [
        Binding("right,n", "step(1)", "Next step"),
        Binding("left,p", "step(-1)", "Previous step"),
        Binding("escape", "stop_or_close", "Stop / back"),
    ]

    def __init__(self, backend: Backend, question: str, use_llm: bool, k: int) -> None:
        super().__init__()
        self.backend = backend
        self.question = question
        self.use_llm = use_llm
        self.k = k
        self.step = 0
        self.legs: dict[str, list[dict[str, Any]]] = {}
        self.sides = {"with": Side(), "without": Side()}
        self.budget: dict[str, int] = {}
        self.running = True
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="lesson-title")
        yield Static("", id="lesson-en")
        yield Static("", id="lesson-ja")
        with VerticalScroll(id="lesson-body"):
            yield Static("", id="lesson-data")
        yield Footer()

    def on_mount(self) -> None:
        self.redraw()
        self.gather(self.backend, self.question, self.k, self.use_llm, self._cancel)

    # ------------------------------------------------------------ the worker

    @work(thread=True, exclusive=True, group="lesson", name="lesson")
    def gather(self, backend: Backend, question: str, k: int, use_llm: bool,
               cancel: threading.Event) -> None:
        from .chat import _describe

        try:
            legs = {leg: backend.search(question, k=k, leg=leg)
                    for leg in ("dense", "lexical", "hybrid")}
            self.post_message(msg.LabLegs(0, legs))
            for side in ("with", "without"):
                if not cancel.is_set():
                    stream_side(backend, self.post_message, 0, side, question, k=k,
                                leg="hybrid", claim=None, use_llm=use_llm, cancel=cancel)
        except Exception as exc:
            self.post_message(msg.LessonDone(_describe(exc)))
            return
        self.post_message(msg.LessonDone())

    def on_lab_legs(self, message: msg.LabLegs) -> None:
        self.legs = {leg: [hit_dict(h) for h in hits] for leg, hits in message.legs.items()}
        self.redraw()

    def on_lab_event(self, message: msg.LabEvent) -> None:
        from ..pipeline import PromptReady

        self.sides[message.side].apply(message.event)
        if message.side == "with" and isinstance(message.event, PromptReady):
            self.budget = dict(message.event.budget)
        self.redraw()

    def on_lesson_done(self, message: msg.LessonDone) -> None:
        self.running = False
        if message.error:
            self.notify(message.error, title="RAG lesson", severity="error")
        self.redraw()

    # ------------------------------------------------------------ keys

    def action_step(self, delta: int) -> None:
        self.step = max(0, min(len(STEPS) - 1, self.step + delta))
        self.redraw()

    def action_stop_or_close(self) -> None:
        if self.running:
            self._cancel.set()
            self.running = False
            self.notify("Stopped; the steps keep what was gathered.")
            self.redraw()
            return
        self.dismiss()

    def on_unmount(self) -> None:
        self._cancel.set()

    # ------------------------------------------------------------ drawing

    def redraw(self) -> None:
        step = STEPS[self.step]
        self.query_one("#lesson-title", Static).update(Text.assemble(
            f"RAG lesson · step {self.step + 1} of {len(STEPS)}: {step.title}",
            ("   → next · ← previous · Esc back", "dim not bold")))
        self.query_one("#lesson-en", Static).update(step.en)
        self.query_one("#lesson-ja", Static).update(step.ja)
        self.query_one("#lesson-data", Static).update(self.data(step.key))

    def _waiting(self, what: str) -> Text:
        return Text(f"{what}…" if self.running else f"{what}: stopped before it came.",
                    style="dim italic")

    def data(self, key: str) -> Any:
        sources = [str(s.get("text", "")) for s in self.sides["with"].sources]
        if key == "question":
            return Text.assemble(("Question: ", "bold"), self.question)
        if key in ("dense", "lexical"):
            if key not in self.legs:
                return self._waiting("searching")
            return _leg_table(self.legs[key], key)
        if key == "fusion":
            if "hybrid" not in self.legs:
                return self._waiting("searching")
            return sources_table(self.legs["hybrid"])
        if key == "prompt":
            with_ = self.sides["with"]
            if not self.budget:
                return (Text(with_.note or "No model: no prompt is built.", style="yellow")
                        if with_.state == "done" else self._waiting("building the prompt"))
            return Group(budget_table(self.budget, 0),
                         Text("\n" + with_.prompt.strip(), style="dim"))
        side = self.sides[key]
        if side.state == "waiting":
            return self._waiting("the model is busy with the step before")
        parts: list[Any] = []
        if side.note:
            parts.append(Text(side.note, style="yellow"))
        if side.answer:
            parts.append(marked(side.answer, sources))
        if key == "without" and side.state == "done":
            diff = difference(self.sides["with"].answer, side.answer, sources,
                              model=side.model is not None)
            parts.append(Text.assemble("\n", ("Difference: ", "bold"), diff.summary))
        return Group(*parts) if parts else self._waiting("answering")
