"""BM25 over Latin words and CJK character bigrams: the lexical leg of retrieval.

all-MiniLM-L6-v2 is an English model, so Japanese questions are found here: kana and kanji
runs become overlapping character bigrams, Latin text becomes lower-cased words.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from .quiz.text import edit_distance

_TOKEN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
STOPWORDS = frozenset(
    "a an the of to in on for and or is are was were be been it its this that these those what "
    "which who whom how why when where does do did with by as at from about into than then so "
    "can could would should will may might not no yes i you he she we they me my your our their "
    "there here has have had tell explain mean means please".split())
# Japanese particles and question endings that say nothing about the topic
JA_STOP = frozenset("""とは です すか ます ので して した する ている てい いる につ つい いて ての
    何 なに どう どの どこ いつ 誰 だれ なぜ どんな くら らい ぐら って ある あり れる られ
    まし した でし しょ ょう だろ ろう かな""".split())


# A question's hiragana bigrams (がで, でか, くな, ったら) are mostly inflection and particles: in
# casual Japanese they outnumber the content words and let chatty passages outrank the note that
# holds the question's terms. They count for this much of a content term in a query (measured on
# benchmarks/learner_questions.jsonl and the retrieval set: benchmarks/run.py).
KANA_QUERY_WEIGHT = 0.3
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")


def is_hiragana(term: str) -> bool:
    """A term of hiragana only: a particle or an inflection (って, ったら), rarely a topic."""
    return bool(_HIRAGANA.fullmatch(term))


def query_weight(term: str) -> float:
    return KANA_QUERY_WEIGHT if is_hiragana(term) else 1.0


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


# Japanese runs are cut where the script changes (kanji | katakana | hiragana): a bigram across
# 主張 and the particle は says nothing, while 主張 itself does.
_SCRIPT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々〆]+|[\u30a0-\u30ff]+|[\u3040-\u309f]+")


def _cjk_terms(run: str) -> list[str]:
    out: list[str] = []
    for seg in _SCRIPT.findall(run):
        first = seg[0]
        if "\u3040" <= first <= "\u309f":  # hiragana: particles and endings; keep longer words
            if len(seg) >= 3:
                out.extend(seg[i:i + 2] for i in range(len(seg) - 1))
            continue
        if len(seg) == 1:
            out.append(seg)
            continue
        out.extend(seg[i:i + 2] for i in range(len(seg) - 1))
        if "\u30a0" <= first <= "\u30ff" and 2 < len(seg) <= 12:
            out.append(seg)  # a whole katakana word (ガチャ, ハルシネーション) is a strong term
    return out


def tokenize(text: str) -> list[str]:
    """Words for Latin script; for Japanese, character bigrams within kanji and katakana runs
    (plus whole katakana words), and bigrams of longer hiragana runs."""
    out: list[str] = []
    for tok in _TOKEN.findall(_normalise(text)):
        if _CJK_RUN.match(tok):
            out.extend(_cjk_terms(tok))
        elif tok not in STOPWORDS:
            out.append(_stem(tok))
    return out


def stem(word: str) -> str:
    """The form :func:`tokenize` gives an English word ("estimated" -> "estimat")."""
    return _stem(word.lower())


def _stem(word: str) -> str:
    """A light stemmer: plural and common suffixes, enough for 'laws'/'law', 'scaling'/'scale'."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("es", ""), ("s", ""), ("ed", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            word = word[: -len(suffix)] + repl
            break
    # "estimate"/"estimated", "compute"/"computing": a final e goes the way of the suffix
    return word[:-1] if len(word) > 4 and word.endswith("e") and not word.endswith("ee") else word


@dataclass(frozen=True)
class LexicalHit:
    chunk_id: str
    score: float  # BM25
    coverage: float  # share of the query's IDF weight that this chunk matches (0..1)


