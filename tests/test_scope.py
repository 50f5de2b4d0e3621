"""The scope decision's own rules (tutor.scope), on a small index: deterministic, no embedder."""
from __future__ import annotations

from tutor.glossary import Glossary, parse
from tutor.lexical import BM25
from tutor.scope import Scope

GLOSSARY = """## Emergence
Terms: emergence; emergent ability; 創発

## Schaeffer et al.
Terms: Schaeffer; シェーファー; Schaeffer et al.
"""

PASSAGES = [
    "Kaplan et al. found that the loss of a language model falls as a power law of its scale, "
    "and the compute-optimal recipe says how to spend a budget.",
    "Schaeffer et al. argue that emergence is a mirage of the metric: exact match gives credit "
    "only when every token is right, so the jump looks sudden.",
    "The article says people are different from the models they train; the next claim is that "
    "experts cannot explain why a model gives an answer.",
    "Big models are expected to do more for people; the next jump looks like a new skill.",
]


def scope() -> Scope:
    bm = BM25()
    for i, text in enumerate(PASSAGES):
        bm.add(f"n#{i}", text)
    glossary = Glossary(parse(GLOSSARY))
    return Scope(0.3, lambda: bm, lambda: glossary)


def test_everyday_nouns_without_a_course_word_put_a_question_outside_the_course():
    s = scope()
    assert s.off_course_words("how do i scale a sourdough recipe to 2kg of flour") \
        == ["sourdough", "kg", "flour"]
    # the same nouns in a question about a model are an analogy, not the topic
    assert s.off_course_words("is a model's scaling recipe like a sourdough recipe with more flour?") \
        is None
    # one such word is not enough: learners write "out of nowhere" or "stuff" about the course
    # (heldout17's first run declined two covered questions when one was)
    assert s.off_course_words("how do i scale a cake recipe for more people") is None


def test_chat_words_contractions_and_misspellings_are_not_everyday_nouns():
    s = scope()
    assert s.off_course_words("whats the diffrent recipe, tho? pls") is None
    assert s.off_course_words("why cant people explain the answer") is None


def test_two_unknown_nouns_must_also_be_a_third_of_the_words():
    s = scope()
    assert s.off_course_words("when is the next big cicada emergence expected in illinois?") \
        == ["cicada", "illinois"]
    assert s.off_course_words("why does emergence look so sudden? feels kinda fishy, like a "
                              "sudden jump in the metric") is None  # two of eight words
    # an author the question names is the course
    assert s.off_course_words("is schaeffer basically saying emergence is fake??") is None


def test_near_known_is_a_misspelling_not_a_short_word_of_its_own():
    bm = BM25()
    bm.add("a#0", "Kaplan and Chinchilla reached different answers on the original recipe.")
    assert bm.near_known("diffrent") and bm.near_known("orginal") and bm.near_known("chinchila")
    assert not bm.near_known("cake")  # one edit from "case" or "make" in a bigger corpus
    assert not bm.near_known("sourdough")


def test_a_lone_kanji_noun_no_passage_uses_is_an_unknown_word():
    bm = BM25()
    bm.add("a#0", "オーバートレーニングでは、学習を長く続けます。指示を細かく書いても100%ではない。")
    unknown, words = bm.unknown_words("犬のしつけのトレーニングって何ヶ月から始めればいい？")
    assert "犬" in unknown and len(unknown) >= 2 and len(unknown) * 2 >= words
    # a kanji with its kana ending (細かく, 始め) is a word's stem, not a noun of its own
    unknown, _ = bm.unknown_words("細かく書けば始めから動くの？")
    assert "細" not in unknown and "始" not in unknown


def test_four_kanji_the_index_never_holds_together_are_two_words():
    bm = BM25()
    bm.add("a#0", "チンチラは平均して1パラメータあたり約20トークンで学習しました。思想教育の話もあります。")
    unknown, words = bm.unknown_words("チンチラの平均寿命って何年くらい？")
    assert "寿命" in unknown and "平均" not in unknown and words == 4  # チンチラ, 平均, 寿命, 何年
    # four kanji the index holds together stay one known word
    assert bm.unknown_words("思想教育ってどういうこと？") == ([], 1)


def test_a_question_nearer_an_everyday_topic_than_any_passage_is_outside_the_course():
    """With fixed vectors: the cooking topic is nearer the question than the passage by more than
    the margin, the passage nearer than every topic for the course's question."""
    from types import SimpleNamespace

    from tutor import scope as sc
    from tutor.retrieve import Hit

    topics = [[1.0, 0.0, 0.0] if i == 0 else [0.0, 0.0, 1.0] for i in range(len(sc.EVERYDAY_TOPICS))]
    embedder = SimpleNamespace(embed=lambda texts: topics[: len(texts)])
    s = Scope(0.3, lambda: BM25(), lambda: Glossary(parse(GLOSSARY)), lambda: embedder)

    def passage(dense: float) -> Hit:
        return Hit(1, "n#0", "n", "A note", "corpus/notes/n.md", "s", "text", 0.5, 0.5, dense=dense)

    assert s.everyday_topic([0.8, 0.6, 0.0], [passage(0.6)]) == "cooking"  # 0.80 >= 0.60 + 0.05
    assert s.everyday_topic([0.8, 0.6, 0.0], [passage(0.78)]) is None  # within the margin
    assert Scope(0.3, lambda: BM25(), lambda: Glossary(parse(GLOSSARY))).everyday_topic(
        [0.8, 0.6, 0.0], [passage(0.0)]) is None  # no embedder, no rule
