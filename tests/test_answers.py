"""Issue 8's failing examples, with the real index and the real default model: answers a learner
can use, in the learner's language, never empty, never a fragment."""
from __future__ import annotations

import re

import pytest

from tutor.ingest import language_of
from tutor.pipeline import MIN_ANSWER_CHARS, Done, Token, Tutor, content_length
from tutor.plan import Plan
from tutor.sentences import sentences_of


def answer(tutor: Tutor, question: str, **kw) -> tuple[Done, list]:
    events = list(tutor.ask(question, **kw))
    done = events[-1]
    assert isinstance(done, Done)
    return done, events


def assert_whole(done: Done) -> None:
    text = re.sub(r"\[\d+\]", "", done.answer).strip()
    assert content_length(done.answer) >= MIN_ANSWER_CHARS, done.answer
    assert re.search(r"[.!?。！？)）」』]$", text), f"ends mid-sentence: {done.answer!r}"
    assert not re.search(r"(^|[.。]\s*)\[\d+\]\s*(says|states|は)", done.answer), done.answer


def mostly_japanese(text: str) -> bool:
    sents = sentences_of(re.sub(r"\[\d+\]", "", text))
    return sum(language_of(s) == "ja" for s in sents) * 2 > len(sents)


def test_why_question_in_japanese_gets_a_japanese_answer_not_a_bare_citation(tutor_engine: Tutor):
    done, events = answer(tutor_engine, "LLMはなぜ指示通りに動かないのですか？")
    assert done.covered and done.answer.strip() != "[1]"
    assert_whole(done)
    assert mostly_japanese(done.answer)
    assert re.search(r"100%|保証|制御", done.answer)
    # the default model writes only English: it does not continue a Japanese answer
    assert done.stopped_by == "language"
    assert done.plan["kinds"] == ["why"]


def test_definition_in_japanese_does_not_list_every_claim(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "スケーリング則とは何ですか？")
    assert_whole(done)
    assert "スケーリング則" in done.answer and "べき乗則" in done.answer
    assert "(8)" not in done.answer and len(sentences_of(done.answer)) <= 3


def test_two_part_english_question_opens_with_the_definition_and_stays_on_claim_4(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "What is sycophancy and why does it get worse with bigger models?")
    assert_whole(done)
    first = sentences_of(done.answer)[0]
    assert "ycophancy" in first and "agree" in first
    assert "gacha" not in done.answer.lower()
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", done.answer)}
    assert all(4 in done.sources[n - 1].claims or done.sources[n - 1].doc_id == "glossary"
               for n in cited if n <= len(done.sources))


def test_why_question_ends_with_a_whole_sentence(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "Why can't we just read what the model is thinking?")
    assert_whole(done)
    assert done.covered


@pytest.mark.parametrize("question,key", [
    ("カプランの論文でデータ量の指数はいくつ？", "0.095"),
    ("ボウマンの論文のarXiv番号は？", "2304.00612"),
    ("迎合（sycophancy）ってどういう意味？", "迎合"),
])
def test_japanese_questions_with_katakana_names_and_mixed_terms_are_answered(tutor_engine: Tutor,
                                                                              question, key):
    done, _ = answer(tutor_engine, question)
    assert done.covered, "declined although the notes answer it"
    assert key in done.answer
    assert_whole(done)
    assert mostly_japanese(done.answer)


def test_planned_sentences_come_before_the_model_is_loaded(tutor_engine: Tutor):
    _, events = answer(tutor_engine, "How many tokens per parameter does Chinchilla use?")
    first_token = next(i for i, e in enumerate(events) if isinstance(e, Token))
    assert "20" in events[first_token].text
    assert not any(type(e).__name__ == "PromptReady" for e in events[:first_token])


def test_rejected_model_text_leaves_the_planned_sentences(tutor_engine: Tutor, monkeypatch):
    model = tutor_engine.load_model()
    monkeypatch.setattr(model, "stream", lambda *a, **k: iter(
        ["Unicorns compose symphonies on Mars every single winter. ", "More."]))
    done, _ = answer(tutor_engine, "What is sycophancy?")
    assert done.stopped_by == "ungrounded"
    assert "ycophancy" in done.answer and "Unicorns" not in done.answer
    assert_whole(done)


