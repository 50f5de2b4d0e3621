"""The answer plan, the glossary reader and the gate's fragment rules: unit tests on fixed passages."""
from __future__ import annotations

import pytest

from tutor.gate import SentenceGate
from tutor.glossary import Glossary, parse
from tutor.plan import make_plan
from tutor.question import is_followup, question_kinds
from tutor.retrieve import Hit
from tutor.sentences import sentences_of, usable_sentence


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
    # digits inside names (BM25, GPT-4) do not make a figure question; counters and くらい do
    ("BM25って日本語だとどうやって単語に区切るの？", (), ["how"]),
    ("and how do they even estimate the compute of a run", (), ["how"]),
    ("if openai could predict gpt-4's loss could they predict its skills", (), ["check"]),
    ("what did GPT-4 score on HumanEval", (), ["figure"]),
    ("いちばん大きいモデルで何パラメータくらい？", (), ["figure"]),
    ("tl;dr of claim 5?", (), ["claim"]),
    ("claim 7 in plain words?", (), ["claim"]),
    ("主張1って要するに何？", (), ["claim"]),
    ("whats the evidence for world models", (), ["example"]),
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


def test_a_figure_lead_too_short_to_read_alone_takes_its_next_sentence():
    """「- もし人間が1万倍のニューロンが持ったら?」 alone was a fragment (heldout19's first run)."""
    h = [hit(1, "LLM自体も興味深いです。\n\n- もし人間が1万倍のニューロンが持ったら?\n- 人工知能は今後人権を持つのか?\n\n"
                "こんな事を想像していると、ワクワクしますね。", doc="article")]
    plan = make_plan("記事の作者ってSFっぽいこと書いてたよね、ニューロンが何倍とか", h)
    assert "1万倍" in plan.text and "人権" in plan.text


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
    # a sentence may open with a quoted title; a stray closing quote marks a fragment
    assert usable_sentence("\"Sparks of AGI\" by Bubeck et al. is a long report from Microsoft Research.")
    assert not usable_sentence("\" by Bubeck et al. is a long report from Microsoft Research.")
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


@pytest.mark.parametrize("question,followup", [
    ("具体的には？", True), ("つまりどういうこと？", True), ("それはなぜ？", True),
    ("why tho", True), ("got an example?", True),
    ("ok and does bowman agree with that view", True), ("what do they mean by exact match", True),
    ("What is sycophancy?", False), ("チンチラって何", False),
    ("what does claim 3 say about that", False),  # names its own topic
])
def test_follow_ups_that_point_back_at_the_last_turn(question, followup):
    assert is_followup(question, [("What is claim 3?", "Claim 3 says ... [1]")]) is followup


def test_sentences_are_not_cut_inside_a_quoted_title_or_brackets():
    text = ('Schaeffer et al. 2023, "Are Emergent Abilities a Mirage?" (arXiv:2304.15004), argue '
            'that metrics matter. 文末（。！？など）で文に区切ります。次の文です。')
    assert sentences_of(text) == [
        'Schaeffer et al. 2023, "Are Emergent Abilities a Mirage?" (arXiv:2304.15004), argue that '
        'metrics matter.', "文末（。！？など）で文に区切ります。", "次の文です。"]
    assert not usable_sentence('" (arXiv:2304.15004), argue that most abilities are mirages.')
    assert not usable_sentence("など）で文に区切ってチャンクにします。")


def test_a_sentence_that_points_back_comes_with_the_one_before():
    h = [hit(1, "Claim 4 is about steering. A capable model might recognise when it is being "
                "tested and behave well only then. If that happens, good behaviour in tests says "
                "little, which is why steering could get harder as models grow.",
             doc="claim-4", claims=(4,))]
    plan = make_plan("why might smarter models be harder to steer", h)
    assert plan.picks[0].sentence.startswith("A capable model might recognise")
    assert "points back" in plan.explain()[-1] or any("points back" in line for line in plan.explain())


def test_definition_needs_the_term_as_its_subject():
    h = [hit(1, "The debate between world models and stochastic parrots is not settled. "
                'The "stochastic parrot" view, from Bender et al. 2021, holds that a model '
                "stitches together patterns without grasping meaning.", doc="world-models")]
    plan = make_plan("whats a stochastic parrot", h)
    assert "stitches together" in plan.picks[0].sentence


def test_an_example_question_prefers_an_explicit_example_to_a_such_as_definition():
    h = [hit(1, "A world model means an internal picture of a situation, such as a game board. "
                "For example, Othello-GPT (Li et al. 2023) kept the board state in its "
                "activations.", doc="world-models")]
    plan = make_plan("give me an example of a world model", h)
    assert "Othello-GPT" in plan.picks[0].sentence


