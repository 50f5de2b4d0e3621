"""What a question asks: its kind (definition, figure, why, how, example, comparison, claim
overview, which paper, yes or no, follow-up) from English and Japanese cue words, and whether it
continues the last turn of a chat ("why?", 「例えば？」, "wait so ..."). :mod:`tutor.plan` chooses
the sentences that answer it."""
from __future__ import annotations

import re
from collections.abc import Sequence

from .ingest import language_of
from .lexical import JA_STOP, is_hiragana, stem, tokenize
from .retrieve import referenced_claims


# 「だれが見つけたの？」 asks for the study (or the people) that found it, not who someone is
_FOUND = r"が[^。？?]{0,30}?(?:見つけ|見出し|示し|発見|測|提案|気づ|気付|報告|言い出|言っ|唱え|調べ)"

# "how did gpt4 do on humaneval", "how does it perform": a score is asked for, not a method
_DID_ON = r"[\w\-.]+(?: [\w\-.]+){0,3} (?:(?:do|fare) (?:on|at|in|against)|perform\w*)\b"

_KIND_CUES: dict[str, tuple[str, str]] = {  # kind: (English cue, Japanese cue)
    "comparison": (r"\b(differen\w*|differ|compare\w*|versus|vs\.?|better than|rather than|"
                   r"unlike|same as|instead of)\b", r"違い|違う|比べ|比較|どちら|どっち|との差"),
    "why": (r"\b(why|how come|what causes|reason\w*|what makes)\b", r"なぜ|なんで|どうして|理由|原因"),
    "how": (r"\b(how (?:does|do|did|is|are|was|were|can|could|would|should|to)"
            rf"(?! {_DID_ON})|explain how|"
            r"in what way|what (?:method|way))\b", r"どのように|どうやって|どうやる|仕組み|どうなって|方法|手順"),
    "example": (r"\b(examples?|for instance|such as|illustrat\w*|case study|show me|demonstrat\w*|"
                r"evidence|proof|experiments?)\b", r"例|たとえば|例えば|具体|証拠|根拠"),
    "figure": (r"\b(how (?:much|many|big|large|fast|small|often|long|good|well|accurate|bad)|what (?:exponent|number|"
               r"value|ratio|percent\w*|year|size|fraction|score|accuracy)|which (?:number|year)|ratio|"
               r"scored?|accuracy|"
               rf"how (?:did|does|do|would|will) {_DID_ON}|"
               r"percent\w*|exponents?|ratios?|arxiv (?:number|id)|how \w+er)\b|(?<![\w\-.])\d(?![\w\-])",
               r"いくつ|何倍|どれくらい|どれぐらい|どのくらい|どのぐらい|何%|何パーセント|何年|"
               r"番号|割合|比率|何個|何トークン|何億|何兆|指数|いくら|倍|何[ァ-ヴー]{2,}|"
               r"何[人回件枚歳位]|くらい|ぐらい|(?<![A-Za-z0-9\-])\d+(?![A-Za-z\-\d年])"),  # not 2022年
    "source": (r"\b((which|what) (paper|study|studies|source|article|research|work)|who (first )?(found|showed|"
               r"measured|discovered|proposed|noticed|realized|realised|figured)|citation|cite)\b",
               r"どの論文|何の論文|なんの論文|どの研究|どこの研究|出典|元ネタ|引用元|(?:誰|だれ)" + _FOUND),
    "definition": (r"\b((?!what(?:'s| is|s) (?:going on|happening|inside))(?:what (?:is|are|was|were|"
                   r"does .+ mean)|what's|whats|wats|wat(?:'s| is| are)|wht(?:'s| is))|define|definition|"
                   r"meaning|mean by|stand for|who (?:is|are|was|were|wrote|authored|made|created|published)|"
                   r"what do you call)\b",
                   r"とは|って何|ってなに|って？|とは何|意味|定義|(?:誰|だれ)(?!" + _FOUND + ")|どういう|どんな|何のこと|なんのこと|"
                   r"(?:ざっくり|簡単に|一言で|要するに)(?:言うと|いうと)?\s*(?:何|なに|なん)"),
}
_FOLLOWUP = (r"^(and\s+)?(why|how( so| come)?|really|such as|for example|example|give me an example|"
             r"any examples?|more|tell me more|go on|what do you mean|meaning|so|and then|"
             r"what about (it|that|this)|can you explain|explain( more| that| it)?|how does that work|"
             r"in japanese|in english)\b",
             r"^(なぜ|なんで|どうして|例えば|たとえば|例は|具体|もっと|詳しく|くわしく|つまり|それは|"
             r"それって|どういうこと|本当|ほんと|他には|ほかには|他の例|ほかの例|じゃあ|で、|"
             r"理由は|証拠は|根拠は)")