def test_no_planned_sentence_and_rejected_model_text_falls_back_to_passages(tutor_engine: Tutor,
                                                                            monkeypatch):
    model = tutor_engine.load_model()
    monkeypatch.setattr(model, "stream", lambda *a, **k: iter(["[1] says that", " the"]))
    original = tutor_engine.plan
    monkeypatch.setattr(tutor_engine, "plan", lambda q, hits, history=(), topic_from=None: (
        Plan(["general"], "en"), original(q, hits, history)[1]))
    done, events = answer(tutor_engine, "What is sycophancy?")
    assert done.stopped_by.endswith("+passages")
    assert "[1] says" not in done.answer
    assert_whole(done)
    assert any(isinstance(e, Token) and "ycophancy" in e.text for e in events)


def test_follow_up_in_a_chat_is_answered_on_the_earlier_topic(tutor_engine: Tutor):
    first, _ = answer(tutor_engine, "What does claim 8 say?")
    done, _ = answer(tutor_engine, "why?", history=[("What does claim 8 say?", first.answer)])
    assert done.covered and done.plan["kinds"][0] == "followup"
    assert_whole(done)
    assert any(8 in done.sources[int(n) - 1].claims for n in re.findall(r"\[(\d+)\]", done.answer)
               if int(n) <= len(done.sources))


def test_a_model_that_explains_gets_the_planned_sentences_in_the_question(tutor_engine: Tutor,
                                                                          monkeypatch):
    """Qwen-like models are shown the plan as the answer so far and add their explanation under
    it; the answer keeps the planned sentences, then a paragraph of the model's own."""
    model = tutor_engine.load_model()
    monkeypatch.setattr(model, "explains", True)
    done, events = answer(tutor_engine, "What is sycophancy?")
    ready = next(e for e in events if type(e).__name__ == "PromptReady")
    lead = done.plan["sentences"][0]["text"]
    user_turn, assistant_turn = ready.prompt.rsplit("<|im_start|>assistant", 1)
    assert lead in user_turn and "The answer so far" in user_turn
    assert assistant_turn.strip() == ""  # the model's turn is its own
    assert done.answer.startswith(lead)
    rest = done.answer[len(lead):]
    if done.timings["completion_tokens"] and re.sub(r"\s*\[\d+\]", "", rest).strip():
        assert re.match(r"\s*\[\d+\]\n\n\S", rest)  # the explanation is a paragraph of its own
    assert_whole(done)


@pytest.mark.parametrize("question", [
    "how much is a chatgpt plus subscription per month?",
    "how much does chatgpt plus cost a month",
    "how do i fine-tune llama 3 with LoRA on a single 24gb gpu",
    "GPT-4のAPIって1000トークンあたりいくら？",
    "暗号資産のトークンってどこで買うのがおすすめ？",
    "where can i buy tokens for the openai api",
])
def test_product_questions_are_declined(tutor_engine: Tutor, question):
    """A price, a plan or an install step is not in the course, although "GPT" and "トークン" are."""
    done, _ = answer(tutor_engine, question)
    assert not done.covered, done.answer


def test_a_japanese_definition_is_the_glossarys_own(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "迎合ってなに？シコファンシーってやつ？")
    assert "合わせて" in done.answer, done.answer  # what it is, not only that it grows with scale
    assert mostly_japanese(done.answer)
    assert_whole(done)


def test_instructions_not_followed_with_prompt_in_the_question_stays_on_claim_4(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "なんで指示通りに動かないの？プロンプトちゃんと細かく書いてるのに")
    assert done.plan["topic"].startswith("claim 4"), done.plan["topic"]
    assert "検索" not in done.answer  # not the RAG note, which also says プロンプト
    assert re.search(r"保証|100%", done.answer)
    assert mostly_japanese(done.answer)


def test_who_wrote_the_paper_names_the_author_and_his_affiliations(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "who wrote eight things to know about LLMs and where does he work")
    assert "Bowman" in done.answer and "NYU" in done.answer and "Anthropic" in done.answer
    assert_whole(done)


def test_a_question_about_one_author_is_not_answered_with_another_authors_study(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "Burns et al. 2022（バーンズら）の研究では、何が示されたのでしょうか。")
    assert done.answer.startswith("Burns"), done.answer
    assert mostly_japanese(done.answer)