def test_the_plan_reads_an_unretrieved_section_of_the_topic_note_and_cites_it_after_the_sources():
    retrieved = [hit(1, "Claim 5 says experts cannot yet interpret LLMs.", doc="claim-5", claims=(5,)),
                 hit(2, "Zebras have stripes.", doc="zebra")]
    why = Hit(0, "claim-5@v#7", "claim-5", "Claim 5", "corpus/notes/claim-5.md",
              "Why LLMs are hard to interpret", "The behaviour is learned, not written, so there "
              "is no source code to read that explains an answer.", 0.0, 0.0, claims=[5])
    plan = make_plan("why can't we just read the model's source code?", retrieved,
                     more=lambda doc: [why] if doc == "claim-5" else [])
    assert [h.chunk_id for h in plan.added] == ["claim-5@v#7"]
    assert any(p.source == 3 and "source code" in p.sentence for p in plan.picks)
    assert plan.added[0].rank == 3


def test_a_sentence_the_question_quotes_is_not_the_answer():
    h = [hit(1, "記事は「内部状態を計測することすら困難」と書いています。", doc="claim-5", claims=(5,)),
         hit(2, "内部状態は正確に記録できるので、難しいのは計測ではなく解釈することです。", doc="claim-5",
                claims=(5,))]
    plan = make_plan("記事に「内部状態を計測することすら困難」ってあるけど、ほんと？", h)
    assert "正確に記録できる" in plan.picks[0].sentence


def test_gate_waits_for_the_rest_of_a_figure_and_does_not_end_at_et_al():
    src = ["Kaplan et al. 2020 found an exponent of 0.076 for model size, Wei et al. 2022 disagreed."]
    gate = SentenceGate("", src, 1)
    out, verdict = gate.feed("The exponent for model size is 0.")
    assert out == "" and verdict is None  # "0." may be the start of "0.076"
    out, verdict = gate.feed("076 [1]. As Kaplan et al. ")
    assert out == "The exponent for model size is 0.076 [1]. " and verdict is None
    out, verdict = gate.feed("2020 found, the exponent is 0.076 for model size [1]. ")
    assert out.startswith("As Kaplan et al. 2020 found")


def test_gate_splits_japanese_sentences_without_spaces_and_ends_at_a_language_switch():
    src = ["モデルを大きくすると損失が下がる。Kaplanらは指数を測った。データ量も効く。"]
    gate = SentenceGate("", src, 1, language="ja")
    out, verdict = gate.feed("モデルを大きくすると損失が下がる[1]。データ量も効く[1]。")
    assert out == "モデルを大きくすると損失が下がる[1]。" and verdict is None  # the second waits
    out, verdict = gate.feed("The loss goes down with more data [1]. ")
    assert "データ量も効く" in out and verdict == "other-language"


def test_gate_cites_an_uncited_grounded_sentence_and_drops_headings_and_echoes():
    src = ["Sycophancy is agreeing with the user.", "Emergence is a capability that appears suddenly at scale."]
    gate = SentenceGate("", src, 2)
    out, _ = gate.feed("The emergence debate: Wei et al. 2022 against Schaeffer et al. 2023.\n")
    assert out == ""
    out, _ = gate.feed("Question: what is emergence?\n")
    assert out == ""
    out, _ = gate.feed("Emergence is a capability that appears suddenly at scale. ")
    assert out == ""  # its citation may come next
    out, _ = gate.feed("Sycophancy")
    assert out == "Emergence is a capability that appears suddenly at scale. [2] "
    gate.feed(" is agreeing with the user. ")
    out, _ = gate.feed("[1] ")  # the model's own citation, after its full stop
    assert out == "Sycophancy is agreeing with the user. [1] "


def test_gate_does_not_let_the_model_cite_a_source_it_was_not_shown():
    gate = SentenceGate("", ["Sycophancy is agreeing with the user.", "Emergence appears at scale."],
                        5, numbers=[1, 4])
    out, verdict = gate.feed("Emergence appears at scale in big models [2]. ")
    assert out == "" and verdict == "ungrounded"
    gate = SentenceGate("", ["Sycophancy is agreeing with the user.", "Emergence appears at scale."],
                        5, numbers=[1, 4])
    gate.feed("Emergence appears suddenly at scale. ")
    out, _ = gate.finish(keep_partial=True)
    assert out.endswith("[4] ")  # cited with its own number, not its place in the list


@pytest.mark.parametrize("question,kinds", [
    ("Can AI companies reliably make their chatbots behave the way they want?", ["check"]),
    ("ボウマンの1こ目の主張って、お金かけたらAIがかしこくなるってこと？", ["check"]),
    ("What is sycophancy?", ["definition"]),
    ("主張1の根拠ってどの論文？", ["source"]),  # the evidence asked for is a paper
    ("which paper is the evidence for claim 1", ["source"]),
])
def test_yes_or_no_questions_are_their_own_kind(question, kinds):
    assert question_kinds(question) == kinds


