"""Quiz mode: the question bank, deterministic grading, FSRS scheduling and mastery.

The chat sidebar calls :func:`mastery_by_claim`; everything else is used by
:mod:`tutor.quizcli` and :mod:`tutor.tui.quiz_screen`. Nothing here imports the TUI or the CLI.
"""
from __future__ import annotations
