"""`tutor quiz list` and `tutor quiz grade`, as scripts and the contract use them."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tutor.cli import main


def run(capsys, monkeypatch, home: Path, *argv: str, stdin: str = ""):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    monkeypatch.setenv("TUTOR_CONFIG", str(home / "no-config.toml"))
    monkeypatch.delenv("TUTOR_CORPUS", raising=False)
    code = main(["quiz", *argv, "--home", str(home)])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_matches_the_contract(capsys, monkeypatch, tmp_path: Path):
    code, out, _ = run(capsys, monkeypatch, tmp_path, "list", "--json")
    items = json.loads(out)
    assert code == 0 and len(items) >= 60
    for item in items:
        assert {"id", "claim", "kind", "prompt", "answer", "explanation", "source"} <= set(item)
        assert set(item["source"]) == {"doc_id", "quote"}
        if item["kind"] == "multiple_choice":
            assert item["answer"] in item["choices"]
    code, out, _ = run(capsys, monkeypatch, tmp_path, "list", "--json", "--claim", "3")
    assert {i["claim"] for i in json.loads(out)} == {3}
    assert not (tmp_path / "index.sqlite").exists()  # listing opens no index when there is none


def test_grade_one_answer(capsys, monkeypatch, tmp_path: Path):
    code, out, _ = run(capsys, monkeypatch, tmp_path, "grade", "k20-doubling-n", "0.95", "--json")
    result = json.loads(out)
    assert code == 0 and result["verdict"] == "correct" and result["score"] == 1.0
    assert set(result) >= {"item_id", "verdict", "score", "feedback", "source"}
    assert result["source"]["doc_id"] == "kaplan-2020"
    code, out, _ = run(capsys, monkeypatch, tmp_path, "grade", "k20-doubling-n", "0.5")
    assert code == 0 and "WRONG" in out and "halve" in out
    assert not (tmp_path / "quiz.sqlite").exists()  # grading from the shell records nothing


def test_unknown_item_and_missing_answer(capsys, monkeypatch, tmp_path: Path):
    code, out, err = run(capsys, monkeypatch, tmp_path, "grade", "no-such-item", "x", "--json")
    assert code == 1 and out == "" and err.strip() == "error: no-such-item: no such quiz item"
    code, _, err = run(capsys, monkeypatch, tmp_path, "grade", "k20-doubling-n")
    assert code == 2 and "usage" in err


def test_grade_json_lines_from_stdin(capsys, monkeypatch, tmp_path: Path):
    code, out, _ = run(capsys, monkeypatch, tmp_path, "list", "--json")
    items = [i for i in json.loads(out) if i["kind"] != "short_answer"]
    lines = [json.dumps({"item_id": i["id"], "answer": i["answer"]}) for i in items[:8]]
    lines += ['{"item_id": "nope", "answer": "x"}', "not json",
              json.dumps({"item_id": "c2-ja-gacha", "answer": "ガチャ"}, ensure_ascii=False)]
    code, out, err = run(capsys, monkeypatch, tmp_path, "grade", "-", "--json", stdin="\n".join(lines) + "\n")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(rows) == 11
    assert all(r["verdict"] == "correct" for r in rows[:8]) and rows[10]["verdict"] == "correct"
    assert rows[8] == {"item_id": "nope", "verdict": None, "error": "nope: no such quiz item"}
    assert rows[9]["verdict"] is None and "error" in rows[9]
    assert err.count("error:") == 2