def test_a_yes_or_no_question_about_a_claim_opens_with_the_claims_position(tutor_engine):
    from tutor.retrieve import referenced_claims
    assert referenced_claims("ボウマンの1こ目の主張って") == {1}
    question = "Can AI companies reliably make their chatbots behave the way they want?"
    found = tutor_engine.retrieve(question)
    plan, _ = tutor_engine.plan(question, found.hits)
    assert "no reliable techniques" in plan.picks[0].sentence


def test_a_yes_or_no_question_about_a_term_is_answered_on_the_term(tutor_engine):
    """Hallucination is a term of the course with a note of its own: the yes-or-no question about
    it is answered on it, not with claim 5's position (heldout10)."""
    question = "ハルシネーションのときLLMって嘘ついてる自覚あるってこと？"
    found = tutor_engine.retrieve(question)
    plan, _ = tutor_engine.plan(question, found.hits)
    assert not plan.text.startswith("主張5は"), plan.text
    assert "真偽" in plan.picks[0].sentence


def test_gate_leaves_out_a_line_that_does_not_end_like_a_sentence():
    src = ["Bowman 2023 is a survey paper about large language models and the Japanese blog article."]
    gate = SentenceGate("", src, 1)
    out, _ = gate.feed("The Japanese blog article is about the survey paper, so that is why you ask\n")
    assert out == ""
    out, _ = gate.feed("Bowman 2023 is a survey paper about large language models [1].\n")
    assert out.startswith("Bowman 2023 is a survey paper")


def test_gate_leaves_out_a_sentence_that_uses_a_citation_as_a_word():
    src = ["GPT-3 was trained with roughly 20,000 times the compute of the original GPT."]
    gate = SentenceGate("", src, 2)
    out, _ = gate.feed("The source says that [2] quotes a figure showing how the original GPT was "
                       "trained with roughly 20,000 times the compute of the original GPT.\n")
    assert out == ""
    out, _ = gate.feed("GPT-3 was trained with roughly 20,000 times the compute of the original GPT [1].\n")
    assert out.startswith("GPT-3 was trained")


def test_gate_drops_the_echoed_instruction_and_judges_japanese_by_its_content_words():
    """Qwen opened 11 of 15 Japanese answers with 「日本語で答えてください。」, the prompt's own
    line, which stopped the answer as ungrounded; and a plain Japanese answer (「…中立ではありま
    せん。」) failed on its particles' bigrams (した, だけ), which no source needs to hold."""
    src = ["事前学習だけのモデルは中立ではなく、学習データの偏りを映します。"]
    gate = SentenceGate("", src, 1, language="ja")
    out, verdict = gate.feed("日本語で答えてください。\n")
    assert out == "" and verdict is None
    out, verdict = gate.feed("事前学習しただけのモデルなら中立ではありません。 [1]\n")
    assert verdict is None and out.startswith("事前学習しただけのモデル")
    out, verdict = gate.feed("量子コンピュータの暗号解読は未解決の難問です。 [1]\n")
    assert verdict == "ungrounded" and out == ""


def test_gate_leaves_out_a_question_the_model_writes():
    """Qwen wrote the learner's question back (「…人間に勝ったの？[1]」): a question answers nothing."""
    src = ["LeetCode問題で38.0%（人間のユーザーは38.2%で同等）でした。"]
    gate = SentenceGate("", src, 1, language="ja")
    out, verdict = gate.feed("LeetCodeの問題でGPT-4は人間に勝ったの？[1]\n")
    assert out == "" and verdict is None
    gate = SentenceGate("", ["The loss falls as a power law in model size."], 1)
    out, verdict = gate.feed("Does the loss fall as a power law in model size? [1]\n")
    assert out == "" and verdict is None


def _entry(term: str, text: str) -> Hit:
    return Hit(0, f"glossary@v#{term}", "glossary", "Glossary", "corpus/notes/glossary.md", term,
               text, 0.0, 0.0)


GLOSSARY_ENTRIES = [
    _entry("Sycophancy", "Terms: sycophancy; 迎合; シコファンシー\n\nSycophancy is a model's habit of "
           "agreeing with a user's stated views. 迎合（シコファンシー）とは、ユーザーの意見にモデルが合わせてしまう傾向です。"),
    _entry("Kaplan", "Terms: Kaplan; Kaplan et al.; カプラン\n\nKaplan is the first author of the "
           "scaling-laws paper. カプランは、スケーリング則の論文の筆頭著者です。"),
]