@pytest.mark.parametrize("question", [
    "モデルをいくら大きくしても賢くならないの？",
    "does the chinchilla rule take inference cost into account?",
])
def test_everyday_words_near_product_words_are_not_declined(tutor_engine: Tutor, question):
    done, _ = answer(tutor_engine, question)
    assert done.covered, done.answer


@pytest.mark.parametrize("question,key", [
    ("シェーファーらは創発は蜃気楼だって言ってるらしいけど、なんでそうなるの？", "不連続な指標"),
    ("ガングリ2023の道徳的な自己修正の研究って何がわかったの？", "偏り"),
])
def test_a_question_naming_an_author_in_katakana_is_answered(tutor_engine: Tutor, question, key):
    """Hiragana dilutes such a question's share of terms; the author's own note is evidence."""
    done, _ = answer(tutor_engine, question)
    assert done.covered and key in done.answer, done.answer
    assert mostly_japanese(done.answer)


def test_a_lone_kanji_shared_with_the_article_does_not_cover_a_question(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "転職しようか迷ってるんだけど、どう思う？")  # 思 is in the article
    assert not done.covered, done.answer


def test_an_exclamation_continues_the_last_turn(tutor_engine: Tutor):
    first = "what did gpt4 say when asked how many primes are between 150 and 250"
    before, _ = answer(tutor_engine, first)
    done, _ = answer(tutor_engine, "え、正解はいくつ？どうやったら当たったの？",
                     history=[(first, before.answer)])
    assert done.covered and done.plan["kinds"][0] == "followup", done.answer
    assert mostly_japanese(done.answer)


def test_an_acronym_in_a_japanese_question_finds_the_sentence_on_both_terms(tutor_engine: Tutor):
    """RLHF re-read as its ten-bigram Japanese spelling matched the note's definition of RLHF."""
    done, _ = answer(tutor_engine, "迎合ってRLHFで直せないの？")
    assert "RLHFでも消えません" in done.answer, done.answer


def test_a_rough_japanese_definition_question_is_a_definition(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "RLHFってざっくり何")
    assert done.plan["kinds"][0] == "definition"
    assert "比べ" in done.answer and mostly_japanese(done.answer), done.answer


def test_a_question_naming_a_claim_is_answered_on_its_detail(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "claim 3 mentions something about colour words?? what did they find")
    assert "colour" in done.answer, done.answer


def test_a_check_on_what_the_article_says_answers_from_the_notes(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "記事だとLLMは大きすぎて内部状態を計測するのも難しいって書いてあるけど、ほんと？")
    cited = {done.sources[int(n) - 1].doc_id for n in re.findall(r"\[(\d+)\]", done.answer)}
    assert cited and "article" not in cited, done.answer  # not the article's sentence read back


def test_where_in_the_paper_is_no_part_of_the_answer(tutor_engine: Tutor):
    """"at the end of the paper" says where; the answer is about agents, not the paper's last
    section's opening sentence (heldout10's first run)."""
    done, _ = answer(tutor_engine, "what did bowman say about agents at the end of the paper")
    assert "agents" in done.answer.split(". ")[0], done.answer
    assert_whole(done)


def test_a_japanese_question_on_one_of_two_studies_in_a_note_gets_that_study(tutor_engine: Tutor):
    """The hallucination note's summary names Burns et al. and Kadavath et al.: 「バーンズの研究」
    gets the sentence on Burns, without the next one on Kadavath (heldout7)."""
    done, _ = answer(tutor_engine, "バーンズの研究って何をしたの？")
    assert done.answer.startswith("Burns"), done.answer
    assert "Kadavath" not in done.answer
    assert mostly_japanese(done.answer)
    assert_whole(done)


def test_a_japanese_question_on_how_bm25_splits_japanese_is_answered_from_the_summary(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "このチューターのBM25って、日本語はスペースないけどどうやって分けてるの？")
    assert "バイグラム" in done.answer, done.answer
    assert mostly_japanese(done.answer)


