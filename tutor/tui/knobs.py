"""The retrieval knobs (k, leg, claim filter), shared by the prompt inspector and the RAG lab.

Plain widgets with no engine import, so the chat's first paint does not wait for them.
"""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Select

LEG_LABELS = (("hybrid", "hybrid"), ("dense", "dense"), ("BM25", "lexical"))  # short: the panel is narrow


class RetrievalKnobs(Horizontal):
    """Three selects: how many sources (k), which leg finds them, and an optional claim filter."""

    DEFAULT_CSS = """
    RetrievalKnobs { height: 3; width: auto; }
    RetrievalKnobs #knob-k { width: 11; }
    RetrievalKnobs #knob-leg { width: 14; }
    RetrievalKnobs #knob-claim { width: 15; }
    """

    def __init__(self, k: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.k = max(1, min(k, 8))

    def compose(self) -> ComposeResult:
        yield Select([(f"k={n}", n) for n in range(1, 9)], value=self.k, allow_blank=False,
                     id="knob-k", tooltip="number of sources put in front of the model")
        yield Select(LEG_LABELS, value="hybrid", allow_blank=False, id="knob-leg",
                     tooltip="which retrieval leg finds the sources: both fused, dense (embeddings) "
                     "only, or BM25 (words) only")
        yield Select([("any", 0)] + [(f"claim {n}", n) for n in range(1, 9)], value=0,
                     allow_blank=False, id="knob-claim", tooltip="only passages about one claim")

    def values(self) -> tuple[int, str, int | None]:
        k = self.query_one("#knob-k", Select).value
        leg = self.query_one("#knob-leg", Select).value
        claim = self.query_one("#knob-claim", Select).value
        return int(k), str(leg), int(claim) or None  # type: ignore[call-overload]

    def describe(self) -> str:
        k, leg, claim = self.values()
        label = dict((v, lab) for lab, v in LEG_LABELS)[leg]
        return f"k = {k}, {label} leg" + (f", claim {claim} only" if claim else "")