def test_a_definition_question_reads_the_glossary_entry_for_its_term():
    """「迎合ってなに？」: the top source uses the term but does not say what it is; the
    glossary's entry does, and it is cited after the sources."""
    retrieved = [hit(1, "迎合は、モデルが大きくなるほど強まり、RLHFでも消えません。", doc="rlhf",
                     claims=(4, 6, 7))]
    plan = make_plan("迎合ってなに？シコファンシーってやつ？", retrieved, glossary=Glossary(parse(GLOSSARY)),
                     more=lambda doc: GLOSSARY_ENTRIES if doc == "glossary" else [])
    assert "合わせてしまう傾向" in plan.picks[0].sentence
    assert plan.picks[0].source == 2 and plan.added[0].doc_id == "glossary"


def test_an_authors_entry_answers_who_but_not_what_their_experiment_used():
    retrieved = [hit(1, "カプランらは、計算量が増えたら主にモデルを大きくすべきだと考えました。",
                     doc="kaplan-2020", claims=(1,))]
    glossary = Glossary(parse(GLOSSARY))
    more = lambda doc: GLOSSARY_ENTRIES if doc == "glossary" else []  # noqa: E731
    what = make_plan("カプランの実験って、どんなデータだったの？", retrieved, glossary=glossary, more=more)
    assert not any("筆頭著者" in p.sentence for p in what.picks)
    who = make_plan("カプランって誰？", retrieved, glossary=glossary, more=more)
    assert "筆頭著者" in who.picks[0].sentence


def test_an_english_sentence_followed_by_a_japanese_one_is_two_sentences():
    text = '"Capability gacha" is the article\'s image for claim 2. 「能力ガチャ」は主張2を表した言葉です。'
    assert sentences_of(text) == ['"Capability gacha" is the article\'s image for claim 2.',
                                  "「能力ガチャ」は主張2を表した言葉です。"]


def test_a_date_or_a_model_name_in_japanese_is_not_a_figure():
    from tutor.sentences import has_figure
    assert not has_figure("Microsoft Researchが2023年3月22日に投稿した論文で、専用GPT-4を調べました。")
    assert has_figure("HumanEvalのpass@1が82%でした。")


def test_which_paper_is_its_own_kind_in_both_languages():
    assert question_kinds("which paper found the power law?") == ["source"]
    history = [("how much does the loss go down if I double the model?", "About 5% [1]")]
    assert question_kinds("それってどの論文の結果？", history) == ["followup", "source"]


def test_a_follow_up_keeps_the_topic_of_the_question_it_follows():
    """「それってどの論文の結果？」 searched with the question before it ranked claim 3 first; the
    earlier question's own sources say the topic is claim 1."""
    history = [("so if i make my model twice as big, how much does the loss go down?",
                "Each doubling lowers the loss by about 5%. [1]")]
    hits = [hit(1, "Claim 3 matters because it argues against the parrot view.", doc="claim-3",
                claims=(3,)),
            hit(2, "スケーリング則（Kaplan et al. 2020）は、損失がべき乗則に従うことを示した論文です。",
                doc="kaplan-2020", claims=(1,))]
    earlier = [hit(2, "Kaplan et al. found the loss falls as a power law.", doc="kaplan-2020", claims=(1,))]
    plan = make_plan("それってどの論文の結果？", hits, history=history, topic_from=earlier)
    assert plan.topic.startswith("claim 1")
    assert "Kaplan et al. 2020" in plan.picks[0].sentence


def test_a_question_that_names_an_author_is_about_their_papers_note():
    """「ブベックたちってなんで…テスト…」: retrieval ranked claim 4 ("testing situations") first; the
    author the question names says the topic is the note on their paper."""
    glossary = Glossary(parse(GLOSSARY))
    retrieved = [hit(1, "高性能なモデルほど、テストの場面だけ意図どおりに振る舞う恐れがあります。",
                     doc="claim-4", claims=(4,))]
    paper = Hit(0, "kaplan-2020@v#9", "kaplan-2020", "Kaplan 2020", "corpus/notes/kaplan-2020.md",
                "日本語の要点", "カプランらは、テストの損失がべき乗則に従うことを示しました。", 0.0, 0.0,
                claims=[1])
    plan = make_plan("カプランたちってなんでテストの損失を調べたの？", retrieved, glossary=glossary,
                     more=lambda doc: [paper] if doc == "kaplan-2020" else [])
    assert plan.topic.startswith("claim 1"), plan.topic
    assert "べき乗則" in plan.picks[0].sentence


def test_an_english_question_opens_in_english_when_an_english_sentence_answers():
    """"why though?" after a Japanese question: the Japanese summary was retrieved first, but an
    English sentence that answers opens the answer."""
    hits = [hit(1, "理由は、LLMが人間が一生で読めるよりはるかに多くの文章を学習することです。", doc="claim-6",
                claims=(6,)),
            hit(2, "The reason is that a model learns from far more text than any person could read.",
                doc="claim-6", claims=(6,))]
    plan = make_plan("why though? what are the reasons", hits,
                     history=[("人間より賢くはなれないでしょ？", "主張6は…です。 [1]")])
    assert plan.picks[0].sentence.startswith("The reason is")


