"""The RAG lab: with and without sources, the difference reading, the retrieval knobs, the CLI."""
from __future__ import annotations

import pytest

from conftest import json_lines, run_tutor
from tutor.lab import (BARE_SYSTEM_PROMPT, bare_answer, difference, figures, names, supported,
                       tuned)
from tutor.pipeline import Done, PromptReady, Token, Tutor

SOURCES = ["In the Kaplan et al. fit the exponent alpha_N is about 0.076, so each doubling of N "
           "multiplies the loss by about 0.95.",
           "Chinchilla had 70B parameters trained on 1.4T tokens, 20 tokens per parameter."]


def test_figures_and_names_leave_out_citations_and_lone_digits():
    text = "Claim 4 says Kaplan et al. found 0.076 [1]; GPT-4 used 10,000x less compute and 67.5 % [2]."
    assert figures(text) == ["0.076", "10,000x", "67.5%"]
    assert "Kaplan" in names(text) and "GPT-4" in names(text) and "Claim" not in names(text)
    assert names("チンチラは20トークン") == ["チンチラ"]
    assert names("Sycophancy is agreeing. Anecdotal evidence, says Smith.") == ["Smith"]


def test_support_is_checked_by_digits_and_by_name():
    assert supported("0.076", SOURCES) and supported("1.4T", SOURCES) and supported("20", SOURCES)
    assert not supported("0.5", SOURCES) and not supported("2019", SOURCES)
    assert supported("kaplan", SOURCES) and not supported("Smith", SOURCES)


def test_difference_names_what_only_one_answer_says_and_what_no_source_gives():
    diff = difference("The fit of Kaplan et al. gives an exponent of about 0.076 [1].",
                      "A study by Smith et al. found in 2019 that the exponent is 0.5, as "
                      "Bowman says.", SOURCES)
    assert diff.only_with == ["0.076", "Kaplan"]
    assert diff.only_without == ["2019", "0.5", "Smith", "Bowman"]  # Bowman: the system prompt
    assert diff.unsupported_without == ["2019", "0.5", "Smith"] and diff.unsupported_with == []
    assert "Only with sources: 0.076, Kaplan (all supported)" in diff.summary
    assert "3 that no source supports" in diff.summary
    same = difference("Kaplan found 0.076.", "Kaplan found 0.076.", SOURCES)
    assert same.same and "same" in same.summary
    assert "No comparison" in difference("a", "", SOURCES, model=False).summary


def test_bare_answer_has_no_sources_and_a_prompt_without_them(tutor_engine: Tutor):
    events = list(bare_answer(tutor_engine, "What exponent did Kaplan et al. find for model size?"))
    ready = next(e for e in events if isinstance(e, PromptReady))
    done = events[-1]
    assert isinstance(done, Done) and done.sources == [] and done.model
    assert BARE_SYSTEM_PROMPT in ready.prompt and "<source" not in ready.prompt
    assert "source" not in BARE_SYSTEM_PROMPT.lower()
    assert done.answer == "".join(e.text for e in events if isinstance(e, Token)).strip()
    assert done.timings["prompt_tokens"] == ready.prompt_tokens
    assert done.budget["sources"] == 0 and done.budget["prompt"] == ready.prompt_tokens


def test_bare_answer_without_a_model_says_so(tutor_engine: Tutor):
    events = list(bare_answer(tutor_engine, "What is sycophancy?", use_llm=False))
    assert "no model" in events[0].text  # type: ignore[attr-defined]
    assert isinstance(events[-1], Done) and events[-1].answer == "" and events[-1].model is None


@pytest.mark.parametrize("leg", ["dense", "lexical"])
def test_tuned_retrieval_uses_one_leg_and_k(tutor_engine: Tutor, leg: str):
    view = tuned(tutor_engine, k=2, leg=leg)
    found = view.retrieve("How many tokens per parameter does Chinchilla use?")
    assert len(found.hits) == 2
    other = "lexical" if leg == "dense" else "dense"
    assert all(leg in h.legs and other not in h.legs for h in found.hits)
    assert view.index is tutor_engine.index
    assert tuned(tutor_engine) is tutor_engine
    with pytest.raises(ValueError):
        tuned(tutor_engine, leg="bm42")