@pytest.mark.parametrize("question,covered", [
    ("子犬のトイレトレーニングってどうやるの？", False),  # トレーニング is in オーバートレーニング
    ("カジノのトークンって換金できるの？", False),  # トークン is a term of the course
    ("犬のしつけのトレーニングって何ヶ月から始めればいい？", False),  # 犬 is in no passage
    ("チンチラって何？動物の話じゃないよね？", True),  # one unknown word (動物) of two
    ("文字しか勉強してないのになんでこの世のことわかるっぽいの？", True),
])
def test_a_japanese_question_mostly_about_words_the_course_never_uses_is_declined(
        tutor_engine: Tutor, question, covered):
    done, _ = answer(tutor_engine, question)
    assert done.covered is covered, done.answer


@pytest.mark.parametrize("question,why", [
    # course words in another sense: a recipe scaled, a cicada's emergence (heldout13-15)
    ("whats the best way to scale a sourdough recipe from 500g to 2kg of flour?", "sourdough"),
    ("when is the next big cicada emergence expected in illinois?", "cicada"),
    # nearer an everyday topic than any passage, whatever words they borrow from the course
    # (heldout13, 14 and 19 answered these from the scaling laws and the chinchilla notes)
    ("how do i scale a cookie recipe from 12 to 30 cookies", "everyday topic"),
    ("how do I scale a cake recipe from 4 servings up to 10 without ruining it", "everyday topic"),
    ("what scale is HO model railway, is it 1:87?", "everyday topic"),
    ("is it ok to give my chinchilla a dust bath every day or is that too much", "everyday topic"),
    # everyday words in a question about the course
    ("on those emergence plots why does the jump look so sudden? feels kinda fishy", None),
    ("so is schaeffer basically saying emergence is fake??", None),
    ("whats the chinchila rule of thumb, like how many tokens per paramter?", None),
    ("my friend says GPT-4 just copies surface statistics. what does claim 3 say to that?", None),
    # one everyday word is no evidence (heldout17's first run declined these two when it was)
    ("Why would scoring with exact match make a skill look like it appears out of nowhere?", None),
    ("does the autocomplete thing actually know when it's making stuff up?", None),
    # the course's questions stay nearer a passage than any everyday topic, analogies and all
    ("i asked a chatbot a math question and it got it wrong, so it just cant do math right?", None),
    ("the blog guy's conclusion mentions some smaller models being released, which ones?", None),
    ("so if I make my model twice as big, how much better does it get?", None),
    ("is it basically a parrot repeating stuff it heard?", None),
])
def test_an_english_question_about_something_the_course_never_mentions_is_declined(
        tutor_engine: Tutor, question, why):
    """``why``: the word the Inspector's reason holds when the question is declined; None when
    it is covered."""
    done, _ = answer(tutor_engine, question)
    assert done.covered is (why is None), done.answer
    if why is not None:
        assert any(why in line for line in done.plan["explain"]), done.plan


def test_a_figure_answer_goes_on_to_the_other_figure_the_question_asks(tutor_engine: Tutor):
    """"...got it wrong, whats the right count": 13 alone (heldout19's first run); the question
    that asks only what it said gets 13 alone."""
    done, _ = answer(tutor_engine, "gpt4 was asked how many primes are between 150 and 250 and got it "
                                   "wrong, whats the right count and how did it get there")
    assert "13" in done.answer and "18" in done.answer, done.answer
    done, _ = answer(tutor_engine, "how many primes did GPT-4 say there are between 150 and 250?")
    assert "13" in done.answer and "18" not in done.answer, done.answer


def test_a_sentence_of_the_same_note_scoring_as_high_as_the_lead_joins_it(tutor_engine: Tutor):
    """"about 5%" and "multiplied by about 0.95" score within a tenth of each other: the scores
    cannot tell which one the learner wants, so the answer holds both (heldout6 and heldout11
    gave the 5% alone)."""
    done, _ = answer(tutor_engine, "so if i make my model twice as big how much does the loss actually drop?")
    assert "5%" in done.answer and "0.95" in done.answer, done.answer
    assert "scores as high as the first sentence" in " ".join(done.plan["explain"]), done.plan


def test_a_yes_or_no_question_gets_the_sentence_on_what_it_supposes(tutor_engine: Tutor):
    """The claim's overview scored first; the sentence on recording the activations answers what
    the learner supposes (heldout19's first run answered with the overview alone)."""
    done, _ = answer(tutor_engine, "LLMの中のactivationって記録できないから解釈できないんでしょ？")
    assert "難しいのは測ることではなく解釈すること" in done.answer, done.answer
    assert "supposes" in " ".join(done.plan["explain"]), done.plan


