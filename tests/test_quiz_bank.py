"""The question bank: coverage of every claim, verbatim sources, well-formed items."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tutor.config import CORPUS_DIR
from tutor.quiz.bank import BankError, load_bank, parse_item, quote_problems

BANK_DIR = CORPUS_DIR / "quiz"


@pytest.fixture(scope="module")
def bank():
    return load_bank(BANK_DIR)


def test_every_claim_and_both_papers_have_six_items(bank):
    by_topic = Counter(i.topic for i in bank.items)
    for topic in [f"claim-{n}" for n in range(1, 9)] + ["kaplan-2020", "bubeck-2023"]:
        assert by_topic[topic] >= 6, (topic, by_topic[topic])
    by_claim = Counter(i.claim for i in bank.items)
    assert all(by_claim[n] >= 6 for n in range(1, 9)), by_claim


def test_every_quote_is_verbatim_in_the_corpus(bank):
    assert quote_problems(bank.items, CORPUS_DIR) == []


def test_all_three_kinds_and_some_japanese(bank):
    kinds = Counter(i.kind for i in bank.items)
    assert set(kinds) == {"multiple_choice", "cloze", "short_answer"}
    assert sum(i.lang == "ja" for i in bank.items) >= 10


def test_items_match_the_json_contract(bank):
    keys = {"id", "claim", "kind", "prompt", "answer", "explanation", "source"}
    for item in bank.items:
        obj = json.loads(json.dumps(item.as_json(), ensure_ascii=False))
        assert keys <= set(obj)
        assert obj["claim"] is None or 1 <= obj["claim"] <= 8
        assert set(obj["source"]) == {"doc_id", "quote"}
        assert len(item.hints) == 2 and item.explanation
        if item.kind == "multiple_choice":
            assert len(obj["choices"]) == 4 and obj["answer"] in obj["choices"]
            assert all(o.why for o in item.options if not o.correct)
        else:
            assert "choices" not in obj


def test_correct_options_are_spread_over_positions(bank):
    positions = Counter(i.correct_index for i in bank.items if i.kind == "multiple_choice")
    assert len(positions) == 4 and max(positions.values()) < 0.5 * sum(positions.values())


RAW = {"id": "x-stable", "kind": "multiple_choice", "prompt": "Which?", "hints": ["a", "b"],
       "explanation": "e", "source": {"doc": "claim-1", "quote": "q"},
       "options": [{"text": "right", "correct": True}, {"text": "w1", "why": "."},
                   {"text": "w2", "why": "."}, {"text": "w3", "why": "."}]}


def test_rewording_keeps_the_id_and_the_option_order():
    before = parse_item(RAW, {"claim": 1}, "t.toml")
    reworded = dict(RAW, prompt="Which one, really?",
                    options=[{"text": "right, reworded", "correct": True}, *RAW["options"][1:]])
    after = parse_item(reworded, {"claim": 1}, "t.toml")
    assert after.id == before.id
    assert after.correct_index == before.correct_index


@pytest.mark.parametrize("change, message", [
    ({"options": RAW["options"][:3]}, "four options"),
    ({"hints": ["only one"]}, "two hints"),
    ({"id": "Bad Id"}, "'id'"),
    ({"kind": "essay"}, "'kind'"),
    ({"options": [dict(o, correct=False) for o in RAW["options"]]}, "exactly one"),
])
def test_malformed_items_are_named(change, message):
    with pytest.raises(BankError, match=message):
        parse_item(dict(RAW, **change), {"claim": 1}, "t.toml")


def test_duplicate_ids_and_bad_toml_are_reported(tmp_path: Path):
    item = '[[item]]\nid = "dup-id"\nkind = "cloze"\nprompt = "a ____"\nanswer = "b"\n' \
           'hints = ["h", "i"]\nexplanation = "e"\nsource = { doc = "d", quote = "q" }\n' \
           'wrong = [{ text = "c" }]\n'
    (tmp_path / "a.toml").write_text(item, encoding="utf-8")
    (tmp_path / "b.toml").write_text(item, encoding="utf-8")
    with pytest.raises(BankError, match="dup-id: id already used"):
        load_bank(tmp_path)
    (tmp_path / "b.toml").write_text("[[item]\n", encoding="utf-8")
    with pytest.raises(BankError, match="b.toml: cannot read"):
        load_bank(tmp_path)