# ---------------------------------------------------------------- the CLI, real model


def test_ask_compare_json_in_english_and_japanese(cli_home):
    questions = {"What exponent did Kaplan et al. find for the power law in model size N?": "0.076",
                 "チンチラは1パラメータあたり何トークンで学習されましたか？": "20"}
    proc = run_tutor(["ask", "-", "--compare", "--json"], cli_home, stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = json_lines(proc.stdout)
    assert [r["question"] for r in rows] == list(questions)
    for row, key_fact in zip(rows, questions.values()):
        with_, without = row["with_sources"], row["without_sources"]
        assert set(with_) == set(without)  # the same shape
        assert with_["sources"] and without["sources"] == []
        assert with_["model"] == without["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert with_["answer"].strip() and without["answer"].strip()
        assert with_["answer"] != without["answer"]
        assert key_fact in with_["answer"]
        if with_["stopped_by"] == "language":
            # an English-only model does not write a Japanese answer: the planned sentences are
            # the sourced side, with no prompt sent, while the bare model still answers
            assert with_["timings"]["prompt_tokens"] == 0 and without["timings"]["prompt_tokens"] > 0
        else:
            assert without["timings"]["prompt_tokens"] < with_["timings"]["prompt_tokens"]
        diff = row["difference"]
        assert diff["summary"] and not diff["same_answer"]
        assert key_fact in diff["only_with_sources"] or key_fact in without["answer"]


def test_ask_compare_without_a_model_says_so_and_keeps_retrieval(cli_home):
    stdin = "What is sycophancy?\nWhat is claim 1?\n"
    proc = run_tutor(["ask", "-", "--compare", "--no-llm"], cli_home, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("== With sources ==") == 2 and "Sources:" in proc.stdout
    assert "Without sources" not in proc.stdout  # nothing to show: the one line below says why
    assert proc.stdout.count("No comparison: no model loaded") == 2
    proc = run_tutor(["ask", "-", "--compare", "--no-llm", "--json"], cli_home, stdin=stdin)
    assert proc.returncode == 0 and proc.stderr.count("no model loaded") == 1  # said once
    for row in json_lines(proc.stdout):
        assert row["with_sources"]["sources"] and row["without_sources"]["sources"] == []
        assert row["without_sources"]["model"] is None and row["without_sources"]["answer"] == ""
        assert row["without_sources"]["stopped_by"] == "no-llm"
    assert "Traceback" not in proc.stderr


def test_ask_leg_flag(cli_home):
    proc = run_tutor(["ask", "What is sycophancy?", "--no-llm", "--json", "--leg", "lexical"],
                     cli_home)
    assert proc.returncode == 0, proc.stderr
    (row,) = json_lines(proc.stdout)
    assert row["sources"] and all(s["legs"] == ["lexical"] for s in row["sources"])
    bad = run_tutor(["ask", "x", "--leg", "bm42"], cli_home)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_the_tui_backend_runs_the_lab_over_the_real_engine(tutor_engine: Tutor):
    from tutor.tui.backend import TutorBackend

    backend = TutorBackend(tutor_engine.settings)
    backend._tutor = tutor_engine  # the index is open already
    question = "How many tokens per parameter does Chinchilla use?"
    lexical = backend.search(question, k=3, leg="lexical")
    dense = backend.search(question, k=3, leg="dense")
    assert [h.legs for h in lexical] == [["lexical"]] * 3 and [h.legs for h in dense] == [["dense"]] * 3
    events = list(backend.ask_tuned(question, k=2, leg="lexical", claim=1, use_llm=False))
    done = events[-1]
    assert isinstance(done, Done) and len(done.sources) == 2
    assert all(1 in h.claims and h.legs == ["lexical"] for h in done.sources)
    bare = list(backend.ask_bare(question, use_llm=False))
    assert isinstance(bare[-1], Done) and bare[-1].sources == [] and bare[-1].model is None
