"""The eight claims, in English and Japanese, with quiz mastery when the quiz has data."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from .claims import CLAIMS, Claim


def mastery_bar(value: float, cells: int = 8) -> Text:
    value = max(0.0, min(1.0, value))
    full = round(value * cells)
    out = Text()
    out.append("quiz ", style="dim")
    out.append("▰" * full, style="green")
    out.append("▱" * (cells - full), style="bright_black")
    out.append(f" {value * 100:.0f}%", style="dim")
    return out


def claim_label(c: Claim, mastery: float | None) -> Text:
    out = Text()
    out.append(f"{c.number} ", style="bold")
    out.append(c.title)
    out.append("\n  " + c.title_ja, style="dim")
    if mastery is not None:
        out.append("\n  ")
        out.append_text(mastery_bar(mastery))
    return out


class ClaimList(OptionList):
    BINDINGS = [Binding("j", "explain_ja", "Explain in Japanese", show=True),
                Binding("p", "practise", "Quiz on this claim", show=True)]

    def action_explain_ja(self) -> None:
        if self.highlighted is not None:
            self.post_message(ClaimsSidebar.Explain(self.highlighted + 1, japanese=True))

    def action_practise(self) -> None:
        if self.highlighted is not None:
            self.post_message(ClaimsSidebar.Practise(self.highlighted + 1))


class ClaimsSidebar(Vertical):
    """Choosing a claim asks the tutor to explain it, its own passages pinned as sources."""

    class Explain(Message):
        def __init__(self, claim: int, japanese: bool = False) -> None:
            super().__init__()
            self.claim = claim
            self.japanese = japanese

    class Practise(Message):
        """Open the quiz on one claim's items."""

        def __init__(self, claim: int) -> None:
            super().__init__()
            self.claim = claim

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mastery: dict[int, float] = {}
        self.mastery_loaded = False

    def compose(self) -> ComposeResult:
        yield Label("Eight things to know · 8つの主張", classes="panel-title")
        yield ClaimList(*[Option(claim_label(c, None), id=f"claim-{c.number}") for c in CLAIMS],
                        id="claims")

    def set_mastery(self, mastery: dict[int, float]) -> None:
        self.mastery = dict(mastery)
        options = self.query_one(ClaimList)
        for c in CLAIMS:
            options.replace_option_prompt(f"claim-{c.number}",
                                          claim_label(c, self.mastery.get(c.number)))
        self.mastery_loaded = True
        # the bars make each claim a line taller: keep the highlighted claim in view
        options.call_after_refresh(options.scroll_to_highlight)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("claim-"):
            self.post_message(self.Explain(int(event.option.id.removeprefix("claim-"))))
