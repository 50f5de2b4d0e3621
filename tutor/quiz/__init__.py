"""Quiz mode: the question bank, deterministic grading, FSRS scheduling and mastery.

The chat sidebar calls :func:`mastery_by_claim`; everything else is used by
:mod:`tutor.quizcli` and :mod:`tutor.tui.quiz_screen`. Nothing here imports the TUI or the CLI.
"""
from __future__ import annotations

from pathlib import Path

CLAIMS = tuple(range(1, 9))
CLAIM_SHORT = {1: "Predictable scaling", 2: "Unpredictable emergence", 3: "World representations",
               4: "No reliable steering", 5: "Not yet interpretable", 6: "Beyond human level",
               7: "Values are shaped", 8: "Brief chats mislead"}


def mastery_by_claim(home: Path, bank_dir: Path | None = None) -> dict[int, float]:
    """Mastery of claims 1-8 (0.0 to 1.0) from recent quiz results in ``home``.

    Cheap and side-effect free: reads ``<home>/quiz.sqlite`` read-only (all zeros when there
    is none yet) and the bank in ``corpus/quiz`` (or ``bank_dir``). An item's mastery is the
    weighted credit of its last three ratings (Again 0, Hard 0.6, Good/Easy 1; weights 1, 0.5,
    0.25, most recent first); a claim's is the mean over its bank items, unseen ones counting 0.
    """
    from ..config import CORPUS_DIR
    from .bank import BankError, load_bank
    from .schedule import mastery, read_recent_ratings

    try:
        bank = load_bank(bank_dir or CORPUS_DIR / "quiz")
    except BankError:
        return {n: 0.0 for n in CLAIMS}
    return mastery(bank.items, read_recent_ratings(home))


__all__ = ["CLAIMS", "CLAIM_SHORT", "mastery_by_claim"]
