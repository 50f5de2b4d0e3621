"""The answer plan, the glossary reader and the gate's fragment rules: unit tests on fixed passages."""
from __future__ import annotations

import pytest

from tutor.gate import SentenceGate
from tutor.glossary import Glossary, parse
from tutor.plan import make_plan, question_kinds, usable_sentence
from tutor.retrieve import Hit


def hit(n: int, text: str, doc: str = "note", claims: tuple[int, ...] = (),
        source: str = "corpus/notes/note.md") -> Hit:
    return Hit(n, f"{doc}@v#{n}", doc, "A note", source, "section", text, 1.0, 1.0,
               claims=list(claims))


GLOSSARY = """---
id: glossary
title: Glossary
claims: []
language: en
---

# Glossary

## Sycophancy

Terms: sycophancy; 迎合; シコファンシー
Any sentence at all about the term.
用語についての任意の文です。
Notes: claim-4

## Kaplan

Terms: Kaplan; Kaplan et al.; カプラン
Another sentence.
Notes: kaplan-2020

## Wei

Terms: Wei; ウェイ
Notes: claim-2

## A heading without a terms line

Just prose.
"""


@pytest.mark.parametrize("question,history,kinds", [
    ("What is sycophancy?", (), ["definition"]),
    ("迎合とは何ですか？", (), ["definition"]),
    ("How much data does Chinchilla use per parameter?", (), ["figure"]),
    ("チンチラは1パラメータあたり何トークン？", (), ["figure"]),
    ("Why can't we read the model's mind?", (), ["why"]),
    ("なんで指示通りに動かないの？", (), ["why"]),
    ("Give me an example of a world model", (), ["example"]),
    ("世界モデルの例を教えて", (), ["example"]),
    ("What's the difference between Kaplan and Chinchilla?", (), ["comparison"]),
    ("KaplanとChinchillaの違いは？", (), ["comparison"]),
    ("What does claim 4 say?", (), ["claim"]),
    ("主張4って何？", (), ["claim"]),
    ("why?", (("What is claim 8?", "Claim 8 says ..."),), ["followup", "why"]),
    ("例えば？", (("主張4について教えて", "主張4は..."),), ["followup", "example"]),
    ("What is sycophancy and why does it get worse with size?", (), ["definition", "why"]),
])
def test_question_kinds_in_both_languages(question, history, kinds):
    assert question_kinds(question, history) == kinds


def test_why_question_takes_the_reason_sentence():
    h = [hit(1, "Claim 5 is about interpretability. Experts cannot read a model because its "
                "behaviour is spread over billions of learned weights. Some circuits are known.",
             doc="claim-5", claims=(5,))]
    plan = make_plan("Why can't experts read how a model works?", h)
    assert "because" in plan.picks[0].sentence


def test_figure_question_takes_the_sentence_with_the_figure():
    h = [hit(1, "Chinchilla is a model from DeepMind. It was trained with about 20 tokens per "
                "parameter. It beat Gopher on many tasks.", doc="kaplan-2020", claims=(1,))]
    plan = make_plan("How many tokens per parameter did Chinchilla use?", h)
    assert "20 tokens" in plan.text and plan.kinds == ["figure"]


def test_example_question_takes_the_example_sentence_in_japanese():
    h = [hit(1, "主張3は世界モデルについての主張です。例えばOthello-GPTは、オセロの手だけから盤面の状態を内部に持ちました。",
             doc="claim-3", claims=(3,))]
    plan = make_plan("世界モデルの例を教えて", h)
    assert "Othello-GPT" in plan.picks[0].sentence and plan.language == "ja"


def test_comparison_question_takes_the_contrasting_sentence():
    h = [hit(1, "Kaplan et al. said parameters should grow faster than data. Chinchilla, in contrast, "
                "grows parameters and data in equal proportion. Both fit power laws.",
             doc="kaplan-2020", claims=(1,))]
    plan = make_plan("How does Chinchilla differ from Kaplan on parameters and data?", h)
    assert "in contrast" in plan.picks[0].sentence


def test_definition_prefers_the_sentence_that_says_what_the_term_is():
    h = [hit(1, "Perez et al. studied sycophancy in many models over several years. "
                "Sycophancy is the habit of agreeing with whatever the user says.",
             doc="claim-4", claims=(4,))]
    plan = make_plan("What is sycophancy?", h)
    assert plan.picks[0].sentence.startswith("Sycophancy is")