def test_what_is_a_term_opens_with_its_definition_in_any_spelling(tutor_engine: Tutor):
    """"what is emergence?" opened with Schaeffer's argument; the glossary says "is called
    emergent when ..." (heldout15's first run)."""
    done, _ = answer(tutor_engine, "what is emergence?")
    assert done.answer.startswith("An ability is called emergent"), done.answer
    assert_whole(done)
    follow, _ = answer(tutor_engine, "give me an example", history=[("what is emergence?", done.answer)])
    assert "multi-digit arithmetic" in follow.answer, follow.answer
    assert "note covers" not in follow.answer  # a pointer to another note is no answer


def test_how_a_model_did_on_a_benchmark_gets_its_score(tutor_engine: Tutor):
    done, _ = answer(tutor_engine, "how did gpt4 do on humaneval in that sparks of agi paper")
    assert done.answer.startswith("On the HumanEval") and "82%" in done.answer, done.answer


def test_a_follow_up_asking_the_same_about_another_thing_gets_its_figure(tutor_engine: Tutor):
    first = "What's the data-size exponent in Kaplan's scaling laws?"
    before, _ = answer(tutor_engine, first)
    done, _ = answer(tutor_engine, "ok and the one for compute?", history=[(first, before.answer)])
    assert "0.050" in done.answer.split("[")[0], done.answer


def test_a_quick_try_that_failed_is_claim_8(tutor_engine: Tutor):
    """「ちょっと試してダメだったら…」 was answered from the RAG note (heldout18's first run): the
    glossary's brief-interactions entry names it in any inflection (試した, 試して)."""
    done, _ = answer(tutor_engine, "チャットのやつ、ちょっと試してダメだったら、もうその能力はないってこと？")
    assert "失敗が成功に変わる" in done.answer, done.answer
    assert "BM25" not in done.answer and mostly_japanese(done.answer)


def test_a_question_after_a_declined_one_does_not_follow_it_up(tutor_engine: Tutor):
    """「…その能力は…」 after a declined bread-recipe question was read as continuing it and
    answered from claim 1 (the scaling note the recipe question had retrieved)."""
    first = "hey how do i scale my bread recipe from 1 loaf to 4 loaves with more flour and yeast"
    before, _ = answer(tutor_engine, first)
    assert not before.covered, before.answer
    done, _ = answer(tutor_engine, "LLMに少し聞いてみて間違えたら、もうその能力はないと思っていい？",
                     history=[(first, before.answer)])
    assert done.plan["kinds"][0] != "followup", done.plan
    assert "主張1は" not in done.answer, done.answer


def test_a_follow_up_to_a_follow_up_stays_on_the_first_question(tutor_engine: Tutor):
    """"who found that?" after "does it get worse with bigger models?" after "what is sycophancy
    in llms" was searched with the middle question alone and answered from claim 2 (heldout22's
    first run)."""
    history: list[tuple[str, str]] = []
    for q in ("what is sycophancy in llms", "does it get worse with bigger models?"):
        done, _ = answer(tutor_engine, q, history=list(history))
        history.append((q, done.answer))
    done, _ = answer(tutor_engine, "who found that?", history=history)
    assert "Perez et al. 2022" in done.answer, done.answer


def test_a_retrieval_that_agrees_on_one_note_keeps_its_topic_over_a_glossary_term(tutor_engine: Tutor):
    """重み is a glossary term of the scaling notes (parameters); the three top sources are the
    RAG note, which holds the answer (heldout22's first run answered from Kaplan)."""
    done, _ = answer(tutor_engine, "日本語で質問したとき、ベクトル検索の重みってどれくらいになるの？")
    assert "4分の1" in done.answer, done.answer


def test_a_sentence_pointing_back_at_a_list_reads_with_the_list(tutor_engine: Tutor):
    """「こんな事を想像していると、ワクワクしますね。」 alone was a fragment (heldout22's first run)."""
    done, _ = answer(tutor_engine, "記事の作者は最後にSF的にどんなことを想像してワクワクしてるの？")
    assert "1万倍のニューロン" in done.answer and "ワクワク" in done.answer, done.answer
    assert_whole(done)