_FOLLOWUP_MAX_TERMS = 3  # "why?", "give me an example" carry no topic of their own

def cue(pattern_pair: tuple[str, str], text: str) -> bool:
    en, ja = pattern_pair
    low = text.lower()
    return bool(re.search(en, low) or re.search(ja, text))


def question_kinds(question: str, history: Sequence[tuple[str, str]] = ()) -> list[str]:
    """One or two kinds in the order the question asks them; "followup" first when the question
    is a bare continuation of the previous turn ("why?", 「例えば？」)."""
    kinds: list[tuple[int, str]] = []
    low = question.lower()
    named = referenced_claims(question)
    if len(named) == 1 and not _topic_terms(question, named):
        kinds.append((0, "claim"))
    for kind, (en, ja) in _KIND_CUES.items():
        m = re.search(en, low) or re.search(ja, question)
        if m:
            if kind == "figure" and m.group(0).isdigit() and named:
                continue  # "claim 4" is not a figure question
            kinds.append((m.start(), kind))
    if not kinds:
        kinds.append((0, "general"))
    kinds.sort()
    defn = next((pos for pos, k in kinds if k == "definition"), None)
    if defn is not None and any(k != "definition" and 0 <= pos - defn <= 18 for pos, k in kinds):
        # "what's the difference", "what is the reason", "what is an example": not a definition
        kinds = [(pos, k) for pos, k in kinds if k != "definition"]
    out = list(dict.fromkeys(k for _, k in kinds))
    if "source" in out and "example" in out and cue(_ON_EVIDENCE, question):
        out.remove("example")  # 「主張1の根拠ってどの論文？」: the evidence asked for is a paper
    if "claim" in out:
        out = ["claim"] + [k for k in out if k not in ("claim", "definition", "general")]
    out = out[:2]
    if (out == ["general"] or out == ["example"] and cue(_ON_EVIDENCE, question)) \
            and cue(_CHECK, question.strip()) and not re.search(_WH, question):
        # "is it true that ...?", 「…ってこと？」: a yes or no, and why; "is that strong evidence
        # tho" asks how strong the evidence is, not for an example of it
        out = ["check"]
    if is_followup(question, history):
        if out == ["general"] and asks_again(question):
            # "ok and the one for compute?" after "what's the data-size exponent?": the same
            # question about another thing, so the same kind (a figure)
            prior = [k for k in question_kinds(history[-1][0]) if k not in ("followup", "general")]
            out = [k for k in prior if k != "definition"][:1] or prior[:1] or out
            return ["followup"] + out
        out = ["followup"] + [k for k in out if k != "definition"][:1]
    return out


def asks_again(question: str) -> bool:
    """Whether a follow-up asks the last question again about something else ("and the one for
    compute?"): it is read together with that question."""
    q = question.strip()
    return cue(_ELLIPSIS, q) and not any(cue(pair, q) for pair in _KIND_CUES.values())


# a follow-up that asks the last question again about something else ("and the one for compute?",
# "what about data?", 「じゃあパラメータ数の方は？」)
_ELLIPSIS = (r"^(?:(?:ok(?:ay)?|so|and|but|then|hmm+)\W+)*(?:and|what about|how about)\b|"
             r"\b(?:the one for|same for|and for)\b",
             r"(?:の方|のほう|だと|では|は)\s*[？?]+$")


_ON_EVIDENCE = (r"^(?:(?!\b(?:examples?|for instance|such as|illustrat\w*|show me|demonstrat\w*|"
                r"experiments?)\b).)*\b(evidence|proof)\b",
                r"^(?:(?!例|たとえば|例えば|具体).)*(証拠|根拠)")


# 「つまり何が言いたいの？」 ends like a yes-or-no question but asks what
_WH = r"何|なに|どう|どこ|いつ|誰|だれ|どれ|どんな|どの|どっち|^(what|who|where|when|which|how)\b"
# a question that asks whether something holds: the claim's own position answers it first
_CHECK = (r"^(is it true|is|are|was|were|can|could|does|do|did|will|would|has|have|should|"
          r"isn'?t|aren'?t|doesn'?t|don'?t|so|if)\b|\b(right|true|correct|really)\s*\?*$",
          r"(の|のか|ってこと|ということ|でしょうか|でしょ|だよね|よね|んですか|なん|マジ|本当|ほんと|かな|っけ)\s*[？?]*$")


