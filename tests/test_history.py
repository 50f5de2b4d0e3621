"""Chat history: schema versions, sessions, turns with citations, Markdown export."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tutor.history import SCHEMA_VERSION, History, HistoryError, cited_numbers

SOURCE = {"rank": 1, "doc_id": "claim-1", "title": "Claim 1", "source": "corpus/notes/claim-1.md",
          "location": "Scaling laws", "score": 0.98, "text": "Loss falls along a power law.",
          "chunk_id": "claim-1@abc#1", "relevance": 0.5, "legs": ["dense", "lexical"],
          "dense": 0.5, "lexical": 5.6, "claims": [1], "page": None}


def test_fresh_database_has_the_current_schema(tmp_path: Path) -> None:
    h = History(tmp_path)
    assert h.version == SCHEMA_VERSION >= 1
    assert h.sessions() == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "history.sqlite")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(HistoryError, match="newer tutor"):
        History(tmp_path)


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    h = History(tmp_path)
    s = h.new_session()
    h.add_turn(s.id, "What is claim 1?", answer="It is about scaling [1].", sources=[SOURCE])
    h.close()
    again = History(tmp_path)
    assert again.version == SCHEMA_VERSION
    assert [t.question for t in again.turns(s.id)] == ["What is claim 1?"]


def test_turn_round_trip_keeps_citations_and_budget(tmp_path: Path) -> None:
    h = History(tmp_path)
    s = h.new_session()
    h.add_turn(s.id, "What is claim 1?", answer="Scaling [1].", sources=[SOURCE], model="m.gguf",
               timings={"total_ms": 900.0}, budget={"n_ctx": 2048, "prompt": 800}, prompt="P",
               claim=1, notices=["hello"])
    (turn,) = History(tmp_path).turns(s.id)
    assert turn.sources == [SOURCE]
    assert turn.budget == {"n_ctx": 2048, "prompt": 800}
    assert turn.timings == {"total_ms": 900.0}
    assert (turn.model, turn.prompt, turn.claim, turn.notices) == ("m.gguf", "P", 1, ["hello"])
    assert turn.cited == [1]


def test_sessions_new_rename_delete_and_order(tmp_path: Path) -> None:
    h = History(tmp_path)
    a = h.new_session()
    b = h.new_session()
    h.add_turn(a.id, "   Why   do small models loop?  ")
    assert h.session(a.id).title == "Why do small models loop?"  # first question names it
    h.add_turn(a.id, "Second question")
    assert h.session(a.id).title == "Why do small models loop?"  # only the first one
    assert h.latest_session().id == a.id
    h.rename(b.id, "My notes")
    h.add_turn(b.id, "Another")
    assert h.session(b.id).title == "My notes"  # a renamed chat keeps its name
    assert [s.id for s in h.sessions()] == [b.id, a.id]
    assert h.session(a.id).turns == 2
    h.delete(a.id)
    assert [s.id for s in h.sessions()] == [b.id]
    assert h.turns(a.id) == []  # turns go with their session


def test_pairs_skip_errors_and_empty_answers(tmp_path: Path) -> None:
    h = History(tmp_path)
    s = h.new_session()
    h.add_turn(s.id, "q1", answer="a1 [1]")
    h.add_turn(s.id, "q2", status="error", error="boom")
    h.add_turn(s.id, "q3", answer="a3 [2]", status="stopped", stopped_by="cancelled")
    assert h.pairs(s.id) == [("q1", "a1 [1]"), ("q3", "a3 [2]")]


def test_export_markdown(tmp_path: Path) -> None:
    h = History(tmp_path)
    s = h.new_session()
    h.add_turn(s.id, "What is claim 1?", answer="Scaling laws [1].", sources=[SOURCE],
               model="SmolLM2.gguf", timings={"total_ms": 1500.0, "tokens_per_s": 40.0})
    h.add_turn(s.id, "Broken?", status="error", error="model exploded")
    out = h.export_to(s.id, tmp_path / "out" / "chat.md")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# What is claim 1?")
    assert "## 1. What is claim 1?" in text and "Scaling laws [1]." in text
    assert "1. **Claim 1** — Scaling laws (cited)" in text
    assert "`corpus/notes/claim-1.md` · score 0.98 · dense + lexical" in text
    assert "> Loss falls along a power law." in text
    assert "**Error:** model exploded" in text
    assert "SmolLM2.gguf · 1.5 s · 40 tokens/s" in text
    with pytest.raises(HistoryError):
        h.export_markdown(9999)


def test_japanese_text_survives(tmp_path: Path) -> None:
    h = History(tmp_path)
    s = h.new_session()
    h.add_turn(s.id, "主張1とは何ですか？", answer="投資に伴って能力が向上します [1]。",
               sources=[{**SOURCE, "text": "日本語の本文"}])
    (turn,) = History(tmp_path).turns(s.id)
    assert turn.question == "主張1とは何ですか？" and turn.sources[0]["text"] == "日本語の本文"
    assert "投資に伴って" in h.export_markdown(s.id)


def test_cited_numbers() -> None:
    assert cited_numbers("a [2] b [1] c [2] [10]") == [2, 1, 10]
    assert cited_numbers("none") == []