def test_claim_overview_in_japanese_takes_the_japanese_summary():
    h = [Hit(1, "claim-4@v#0", "claim-4", "Claim 4", "corpus/notes/claim-4.md", "overview",
             "Claim 4 says there are no reliable techniques for steering LLMs.", 1.0, 1.0, claims=[4]),
         Hit(2, "claim-4@v#6", "claim-4", "Claim 4", "corpus/notes/claim-4.md", "日本語の要点",
             "主張4は「LLMの動作を確実に制御する技術はまだない」というものです。手法はあります。",
             1.0, 1.0, claims=[4])]
    assert make_plan("主張4って何？", h).picks[0].source == 2
    assert make_plan("What does claim 4 say?", h).picks[0].source == 1


def test_sentences_from_another_claim_are_not_added():
    h = [hit(1, "Sycophancy is agreeing with the user's stated views instead of answering.",
             doc="claim-4", claims=(4,)),
         hit(2, "The capability gacha is a random draw of what a bigger model can do, and sycophancy "
                "is not part of it.", doc="claim-2", claims=(2,))]
    plan = make_plan("What is sycophancy and why does it get worse?", h)
    assert [p.source for p in plan.picks] == [1]
    assert any("another claim" in line for line in plan.explain())


def test_follow_up_reads_the_previous_question_and_says_something_new():
    h = [hit(1, "Claim 8 says brief chats mislead. A prompt that asks for steps turns failures "
                "into successes, because the model then works the problem out.",
             doc="claim-8", claims=(8,))]
    history = [("What does claim 8 say?", "Claim 8 says brief chats mislead. [1]")]
    plan = make_plan("why?", h, history=history)
    assert plan.kinds[0] == "followup"
    assert plan.picks and "because" in plan.picks[0].sentence


def test_no_answering_sentence_falls_back_to_the_best_passage():
    h = [hit(1, "Zebras have stripes that confuse flies in warm grasslands.", doc="other")]
    plan = make_plan("Tell me about quantum chromodynamics in detail.", h)
    assert plan.fallback and plan.picks and plan.picks[0].source == 1


def test_fragments_and_bare_citations_are_not_usable():
    assert not usable_sentence("[1] says that experts cannot yet read the model's mind.")
    assert not usable_sentence("The results are as follows:")
    assert not usable_sentence("Terms: sycophancy; 迎合")
    assert not usable_sentence("experts cannot yet read the inner workings of")
    assert usable_sentence("Experts cannot yet read the inner workings of LLMs.")
    assert usable_sentence("専門家はまだ内部を解釈できません。")


def test_glossary_parses_any_glossary_in_the_format():
    terms = parse(GLOSSARY)
    assert [t.heading for t in terms] == ["Sycophancy", "Kaplan", "Wei"]
    assert terms[0].spellings == ("sycophancy", "迎合", "シコファンシー")
    assert terms[0].notes == ("claim-4",) and terms[2].notes == ("claim-2",)


def test_glossary_reads_katakana_and_kanji_as_english_and_back():
    g = Glossary(parse(GLOSSARY))
    assert any("kaplan" in r for r in g.readings("カプランの論文のデータの指数は？"))
    assert any("迎合" in r for r in g.readings("Why does sycophancy grow?"))
    assert g.explain("迎合って何？") == ["迎合 = sycophancy"]
    # whole words and whole katakana words only: "weights" is not Wei, ウェイト is not ウェイ
    assert g.matches("what are the weights?") == [] and g.matches("ウェイトとは") == []
    assert [m.term.heading for m in g.matches("ウェイらの定義は？")] == ["Wei"]
    assert g.readings("What is the capital of France?") == ["what is the capital of france?"]


def test_gate_drops_a_bare_citation_sentence_and_never_releases_a_cut_off_one():
    gate = SentenceGate("", ["Experts cannot yet read the inner workings of large language models."], 1)
    out, verdict = gate.feed("[1] says that experts cannot yet read the inner workings. ")
    assert out == "" and verdict is None
    out, verdict = gate.finish(keep_partial=True)
    assert out == ""
    gate.feed("Experts cannot yet read the inner workings of large language models [1]. ")
    gate.feed("Experts cannot yet read the inner")
    out, verdict = gate.finish(keep_partial=True)
    assert out == "" and verdict == "fragment"
    assert gate.accepted.strip().endswith("[1].")


def test_gate_drops_a_continuation_that_makes_the_leads_citation_its_subject():
    sources = ["When a model is asked to answer questions it can sometimes fail, the note says."]
    gate = SentenceGate("Poor results come from poor instructions. [2]", sources, 3)
    out, _ = gate.feed(" says that when a model is asked to answer questions, it can sometimes fail. ")
    assert out == ""
    out, _ = gate.feed("When a model is asked to answer questions it can sometimes fail [1]. ")
    assert out.startswith("When a model")


def test_gate_drops_a_stray_citation_line():
    gate = SentenceGate("Sycophancy is agreeing with the user. [2]", ["Sycophancy is agreeing."], 4)
    out, _ = gate.feed("\n[4]. ")
    assert out.strip() == ""