def test_the_fallback_takes_a_passage_on_the_topic():
    """「例えば？」 after a claim-5 question: when no sentence scores as an answer, the best
    passage on claim 5 is used, not the Japanese list of all eight claims ranked above it."""
    history = [("主張5って、なんで中身が見えないの？", "主張5は「専門家はまだ内部動作を解釈できない」というものです。 [1]")]
    hits = [hit(1, "Claim 5 says experts cannot yet interpret LLMs.", doc="claim-5", claims=(5,)),
            hit(2, "8つの主張は、(1) 投資で能力が向上する、(2) 能力は予期せず現れる、です。",
                doc="bowman-2023", claims=(1, 2, 3, 4, 5, 6, 7, 8))]
    plan = make_plan("例えば？", hits, history=history)
    assert plan.picks and plan.picks[0].source == 1, plan.explain()


def test_a_pronoun_inside_the_questions_own_clause_does_not_make_it_a_follow_up():
    history = [("例えば？", "…")]
    assert not is_followup("what's a real example of a model telling people what they want to hear?",
                           history)
    assert is_followup("ok and does bowman agree with that view?", history)


def test_japanese_reading_keeps_an_acronym_unless_asked_to_expand_it():
    g = Glossary(parse("""## RLHF (人間のフィードバックによる強化学習)

Terms: RLHF; 人間のフィードバックによる強化学習

RLHF trains a model from human comparisons.
"""))
    kept = g.readings("迎合ってRLHFで直せないの？")
    assert all("フィードバック" not in r for r in kept)
    assert any("フィードバック" in r for r in g.readings("迎合ってRLHFで直せないの？", expand_acronyms=True))


def test_the_words_of_a_named_claim_do_not_count_as_question_terms():
    from tutor.plan import _claim_words
    assert _claim_words("claim 3 mentions something about colour words??") == {"claim", "3"}
    assert _claim_words("主張6でボウマンが出してるゲームのたとえって何？") == {"主張", "6"}
    assert _claim_words("what does chinchilla claim?") == set()


def test_a_very_short_lead_at_the_end_of_its_passage_reads_with_the_sentence_before_it():
    h = [hit(1, "創発の多くは、不連続な指標で測ったときに現れます。なお、創発のグラフは横軸がモデル規模の対数です。",
             doc="emergence-debate", claims=(2,))]
    plan = make_plan("創発のグラフって急にジャンプしてるように見えるけど、横軸って何？", h)
    assert plan.text.startswith("創発の多くは") and "横軸" in plan.text
    unrelated = [hit(1, "足し算の正答率は0%まで落ちました。ブログ記事は「上司次第」と書いています。",
                     doc="sparks", claims=(2,))]
    alone = make_plan("記事の「上司次第」ってつまり何が言いたいの？", unrelated)
    assert "正答率" not in alone.text  # the sentence before shares no word with the question


def test_a_list_that_holds_the_term_set_aside_answers_what_else():
    h = [hit(1, "Claim 4 says that there are no reliable techniques for steering LLMs.",
             doc="claim-4", claims=(4,)),
         hit(2, "The main tools for steering LLMs are prompting, supervised fine-tuning, RLHF, "
                "and Constitutional AI.", doc="claim-4", claims=(4,)),
         hit(3, "RLHF trains a reward model on human preferences.", doc="rlhf", claims=(4,))]
    plan = make_plan("besides RLHF what other steering tools does claim 4 list", h)
    assert "Constitutional AI" in plan.picks[0].sentence


def test_what_the_articles_author_thinks_comes_from_the_article():
    h = [hit(1, "主張4は、LLMの動作を確実に制御する技術はまだない、というものです。", doc="claim-4", claims=(4,)),
         Hit(2, "article@v#3", "article", "記事", "corpus/article.md", "4.",
             "人間相手でも制御は難しいのに、色々な人格を1個の脳みそに入れたらそうなるよなと思います。",
             1.0, 1.0, claims=[4])]
    plan = make_plan("記事の作者はなんでLLMが思い通りに動かないのは当然って思ってるの？", h)
    assert any("1個の脳みそ" in p.sentence for p in plan.picks)


def test_the_next_sentence_about_another_model_is_not_joined_to_the_lead():
    h = [hit(1, "Othello-GPTは内部に盤面の状態を持ち、それを書き換えると予測する手が変わりました。"
                "初期のGPT-4はユニコーンを描きました。", doc="world-models", claims=(3,))]
    plan = make_plan("Othello-GPTの盤面を書き換えたらどうなったの？", h)
    assert "予測する手" in plan.text and "ユニコーン" not in plan.text


