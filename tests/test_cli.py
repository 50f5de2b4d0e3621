"""The command-line contract (../shared/conventions.md), driven like a user: real processes."""
from __future__ import annotations

import json

import pytest

from conftest import json_lines, run_tutor

RESULT_KEYS = {"rank", "doc_id", "title", "source", "location", "score", "text"}


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


def test_search_json_shape(cli_home):
    proc = run_tutor(["search", "scaling laws and model size", "--json", "-k", "3"], cli_home)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert obj["query"] == "scaling laws and model size"
    assert len(obj["results"]) == 3
    assert RESULT_KEYS <= set(obj["results"][0])
    assert [r["rank"] for r in obj["results"]] == [1, 2, 3]


def test_search_reads_queries_from_stdin(cli_home):
    proc = run_tutor(["search", "-", "--json", "-k", "2"], cli_home, stdin="emergent abilities\n能力ガチャ\n\n")
    assert proc.returncode == 0, proc.stderr
    rows = json_lines(proc.stdout)
    assert [r["query"] for r in rows] == ["emergent abilities", "能力ガチャ"]
    assert "能力ガチャ" in rows[1]["results"][0]["text"]


def test_search_human_output_and_claim_filter(cli_home):
    proc = run_tutor(["search", "world model", "--claim", "3", "-k", "2"], cli_home)
    assert proc.returncode == 0
    assert "[1]" in proc.stdout and "score" in proc.stdout


def test_ask_no_llm_json(cli_home):
    proc = run_tutor(["ask", "What is claim 1?", "--json", "--no-llm"], cli_home)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert {"question", "answer", "sources", "model", "timings"} <= set(obj)
    assert obj["sources"] and RESULT_KEYS <= set(obj["sources"][0])
    assert "[1]" in obj["answer"] and obj["model"] is None


def test_a_declined_question_says_why(cli_home):
    proc = run_tutor(["ask", "--no-llm", "when is the next big cicada emergence expected in illinois?"],
                     cli_home)
    assert proc.returncode == 0, proc.stderr
    assert "does not cover" in proc.stdout
    assert "(declined: it is about something the course never mentions: cicada, illinois)" in proc.stdout


def test_ask_with_the_real_model_from_stdin(cli_home):
    proc = run_tutor(["ask", "-", "--json"], cli_home,
                     stdin="What did Kaplan et al. find?\nWhat is sycophancy?\n")
    assert proc.returncode == 0, proc.stderr
    rows = json_lines(proc.stdout)
    assert len(rows) == 2
    for row in rows:
        assert row["sources"] and row["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert {"retrieval_ms", "first_token_ms", "total_ms", "completion_tokens",
                "tokens_per_s"} <= set(row["timings"])
        assert "[" in row["answer"]
    assert "ycophancy" in rows[1]["answer"]


def test_missing_model_is_one_line_and_still_answers(cli_home, tmp_path):
    proc = run_tutor(["ask", "What is sycophancy?", "--model", str(tmp_path / "missing.gguf")], cli_home)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.gguf" in errors[0] and "not found" in errors[0]
    assert "Sources:" in proc.stdout and "[1]" in proc.stdout
    no_traceback(proc)


def test_model_that_is_not_a_gguf(cli_home, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_text("this is not a model")
    proc = run_tutor(["ask", "What is claim 2?", "--json", "--model", str(fake)], cli_home)
    assert proc.returncode == 1
    assert "fake.gguf: not a GGUF model file" in proc.stderr
    assert json.loads(proc.stdout)["sources"]
    no_traceback(proc)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question(cli_home, question):
    proc = run_tutor(["ask", question], cli_home)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: question: the question is empty"


def test_usage_errors_exit_2(cli_home):
    for args in (["frobnicate"], ["search"], ["search", "x", "-k", "many"]):
        proc = run_tutor(args, cli_home)
        assert proc.returncode == 2, args
        no_traceback(proc)


def test_bad_config_is_one_line(cli_home, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("k = 'lots'\n")
    proc = run_tutor(["search", "x"], cli_home, env={"TUTOR_CONFIG": str(cfg)})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "k = 'lots'" in proc.stderr


@pytest.mark.parametrize("argv", [["--no-llm"], ["chat", "--no-llm"], ["--no-llm", "chat"]])
def test_no_llm_reaches_the_tui(argv, monkeypatch, tmp_path):
    """`tutor --no-llm` opens the TUI without loading the model (in-process: no terminal here)."""
    import tutor.tui.app as app_module
    from tutor.cli import main

    seen: dict[str, object] = {}
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TUTOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setattr(app_module, "run_app",
                        lambda settings, screen="chat", use_llm=True, quiz_claim=None: seen.update(use_llm=use_llm) or 0)
    assert main(argv) == 0
    assert seen == {"use_llm": False}
    assert main([]) == 0 and seen == {"use_llm": True}


def test_quiz_claim_opens_the_quiz_on_that_claim(monkeypatch, tmp_path):
    import tutor.tui.app as app_module
    from tutor.cli import main

    seen: dict[str, object] = {}
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TUTOR_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setattr(app_module, "run_app", lambda settings, screen="chat", use_llm=True,
                        quiz_claim=None: seen.update(screen=screen, claim=quiz_claim) or 0)
    assert main(["quiz", "--claim", "6"]) == 0
    assert seen == {"screen": "quiz", "claim": 6}
    assert main(["quiz"]) == 0 and seen == {"screen": "quiz", "claim": None}


def test_quiz_claim_out_of_range_is_a_usage_error(cli_home):
    proc = run_tutor(["quiz", "--claim", "9"], cli_home)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    no_traceback(proc)
