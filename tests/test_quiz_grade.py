"""Grading: every bank item right and wrong, normalisation, the labelled short answers."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tutor.config import CORPUS_DIR, PROJECT_ROOT
from tutor.quiz.bank import load_bank
from tutor.quiz.grade import EmbeddingSimilarity, Grader

BANK = load_bank(CORPUS_DIR / "quiz")
ITEMS = BANK.items
LABELLED = [json.loads(line) for line in
            (PROJECT_ROOT / "benchmarks" / "short_answers.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
plain = Grader()  # no embedder: multiple choice and cloze never need one


@pytest.fixture(scope="session")
def embedded_grader() -> Grader:
    from tutor.embed import Embedder

    sim = EmbeddingSimilarity(Embedder(threads=1))
    sim.warm(ITEMS)
    return Grader(sim)


def wrong_answers(item):
    for i, option in enumerate(item.options):
        if not option.correct:
            yield option.text
            yield "ABCD"[i]
            yield str(i + 1)
    yield from (w.text for w in item.wrong)


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.id)
def test_own_answer_is_correct_and_wrong_answers_are_wrong(item):
    assert plain.grade(item, item.answer).verdict == "correct"
    if item.kind == "multiple_choice":
        right = item.correct_index
        for form in ("ABCD"[right], "abcd"[right], str(right + 1), f"({'abcd'[right]})"):
            assert plain.grade(item, form).verdict == "correct", form
    for answer in wrong_answers(item):
        grade = plain.grade(item, answer)
        assert grade.verdict == "wrong", (answer, grade)
        assert grade.feedback and grade.right_answer


@pytest.mark.slow
@pytest.mark.parametrize("item", [i for i in ITEMS if i.kind == "short_answer"], ids=lambda i: i.id)
def test_short_answers_with_the_embedder(item, embedded_grader):
    for reference in item.all_references:
        assert embedded_grader.grade(item, reference).verdict == "correct", reference
    for wrong in item.wrong:
        assert embedded_grader.grade(item, wrong.text).verdict == "wrong", wrong.text


def test_wrong_choice_says_why():
    item = BANK.get("c4-sycophancy")
    sandbagging = next(i for i, o in enumerate(item.options) if o.text.startswith("Endorsing"))
    grade = plain.grade(item, "ABCD"[sandbagging])
    assert grade.verdict == "wrong" and grade.chosen == sandbagging
    assert "sandbagging" in grade.why_wrong and "sandbagging" in grade.feedback
    assert item.answer in grade.feedback


@pytest.mark.parametrize("item_id, answer, verdict", [
    ("k20-alpha-n", ".076", "correct"),
    ("k20-alpha-n", "０.０７６", "correct"),       # full-width digits
    ("k20-alpha-n", "about 0.076", "correct"),
    ("k20-alpha-n", "0.077", "wrong"),             # never typo tolerance for numbers
    ("k20-alpha-n", "0.0076", "wrong"),
    ("c1-gpt4-smaller-runs", "10000", "correct"),
    ("c1-gpt4-smaller-runs", "10,000x", "correct"),
    ("c1-gpt4-smaller-runs", "1万", "correct"),
    ("c6-next-token-direction", "Worse", "correct"),
    ("c4-sandbagging", "Sandbaging", "correct"),   # one typo in 11 letters
    ("c4-sandbagging", "sandbxgxng", "wrong"),     # two typos is too many
    ("c2-examples-cot", "chain of thought", "correct"),
    ("c2-examples-cot", "Chain-of-Thought!", "correct"),
    ("c3-unicorn-tikz", "tikz", "correct"),
    ("c3-unicorn-tikz", "tikx", "wrong"),          # under 6 characters: no typo tolerance
    ("b23-math-slips", "the arithmatic", "correct"),
    ("c8-abcd-accuracy", "zero", "correct"),
    ("c8-abcd-accuracy", "0%", "correct"),
    ("c8-abcd-accuracy", "", "wrong"),
])
def test_cloze_normalisation(item_id, answer, verdict):
    assert plain.grade(BANK.get(item_id), answer).verdict == verdict


def test_multiple_choice_by_text_ignores_case_and_punctuation():
    item = BANK.get("c8-failed-chat")
    assert plain.grade(item, item.answer.upper() + " !!").verdict == "correct"
    assert plain.grade(item, "E").verdict == "wrong"
    assert "not one of the options" in plain.grade(item, "E").feedback


def test_japanese_items():
    gacha = BANK.get("c2-ja-gacha")
    for answer in ("ガチャ", "がちゃ", "ｶﾞﾁｬ", " ガチャ。"):
        assert plain.grade(gacha, answer).verdict == "correct", answer
    assert plain.grade(gacha, "くじ").verdict == "wrong"
    short = BANK.get("c2-ja-emergence-short")
    right = plain.grade(short, "小さいモデルにはなく、大きいモデルで現れる、外挿では予測できない能力。")
    assert right.verdict == "correct"
    # the negation guard: 予測できる is not 予測できない
    assert plain.grade(short, "大きいモデルで現れる、予測できる能力。").verdict != "correct"
    assert "模範解答" in plain.grade(short, "大きいモデルの能力").feedback
    choice = BANK.get("c2-ja-first-surprise")
    assert plain.grade(choice, choice.answer).verdict == "correct"
    assert "正解" in plain.grade(choice, choice.answer).feedback


def test_negation_guard_in_english():
    item = BANK.get("c6-own-words")
    assert plain.grade(item, "LLMs can outperform humans; human skill is not the ceiling.").verdict == "correct"
    assert plain.grade(item, "LLMs cannot exceed humans.").verdict == "wrong"


def test_unsure_band_shows_the_reference_and_invites_judgement():
    item = BANK.get("c3-othello-short")
    grade = plain.grade(item, "It showed the model had an internal board.")
    assert grade.verdict == "partial" and grade.unsure
    assert item.answer in grade.feedback and "judge for yourself" in grade.feedback


@pytest.mark.slow
def test_labelled_short_answers_agree_with_the_grader(embedded_grader):
    verdicts = [embedded_grader.grade(BANK.get(r["item_id"]), r["answer"]).verdict for r in LABELLED]
    agree = sum(r["label"] == v for r, v in zip(LABELLED, verdicts)) / len(LABELLED)
    false_accepts = sum(v == "correct" and r["label"] != "correct" for r, v in zip(LABELLED, verdicts))
    assert len(LABELLED) >= 40
    assert {r["lang"] for r in LABELLED} == {"en", "ja"}
    assert agree >= 0.90, agree
    assert false_accepts / len(LABELLED) <= 0.05


def test_grading_is_fast_without_the_embedder():
    worst = 0.0
    for item in ITEMS:
        start = time.perf_counter()
        plain.grade(item, item.answer)
        worst = max(worst, time.perf_counter() - start)
    assert worst < 0.05


@pytest.mark.slow
def test_short_answer_latency_with_the_embedder(embedded_grader):
    times = []
    for row in LABELLED:
        start = time.perf_counter()
        embedded_grader.grade(BANK.get(row["item_id"]), row["answer"])
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.05