def test_a_question_on_an_authors_papers_reads_the_authors_entry():
    retrieved = [hit(1, "Wei et al. 2022は、大きいモデルで急に現れる能力を創発と呼びました。",
                     doc="emergence-debate", claims=(2,))]
    wei = _entry("Wei", "Terms: Wei; ウェイ\n\nウェイは、創発を定義した論文と思考の連鎖の論文という、"
                 "2022年の別々の2本の論文の筆頭著者です。")
    plan = make_plan("ウェイの2022年の論文って、創発のやつとCoTのやつは同じ論文？", retrieved,
                     glossary=Glossary(parse(GLOSSARY.replace("Terms: Wei; ウェイ", "Terms: Wei; ウェイ; Wei et al."))),
                     more=lambda doc: [wei] if doc == "glossary" else [])
    assert "別々の2本" in plan.picks[0].sentence
    plain = make_plan("ウェイらは創発をどう定義した？", retrieved, glossary=Glossary(parse(
        GLOSSARY.replace("Terms: Wei; ウェイ", "Terms: Wei; ウェイ; Wei et al."))),
                      more=lambda doc: [wei] if doc == "glossary" else [])
    assert "別々の2本" not in plain.text  # asks about emergence, not about the author's papers
    assert question_kinds("ウェイの2022年の論文って何？")[0] != "figure"  # a year is not a figure


def test_how_strong_the_evidence_is_is_a_yes_or_no_question():
    history = [("what's the unicorn thing in the sparks of agi paper?", "GPT-4 drew a unicorn.")]
    assert question_kinds("is that strong evidence tho", history) == ["followup", "check"]
    assert question_kinds("それって強い証拠なの？", history) == ["followup", "check"]
    assert question_kinds("what evidence is there for world models") == ["example"]
    assert question_kinds("is there an example of this in the paper?")[0] == "example"


def test_a_phrase_that_says_where_in_the_paper_is_not_a_question_term():
    h = [hit(1, "Bowman ends the paper with several discussion points. Some flaws will shrink.",
             doc="closing", claims=()),
         hit(2, "Bowman argues that there are strong incentives to deploy LLMs as agents.",
             doc="closing", claims=())]
    plan = make_plan("what did bowman say about agents at the end of the paper", h)
    assert "agents" in plan.picks[0].sentence
    alone = make_plan("what did bowman say at the end of the paper", h)
    assert alone.picks[0].sentence.startswith("Bowman ends")  # the place is all it asks


def test_why_the_article_says_a_quoted_phrase_is_answered_by_the_articles_next_sentence():
    """The article's section on the claim is read although retrieval left it out, and the sentence
    after the quoted one explains the quote; the quote read back is not added."""
    article = [Hit(0, f"article@v#{n}", "article", "記事", "corpus/article.md", "4.", text, 0.0, 0.0,
                   claims=[4]) for n, text in
               [(4, "すごい人間っぽい。人と同じで指示通りには動きません。どんだけ厳密に指示を書いても100%ではありません。"),
                (5, "専門家はまだ内部を解釈できません。")]]
    article[1].claims = [5]
    h = [hit(1, "プロンプトやRLHFといった手法はありますが、どれも望む振る舞いを保証しません。"
                "高性能なモデルほど、テストの場面でだけ意図どおりに振る舞う恐れがあります。"
                "ブログ記事は「すごい人間っぽい」と表現しています。", doc="claim-4", claims=(4,))]
    from tutor.sentences import ANSWER_CUES
    from tutor.question import cue
    assert not cue(ANSWER_CUES["why"], "それは人が書いたものです。")  # もので is no ので
    assert cue(ANSWER_CUES["why"], "読めないので、解釈が難しいのです。")
    plan = make_plan("なんで記事は主張4を「すごい人間っぽい」って言ってるの？", h,
                     more=lambda doc: article if doc == "article" else [])
    assert "人と同じで指示通りには動きません" in plan.text
    assert "表現しています" not in plan.text and "解釈" not in plan.text
    assert [a.chunk_id for a in plan.added] == ["article@v#4"]


def test_a_follow_up_asking_for_a_figure_may_restate_the_last_answer():
    """"so what was the exponent" after an answer that gave it: the figure is the answer, although
    the last answer said it (chosen as an answer, not as the fallback's best sentences)."""
    said = "Kaplan et al. found that loss falls as a power law in model size with exponent about 0.076."
    h = [hit(1, said + " For dataset size the fitted exponent of the same law is about 0.095.",
             doc="kaplan-2020", claims=(1,))]
    history = [("what did kaplan find about model size and loss?", said + " [1]")]
    plan = make_plan("so what was the exponent", h, history=history)
    assert "0.076" in plan.picks[0].sentence and "best sentences" not in plan.picks[0].why