# a pronoun after "what"/"who" is part of the question's own clause ("telling people what they
# want to hear"), not a pointer to the last turn
_ANAPHORA = (r"^(ok(ay)?|and|so|but|then|hmm+|wait|oh|huh|ah|what about|how about)\b|(?<!what )(?<!who )\b(that|this|these|those|"
             r"they|them|it|its|he|she|his|their)\b(?! (?:is|are) (?:called|known))",
             r"^(じゃあ|では|で、|それ|そう|なるほど|(?:え|えっ|へえ|へー|ふーん|あ)[、,！!])|その|それ|この|これ|"
             r"あの|彼|そこ")  # 「え、正解はいくつ？」: an exclamation answers the last turn
def with_stems(words: set[str]) -> set[str]:
    """Words as written and as :func:`tokenize` gives them ("people" and "peopl")."""
    return words | {stem(w) for w in words}


_OPENER = (r"^(wait|so|ok(ay)?|but|and|then|hmm+|huh|really)\b[, ]*(so|then|but)?\b",
           r"^(じゃあ|じゃ|では|それなら|なら|で、|でも|だったら|ということは)")
# words that carry no topic in a chatty question ("just", "now", "ppl")
FILLER = {"just", "now", "even", "realli", "really", "actual", "actually", "basic", "basically",
           "also", "still", "then", "ppl", "peopl", "people", "thing", "stuff", "kind", "sort",
           "wait", "llm", "model", "lm"}
FILLER = with_stems(FILLER)
# 「それって」 points back; its bigrams (それ, れっ) are no word of the question's topic
POINTERS = frozenset({"それ", "これ", "あれ", "その", "この", "あの", "そう", "れっ"})
_ANAPHORA_MAX_TERMS = 5  # "ok and does bowman agree with that view": a short question that points back


def is_followup(question: str, history: Sequence[tuple[str, str]]) -> bool:
    """A question that continues the last turn: a bare cue ("why?", 「例えば？」), or a short
    question that points back at it ("what do they mean by exact match", 「それって本当？」)."""
    if not history:
        return False
    en, ja = _FOLLOWUP
    text = question.strip()
    cue = re.search(en, text.lower()) or re.search(ja, text)
    terms = [t for t in tokenize(text) if t not in JA_STOP and t not in CUE_WORDS
             and not is_hiragana(t)]  # どういうこと: no topic of its own
    if bool(cue) and len(terms) <= _FOLLOWUP_MAX_TERMS or not terms:
        return True
    back = re.search(_ANAPHORA[0], text.lower()) or re.search(_ANAPHORA[1], text)
    if language_of(text) == "ja":
        # Japanese is counted in words, not in the bigrams the index uses: 「モデルの性能」 is two
        content = [w for w in re.findall(r"[ァ-ヴー]{2,}|[一-龥々]+|[A-Za-z0-9][\w\-]*", text)
                   if w not in JA_STOP and w.lower() not in FILLER]
    else:
        content = [t for t in terms if t not in FILLER]
    # "wait so llms are just better than ppl at everything now?", 「では、…この問題は…」: a question
    # that opens by answering the last turn carries a little more of its own wording
    opener = re.match(_OPENER[0], text.lower()) or re.match(_OPENER[1], text)
    limit = _ANAPHORA_MAX_TERMS + (2 if opener else 0)
    return bool(back) and len(content) <= limit and not referenced_claims(text)


CUE_WORDS = {"why", "how", "example", "exampl", "give", "more", "really", "mean", "so", "go",
              "instance", "explain", "detail", "なぜ", "なん", "んで", "どう", "うし", "して",
              "例え", "えば", "たと", "とえ", "もっ", "っと", "詳し", "つま", "まり", "具体", "体例",
              "体的", "的", "理由", "証拠", "根拠", "tho", "though", "got", "ok", "okay"}
CUE_WORDS = with_stems(CUE_WORDS)
_BARE_CLAIM_TERMS = {"claim", "thing", "say", "mean", "about", "主張", "意味", "言", "内容", "つ目",
                     "番目", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                     "eighth", "summar", "summary", "summarize", "point", "main", "要点", "要約",
                     "まと", "とめ", "言っ", "って", "いる", "何を", "簡単", "教え", "えて",
                     "tl", "dr", "gist", "short", "brief", "nutshell", "explain", "要す", "する",
                     "るに", "ざっ", "っく", "くり", "一言", "つま", "まり", "なに", "何", "要",
                     "plain", "word", "simple", "simply", "eli5", "quick", "pl", "pls", "plz", "please",
                     "recap", "rundown", "tldr", "sum", "up", "again",
                     "overview", "idea", "basically", "わか", "かり", "りや", "やす", "すく"}
_BARE_CLAIM_TERMS = with_stems(_BARE_CLAIM_TERMS)


def _topic_terms(question: str, named: set[int]) -> set[str]:
    q = {t for t in tokenize(question) if t not in JA_STOP
         and not is_hiragana(t)}  # particles: って, なに, するに
    return q - _BARE_CLAIM_TERMS - {str(n) for n in named}