class BM25:
    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._postings: dict[str, dict[str, int]] = defaultdict(dict)
        self._lengths: dict[str, int] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self._lengths)

    def ids(self) -> set[str]:
        """The chunk ids indexed."""
        return set(self._lengths)

    def add(self, chunk_id: str, text: str) -> None:
        if chunk_id in self._lengths:
            self.remove([chunk_id])
        terms = tokenize(text)
        for term, tf in Counter(terms).items():
            self._postings[term][chunk_id] = tf
        self._lengths[chunk_id] = len(terms)
        self._total += len(terms)

    def remove(self, chunk_ids: list[str]) -> None:
        gone = set(chunk_ids) & self._lengths.keys()
        if not gone:
            return
        for term in list(self._postings):
            posting = self._postings[term]
            for cid in gone & posting.keys():
                del posting[cid]
            if not posting:
                del self._postings[term]
        for cid in gone:
            self._total -= self._lengths.pop(cid)

    def idf(self, term: str) -> float:
        n = len(self._lengths)
        df = len(self._postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def unknown_words(self, text: str) -> tuple[list[str], int]:
        """The content words of a question the indexed text never uses, and how many content
        words it has: kanji runs (known when one of their bigrams is), whole katakana words,
        Latin words, and a lone kanji used as a noun (犬の, 猫が) that no indexed term holds.
        「子犬のトイレトレーニング」 has two, both unknown; so has 「犬のしつけのトレーニング」."""
        norm = _normalise(text)
        words = []
        for w in re.findall(r"[一-龥々]{2,}|[ァ-ヴー]{2,}|[a-z][a-z0-9\-]*[a-z0-9]", norm):
            # four kanji the index never holds together are two words (平均寿命: 平均 and 寿命),
            # each known or not on its own
            split = re.fullmatch(r"[一-龥々]{4}", w) and not all(self._postings.get(t) for t in tokenize(w))
            words += [w[:2], w[2:]] if split else [w]
        unknown = []
        for w in words:
            terms = [w] if re.fullmatch(r"[ァ-ヴー]+", w) else tokenize(w)
            if terms and not any(self._postings.get(t) for t in terms):
                unknown.append(w)
        # a lone kanji before a particle or the end is a noun; 細かく or 減る (a kanji with its
        # kana ending) is a word's stem and is not counted
        for k in re.findall(r"(?<![一-龥々])[一-龥](?=[のがをはにもでや]|[、。？！?!\s]|$)", norm):
            if not self._postings.get(k) and not any(k in t for t in self._postings):
                unknown.append(k)
                words.append(k)
        return unknown, len(words)

    def near_known(self, word: str) -> bool:
        """Whether a Latin word the index never uses is one edit (two for words of nine letters
        or more) from a word it does: a misspelling ("orginal", "diffrent", "sycophncy"). A
        shorter word is a word of its own ("cake" is one edit from "case" and "make")."""
        w = _stem(word.lower())
        if len(w) < 6:
            return False
        allowed = 2 if len(w) >= 9 else 1
        return any(abs(len(t) - len(w)) <= allowed and t[:1] == w[:1] and t.isascii()
                   and edit_distance(w, t, allowed) <= allowed for t in self._postings)

    def search(self, query: str, n: int = 20, allowed: set[str] | None = None,
               readings: Sequence[str] = (), cover_readings: Sequence[str] = ()) -> list[LexicalHit]:
        """BM25 over the query's terms. ``readings`` are the same question in other spellings
        (the glossary's カプラン -> Kaplan): their terms join the search, and a chunk's coverage
        is the best share of any one reading's terms it holds, so a Japanese question is not
        judged on how much English it happens to contain. ``cover_readings`` count only for
        coverage (RLHF spelled out in Japanese: the question is about RLHF, but its ten bigrams
        do not rank the passages)."""
        if not self._lengths:
            return []
        variants = [[t for t in tokenize(q) if t not in JA_STOP] for q in (query, *readings)]
        variants = [v for v in variants if v]
        if not variants:
            return []
        weights: dict[str, float] = {t: c * query_weight(t) for t, c in Counter(variants[0]).items()}
        for extra in variants[1:]:
            for t in set(extra) - weights.keys():
                weights[t] = query_weight(t)
        avg = self._total / len(self._lengths)
        scores: dict[str, float] = defaultdict(float)
        for term, qtf in weights.items():
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = self.idf(term)
            for cid, tf in posting.items():
                if allowed is not None and cid not in allowed:
                    continue
                norm = tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * self._lengths[cid] / avg))
                scores[cid] += qtf * idf * norm
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        covering = variants + [v for v in ([t for t in tokenize(q) if t not in JA_STOP]
                                           for q in cover_readings) if v]
        return [LexicalHit(cid, s, max(self._coverage(cid, v) for v in covering)) for cid, s in ranked]

    def _coverage(self, cid: str, terms: list[str]) -> float:
        weights = {t: c * query_weight(t) for t, c in Counter(terms).items()}
        total = sum(self.idf(t) * c for t, c in weights.items()) or 1.0
        matched = sum(self.idf(t) * c for t, c in weights.items()
                      if cid in self._postings.get(t, ()))
        return min(1.0, matched / total)