def test_a_word_the_question_quotes_is_answered_by_the_sentence_that_quotes_it():
    """「なんで「見える」って言い方なの？」: the sentence on the word 「見える」 answers, not the
    claim's position, which uses the word without discussing it."""
    h = [hit(1, "主張3は、LLMが世界モデルを学習して使っているように見える、というものです。"
                "代表例はOthello-GPTです。", doc="claim-3", claims=(3,)),
         hit(2, "Othello-GPTの盤面は書き換えられました。「見える」という慎重な表現は、証拠が間接的で、"
                "議論が続いていることを示しています。", doc="claim-3", claims=(3,))]
    plan = make_plan("主張3ってなんで「見える」って言い方なの？", h)
    assert "証拠が間接的" in plan.picks[0].sentence
    assert "quotes the word asked about" in plan.picks[0].why
    en = [hit(1, "Claim 3 says that LLMs seem to learn and use a model of the world.", doc="claim-3",
              claims=(3,)),
          hit(2, 'The wording is careful: they "appear to" do so, and the evidence is still contested.',
              doc="claim-3", claims=(3,))]
    plan = make_plan('why does claim 3 say "appear"?', en)
    assert any("still contested" in p.sentence for p in plan.picks)


def test_who_found_something_asks_for_the_finder_not_who_someone_is():
    assert question_kinds("GPT3が思考の連鎖を使えるって、だれが見つけたの？") == ["source"]
    assert question_kinds("誰がスケーリング則を見つけたの？") == ["source"]
    assert question_kinds("who first noticed gpt-3 could do chain of thought?") == ["source"]
    assert question_kinds("カプランって誰？") == ["definition"]
    assert question_kinds("who wrote the eight things paper?") == ["definition"]


def test_a_sentence_that_fits_the_kind_but_holds_no_word_of_the_question_is_not_added():
    """"who discovered ...?": a sentence naming another study (et al., a year) fits 'source' but
    says nothing of what was asked."""
    h = [hit(1, "Bowman stresses that GPT-3's ability to profit from chain-of-thought prompting was "
                "discovered by users after release.", doc="claim-2", claims=(2,)),
         hit(2, "Kadavath et al. 2022 showed that large models can estimate well whether their own "
                "answers are right.", doc="hallucination", claims=(2,))]
    plan = make_plan("who discovered that gpt-3 could do chain of thought?", h)
    assert "by users" in plan.text and "Kadavath" not in plan.text


def test_a_lead_holding_most_of_the_question_stays_first():
    """A sentence that fits the kind goes first only when it holds as much of the question as the
    lead: "what was the thing about GPT-4 counting primes?" opens on the primes, not on what
    GPT-4 is."""
    h = [hit(1, "Asked how many prime numbers lie between 150 and 250, an early GPT-4 answered 13; "
                "when it first listed the primes, it counted 18 correctly.", doc="claim-8", claims=(8,)),
         hit(2, "GPT-4 is OpenAI's successor to GPT-3; its technical report is arXiv:2303.08774.",
             doc="claim-8", claims=(8,))]
    plan = make_plan("for claim 8, what was the thing about GPT-4 counting primes?", h)
    assert "prime numbers" in plan.picks[0].sentence


def test_a_sentence_that_announces_what_follows_reads_with_the_next_one():
    """"... because of two choices in Kaplan's method." answers a why only with the choices
    (heldout13: "why did kaplan and hoffmann get diffrent answers"); the extras of an answer
    take the next sentence only when the sentence is short, or announces it."""
    from tutor.sentences import announces, with_next
    sents = ["Kaplan and Chinchilla disagree mainly because of two choices in Kaplan's method.",
             "Kaplan et al. used one fixed learning-rate schedule for their runs.",
             "A third sentence."]
    assert announces(sents[0]) and announces("Bowman draws two lessons from claim 8.")
    assert announces("理由は2つです。") and not announces("Kaplan et al. fitted two exponents.")
    assert with_next(sents, 0, limit=60) == " ".join(sents[:2])
    assert with_next(sents, 1, limit=60) == sents[1]


def test_a_count_in_words_is_a_figure_but_the_papers_title_is_not():
    from tutor.sentences import has_figure
    assert has_figure("Bubeck et al. queried the system three times over about a month.")
    assert has_figure("Chinchilla used twice the data.")
    assert not has_figure('Bowman 2023, "Eight Things to Know about Large Language Models", is a survey.')


def test_a_misspelt_what_is_still_asks_for_a_definition():
    assert question_kinds("wats in-context learning? is it like few shot") == ["definition"]
    assert question_kinds("wat is sycophancy") == ["definition"]


