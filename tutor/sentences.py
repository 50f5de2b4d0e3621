"""Source sentences: how a passage splits into them, whether one reads on its own, and what one
shows: the cues of an answer's kind ("because" for why, a figure for how much), a definition of
the term asked about, the models it names, a sentence that points back at the one before it.

Used by the answer plan (:mod:`tutor.plan`) and the sections it reads (:mod:`tutor.sections`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .glossary import is_glossary_line
from .ingest import language_of, split_sentences
from .question import cue


# cues a sentence shows when it answers a kind
ANSWER_CUES: dict[str, tuple[str, str]] = {
    "definition": (r"\b(is|are|means?|refers? to|called|known as|stands? for|names?|describes?)\b",
                   r"とは|というもの|のこと|を指|と呼|という意味|とする|です"),
    "why": (r"\b(because|since|so that|as a result|therefore|thus|due to|leads? to|causes?|"
            r"reason|which is why|means that|comes? from|result\w*|explains?)\b|"
            r",\s*so\s+(?!far\b|much\b|many\b|that\b)",  # "..., so a model that ... scores zero"
            r"ため|(?<![0-9０-９〜~])から|(?<!も)ので|理由|によって|結果|原因|せい|によるもの|"
            # a claim's position (「主張4は…というものです」) is the reason a question on its
            # topic wants: 「なんで指示通りに動かないの？」 gets 「確実に制御する技術はまだない」
            r"というもの"),
    "how": (r"\b(by|using|uses?|used|through|via|estimated|computed|measured|counts?|counted|"
            r"fit(?:s|ted)?|works?|steps?|trained|turns? into|splits?|combines?|then)\b",
            r"によって|を使|ことで|方法|手順|仕組み|まず|次に|ように|により|などの?[^。、]{0,12}で、"),
    "example": (r"\b(for example|for instance|e\.g\.|such as|examples?|illustrat\w*|"
                r"demonstrat\w*|evidence|documented)\b",
                r"例|たとえば|例えば|実験|では、"),
    "comparison": (r"\b(whereas|while|than|unlike|rather than|in contrast|compared|instead|"
                   r"versus|more|less|fewer)\b", r"一方|より|に対して|違|比べ|ではなく|逆"),
    # a digit, or a count in words ("three queries over about a month", "twice the data")
    "figure": (r"\d|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
               r"fifty|hundreds?|thousands?|millions?|billions?|trillions?|twice|dozens?)\b",
               r"\d|[一二三四五六七八九十百千万億兆]+(倍|つ|割)"),  # see has_figure
    "claim": (r"\bclaim\s*\d|\bsays?\b", r"主張\s*\d|というもの"),
    "source": (r"\bet al\b|arxiv|\b(19|20)\d\d\b", r"et al|arXiv|論文「|\d{4}"),  # names a study
}


# an example that names its case: a study ("Li et al. 2023"), or "for example", not only "such as"
CONCRETE = (r"\bet al\b|\b(19|20)\d\d\b|arxiv|\bin one\b", r"実験|et al|\d{4}")


EXPLICIT = (r"\b(for (example|instance)|e\.g\.|examples? (is|are|include\w*)|(standard|classic|"
             r"typical|textbook|well-known|best-known|famous|clearest|main|two|three) (examples?|cases?)|"
             r"one example|examples? of|the (clearest|strongest|best|first) evidence)\b",
             r"例えば|たとえば|例は|代表例|一例|典型例")


_END = re.compile(r"[.!?。！？]([\"'”’」』)）\]]*)$")


# a sentence that sends the reader to another note says where the answer is, not what it is
_POINTER = re.compile(r"the [\w\-]+ note (?:covers|explains|goes|discusses|gives|has)\b[^.]*\.$", re.I)


def usable_sentence(sent: str) -> bool:
    """A whole sentence that reads on its own: ends like a sentence, is not a heading, a list
    lead-in ("as follows:"), a glossary data line, a sentence opening with a bare citation, or a
    pointer to another note."""
    s = sent.strip()
    if is_glossary_line(s) or s.endswith((":", "：")) or re.match(r"^\[\d+\]", s) \
            or re.match(r"^[”’)）,，;、。]", s) or (s.startswith('"') and s.count('"') % 2) \
            or (re.match(r"^[a-z]", s) and language_of(s) == "en") \
            or s.count("）") > s.count("（") or s.count(")") > s.count("("):
        return False  # a heading, a lead-in, or the tail of a sentence cut by a bad split
    if _POINTER.match(s):
        return False  # "The emergence-debate note covers the argument in more detail.": a pointer
    return bool(_END.search(s)) and len(s) >= (12 if language_of(s) == "ja" else 25)


_MODEL_NAME = re.compile(r"(?<![a-z0-9])(gpt-?\d(?:\.\d)?|instructgpt|chatgpt|othello-gpt|chinchilla|"
                         r"gopher|palm|llama|bert|claude|smollm2?)(?![a-z0-9])", re.I)  # 初期のGPT-4は


def models_named(text: str) -> set[str]:
    """The language models a text names, spelled one way ("GPT 3" and "gpt-3" are "gpt3")."""
    return {re.sub(r"[\s\-]", "", m.lower()) for m in _MODEL_NAME.findall(
        unicodedata.normalize("NFKC", text).replace("GPT ", "GPT-"))}


_NOT_A_FIGURE = re.compile(r"arxiv:?\s*\d{4}\.\d{4,5}|\beight things\b|"
                           r"\b(?:of|all|both|among) (?:the|these|those) (?:two|three|four|five)\b|\d{4}年|\d{1,2}月\d{1,2}日|\d{1,2}月|(?<![a-z0-9])[a-z]+\d+[a-z0-9]*|\b(19|20)\d\d[a-z]?\b|\b(claim|figure|section|"
                           r"table|part)\s*\d+|主張\s*\d|(?<![a-z0-9])gpt-?\d|\b\d+(st|nd|rd|th)\b", re.I)


def lists_things(sent: str) -> bool:
    """A sentence that lists four things or more ("prompting, fine-tuning, RLHF and
    Constitutional AI"): "besides RLHF, what other tools ..." is answered by it, RLHF and all."""
    outside = re.sub(r"[(（][^)）]*[)）]", "", sent)  # commas inside a gloss do not count
    return len(re.findall(r"[,、]", outside)) >= 3


def has_figure(sent: str) -> bool:
    """A figure that answers "how much": a number that is not an arXiv id, a year, a claim's or
    a figure's number, or a model's name (GPT-4)."""
    return cue(ANSWER_CUES["figure"], _NOT_A_FIGURE.sub(" ", sent))


def normalized(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


_DEFINES_AFTER = re.compile(r"[\"”’」』]?\s*(\([^)]{0,60}\)|（[^）]{0,60}）)?\s*"
                            r"((view|idea|term|phrase|label|metaphor|hypothesis)\s*)?(,[^,]{0,60},\s*)?"
                            r"(here\s+|in this sense\s+)?(とは|は、|は|って|is\b|are\b|holds\b|"
                            r"means\b|refers\b|describes?\b|names?\b|stands\b|was\b|—|:|、つまり)")


_SUBJECT_AFTER = re.compile(r"\s*\([^)]{1,60}\)\s+[a-z]+s\b")


def defines(sentence: str, names: Sequence[str]) -> bool:
    """Whether a sentence opens by saying what one of ``names`` is: "Sycophancy is ...",
    「スケーリング則（…）は、…」."""
    low = unicodedata.normalize("NFKC", sentence).lower()
    ja = language_of(sentence) == "ja"
    for name in names:
        i = low.find(name)
        if i < 0:
            continue
        if re.search(r"\b(?:is|are)\s+(?:called|known as|termed)\s+[\"“'‘]?" + re.escape(name) + r"\b", low):
            return True  # "An ability is called emergent when ...": the term is what it defines
        # the term is the subject: near the start of a Japanese sentence, or after no more than
        # an article or a quote mark in English ("The debate between X and Y is ..." is not it)
        subject = i <= max(24, len(low) * 0.35) if ja else bool(
            re.fullmatch(r"\W*((the|a|an|so-called)\W+)*\W*", low[:i]))
        m = _DEFINES_AFTER.match(low, i + len(name))
        if subject and m and not re.match(r"\s*(is|are|was|were) not\b", low[i + len(name):]):
            return True
        if 0 <= i <= 4 and _SUBJECT_AFTER.match(low, i + len(name)):
            return True  # "Retrieval-augmented generation (RAG) combines ...": a term and its short form
    return False


def _open_quote(sent: str) -> bool:
    """'Schaeffer et al. 2023, "Are Emergent Abilities ... a Mirage?' ends inside a title."""
    return sent.count('"') % 2 == 1 or sent.count("“") > sent.count("”") \
        or sent.count("「") > sent.count("」") or sent.count("（") > sent.count("）") \
        or sent.count("(") > sent.count(")")


_INITIAL = re.compile(r"(\b[A-Z]|\bet al|\bvs|\be\.g|\bi\.e|\bNo|\bFig|\bDr|\bMr|\bMs)\.$")


def sentences_of(text: str) -> list[str]:
    """``split_sentences`` with initials mended: "Samuel R." and "Bowman ..." are one sentence."""
    out: list[str] = []
    for sent in split_sentences(text):
        if out and (_INITIAL.search(out[-1]) or _open_quote(out[-1])):
            out[-1] += ("" if sent[:1] in "\"”」』" or language_of(sent[:1]) == "ja" else " ") + sent
        else:
            out.append(sent)
    return out


_POINTS_BACK = (r"^(this|that|these|those|it|they|such|if (?:so|that|this)|here|he|she|its|their|"
                r"the (?:same|latter|former|case|result|effect|finding))\b",
                r"^(これ|それ|この(?!アプリ|チューター|ツール|教材)|その|こうした|こうして|そこで|そのため|"
                r"こんな|そんな|こういう|そういう|"
                r"同じ|彼|一方|ただし|しかし)")


def opening_bonus(sent: str, i: int) -> float:
    """A passage's first sentence opens its topic (+0.1), unless it points back at a sentence
    the passage does not hold (「一方チンチラは…」 cut from the summary before it: -0.1)."""
    if i != 0:
        return 0.0
    return -0.1 if points_back(sent) else 0.1


def points_back(sent: str) -> bool:
    """A sentence that opens by pointing at the one before it ("If that happens, ...")."""
    return cue(_POINTS_BACK, sent.strip().lstrip("\"'“「(（"))


# a sentence that announces what the next ones say ("Bowman draws two lessons from claim 8.",
# 「理由は2つです。」) answers nothing without them
_ANNOUNCES = (r"\b(two|three|four|several) (\w+ )?(reasons?|choices|ways|causes|differences|steps|"
              r"things|parts|points|problems|factors|changes|lessons|limits|caveats)\b[^.,;:]{0,40}\.$",
              r"[2-4２-４二三四]つ(の(理由|点|違い|方法|原因|選択|問題|段階|要因|教訓)[^。、]{0,20}|です|あります)。$")


def announces(sent: str) -> bool:
    """A sentence that announces a count of reasons, choices or lessons the next ones give."""
    return cue(_ANNOUNCES, sent.strip())


def with_next(sentences: list[str], i: int, limit: int = 90) -> str:
    """A short lead sentence ("The key term is X, from Y.") reads better with the next one, and
    one that announces what follows ("... because of two choices in Kaplan's method.") needs it."""
    lead = sentences[i]
    if (len(lead) < limit or announces(lead)) and i + 1 < len(sentences) and len(sentences[i + 1]) < 260 \
            and usable_sentence(sentences[i + 1]):
        joiner = "" if re.search(r"[。！？]$", lead) else " "
        lead = lead + joiner + sentences[i + 1]
    return lead