def test_a_consequence_after_so_is_a_reason():
    from tutor.question import cue
    from tutor.sentences import ANSWER_CUES
    assert cue(ANSWER_CUES["why"], "Exact match gives credit only when every token is right, "
               "so a model that gets most tokens right still scores zero.")
    assert not cue(ANSWER_CUES["why"], "Two studies have tested it, so far.")


@pytest.mark.parametrize("question", [
    "how did gpt4 do on humaneval in that sparks of agi paper",
    "how does gpt-4 perform on leetcode",
    "how would a 10x bigger model do on the benchmark",
])
def test_how_a_model_did_asks_for_its_result(question):
    """"how did X do on Y" asks for a score, not how something works."""
    assert question_kinds(question) == ["figure"]


def test_how_it_does_something_is_still_a_how_question():
    assert question_kinds("how does it do that") == ["how"]


def test_is_called_defines_the_term():
    from tutor.sentences import defines
    assert defines("An ability is called emergent when smaller models lack it, larger models "
                   "have it.", ["emergence", "emergent"])
    assert not defines("Emergent abilities are debated.", ["sycophancy"])


def test_the_paper_a_question_names_as_its_place_is_not_what_it_asks():
    """"in that sparks of agi paper" says where: every sentence of that paper's note holds the
    title's words, so they do not decide which sentence answers."""
    hits = [hit(1, "Sparks of AGI by Bubeck et al. 2023 is a report on an early GPT-4, submitted "
                   "on 22 March 2023.", doc="bubeck-2023", claims=(3,)),
            hit(2, "On the HumanEval coding benchmark, the early GPT-4 scored 82% pass@1.",
                doc="bubeck-2023", claims=(3,))]
    plan = make_plan("how did gpt4 do on humaneval in that sparks of agi paper", hits)
    assert plan.text.startswith("On the HumanEval"), plan.text


def test_a_follow_up_that_asks_again_about_another_thing_keeps_the_kind():
    history = [("What's the data-size exponent in Kaplan's scaling laws?", "... about 0.095 ...")]
    assert question_kinds("ok and the one for compute?", history) == ["followup", "figure"]
    assert question_kinds("what about data?", [("how much compute did gpt-3 use?", "")]) \
        == ["followup", "figure"]
    # a bare "why?" is still a follow-up asking why
    assert question_kinds("why?", history) == ["followup", "why"]


def test_a_pointer_to_another_note_is_not_an_answer():
    assert not usable_sentence("The emergence-debate note covers the argument in more detail.")
    assert usable_sentence("The emergence debate covers two arguments about how abilities are measured.")


def test_the_last_of_a_list_is_not_a_figure():
    from tutor.sentences import has_figure
    assert not has_figure("The compute exponent is the smallest of the three, so large increases "
                          "in compute are needed.")
    assert has_figure("GPT-4 was asked three times over about a month.")


def test_an_example_question_takes_the_sentence_that_gives_examples_of_the_term():
    g = Glossary(parse(GLOSSARY_EMERGENCE))
    hits = [hit(1, "Schaeffer et al. 2023 argue that abilities such as exact-match tasks only look "
                   "emergent because of the metric.", doc="claim-2", claims=(2,)),
            hit(2, "Two standard examples of emergent abilities are multi-digit arithmetic and "
                   "chain-of-thought prompting.", doc="claim-2", claims=(2,))]
    plan = make_plan("give me an example", hits, glossary=g,
                     history=[("what is emergence?", "An ability is called emergent when ...")])
    assert plan.text.startswith("Two standard examples"), plan.text


GLOSSARY_EMERGENCE = """---
id: glossary
title: Glossary
---

## Emergence (創発)

Terms: emergence; emergent ability; emergent abilities; emergent; 創発

An ability is called emergent when smaller models lack it and larger ones have it.

Notes: claim-2
"""


def test_who_reported_it_asks_for_the_study():
    history = [("迎合ってRLHFで直せるの？", "迎合はRLHFでも消えません。")]
    assert question_kinds("それって誰が報告したの？", history) == ["followup", "source"]
    assert question_kinds("それって誰が言ったの？", history) == ["followup", "source"]


def test_a_sentence_naming_another_claim_in_passing_at_its_end_is_on_topic():
    hits = [hit(1, "GPT-4 was asked to draw a unicorn in TikZ code. The unicorn comes from three "
                   "queries spread over about a month, exactly the kind of evidence claim 8 warns "
                   "about.", doc="claim-3", claims=(3,)),
            hit(2, "Because the inner workings cannot be read, nobody can check the goal (claim 4) "
                   "or the values a model holds (claim 7) in three ways.", doc="claim-3", claims=(3,))]
    plan = make_plan("how many queries was the unicorn picked from?", hits)
    assert "three queries" in plan.text, plan.text
    assert "claim 4" not in plan.text  # a sentence about two other claims is theirs
