"""Grading: deterministic for multiple choice and cloze, concept coverage plus embedding
similarity for short answers. No language model takes part in a verdict.

Short answers get ``correct`` only when they name enough of the item's key concepts (each a
list of English and Japanese synonyms, negation-guarded) and, for English answers, are close
enough in meaning to a reference answer. Between "clearly right" and "clearly wrong" lies an
unsure band graded ``partial``: the feedback then shows the reference answer and asks the
learner to judge (the quiz screen lets them override any verdict). Thresholds were calibrated
on ``benchmarks/short_answers.jsonl`` (see ``benchmarks/quiz_bench.py --calibrate``).
"""
from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .bank import Item, Option
from .text import (clause_text, close_enough, found, has_cjk, is_numeric, key, same_number,
                   typo_budget, words_text)

Similarity = Callable[[str, Sequence[str]], "float | None"]
VERDICTS = ("correct", "partial", "wrong")
_NO_ANSWER = {"", "idk", "idontknow", "dontknow", "noidea", "pass", "skip", "わからない", "分からない",
              "わかりません", "分かりません", "知らない", "不明", "パス"}
_ARTICLES = re.compile(r"^(the|a|an)\s+")
_LETTER = re.compile(r"^\(?([a-d1-4])\s*[).:]?\s*(.*)$")


@dataclass(frozen=True)
class Thresholds:
    """Verdict bands for short answers (calibrated; see the module docstring)."""
    correct_coverage: float = 0.66  # share of key concepts a correct answer names ...
    min_similarity: float = 0.30    # ... while being at least this close to a reference
    strong_similarity: float = 0.90  # or this close ...
    strong_coverage: float = 0.5    # ... while naming at least this share of the concepts
    wrong_coverage: float = 0.25    # below this coverage ...
    wrong_similarity: float = 0.60  # ... and below this similarity: wrong


DEFAULT_THRESHOLDS = Thresholds()


@dataclass
class Grade:
    item_id: str
    verdict: str
    score: float
    feedback: str
    doc_id: str
    quote: str
    right_answer: str = ""
    chosen: int | None = None  # multiple choice: the option picked (display order)
    why_wrong: str = ""
    unsure: bool = False  # short answers in the band between clearly right and clearly wrong
    coverage: float | None = None
    similarity: float | None = None
    concepts_found: list[str] = field(default_factory=list)
    concepts_missing: list[str] = field(default_factory=list)
    note: str = ""

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"item_id": self.item_id, "verdict": self.verdict,
                                  "score": round(self.score, 3), "feedback": self.feedback,
                                  "source": {"doc_id": self.doc_id, "quote": self.quote},
                                  "right_answer": self.right_answer}
        if self.why_wrong:
            out["why_wrong"] = self.why_wrong
        if self.coverage is not None:
            out.update({"coverage": round(self.coverage, 3), "concepts_found": self.concepts_found,
                        "concepts_missing": self.concepts_missing, "unsure": self.unsure,
                        "similarity": None if self.similarity is None else round(self.similarity, 3)})
        return out


class Grader:
    """Grades answers to bank items; ``similarity`` (answer, references) -> cosine or None."""

    def __init__(self, similarity: Similarity | None = None,
                 thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.similarity = similarity
        self.thresholds = thresholds

    def grade(self, item: Item, answer: str) -> Grade:
        if item.kind == "multiple_choice":
            return grade_choice(item, answer)
        if item.kind == "cloze":
            return grade_cloze(item, answer)
        return self.grade_short(item, answer)

    # ------------------------------------------------------------ short answers

    def measure(self, item: Item, answer: str) -> tuple[float, float | None, list[str], list[str], str]:
        """Coverage, similarity (None for Japanese answers or without an embedder), the concepts
        found and missing, and the first contradicting phrase found (or "")."""
        text = clause_text(answer)
        found_names, missing = [], []
        for concept in item.concepts:
            (found_names if found(text, concept.terms) else missing).append(concept.name)
        coverage = len(found_names) / len(item.concepts)
        contradiction = found(text, item.contradicts) or ""
        sim = None
        if self.similarity is not None and not has_cjk(answer):
            sim = self.similarity(answer, item.all_references)
        return coverage, sim, found_names, missing, contradiction

    def grade_short(self, item: Item, answer: str) -> Grade:
        t = self.thresholds
        base = dict(item_id=item.id, doc_id=item.doc_id, quote=item.quote, right_answer=item.answer)
        if key(answer) in _NO_ANSWER:
            return Grade(verdict="wrong", score=0.0, feedback=_no_answer(item), **base)
        coverage, sim, got, missing, contradiction = self.measure(item, answer)
        score = coverage if sim is None else 0.7 * coverage + 0.3 * max(0.0, sim)
        detail = dict(coverage=coverage, similarity=sim, concepts_found=got, concepts_missing=missing)
        known = _known_wrong(item, answer)
        if contradiction or known:
            why = known.why if known else (
                f"Your answer states the misconception “{contradiction}”." if item.lang == "en"
                else f"解答に誤解（「{contradiction}」）が含まれています。")
            return Grade(verdict="wrong", score=0.0, why_wrong=why,
                         feedback=_short_feedback(item, "wrong", got, missing, why), **base, **detail)
        required = any(c.required and c.name in missing for c in item.concepts)
        verdict = decide(coverage, sim, required, t)
        if verdict == "correct":
            score = max(score, 0.75)
        return Grade(verdict=verdict, score=score, unsure=verdict == "partial",
                     feedback=_short_feedback(item, verdict, got, missing), **base, **detail)


def decide(coverage: float, sim: float | None, required_missing: bool, t: Thresholds) -> str:
    """The verdict bands for a short answer that states no known misconception."""
    if sim is None:  # a Japanese answer, or no embedder: concept coverage alone
        verdict = ("correct" if coverage >= t.correct_coverage
                   else "wrong" if coverage < t.wrong_coverage else "partial")
    elif coverage >= t.correct_coverage and sim >= t.min_similarity:
        verdict = "correct"
    elif coverage >= t.strong_coverage and sim >= t.strong_similarity:
        verdict = "correct"
    elif coverage < t.wrong_coverage and sim < t.wrong_similarity:
        verdict = "wrong"
    else:
        verdict = "partial"
    if verdict == "correct" and required_missing:
        verdict = "partial"
    return verdict


# ---------------------------------------------------------------- multiple choice

def choice_index(item: Item, answer: str) -> int | None:
    """The option an answer names: letter A-D, number 1-4, or the option's text."""
    keys = [key(o.text) for o in item.options]
    ans = key(answer)
    if ans in keys:
        return keys.index(ans)
    m = _LETTER.match(words_text(answer))
    if m:
        ref = m.group(1)
        idx = "abcd".index(ref) if ref in "abcd" else int(ref) - 1
        rest = key(m.group(2))
        if not rest or rest == keys[idx] or keys[idx].startswith(rest):
            return idx
    close = [i for i, k in enumerate(keys) if close_enough(ans, k)]
    return close[0] if len(close) == 1 else None


def grade_choice(item: Item, answer: str) -> Grade:
    right = item.correct_index
    assert right is not None
    idx = choice_index(item, answer)
    letter = "ABCD"
    base = dict(item_id=item.id, doc_id=item.doc_id, quote=item.quote, right_answer=item.answer)
    right_txt = f"{letter[right]}. {item.answer}"
    if idx == right:
        return Grade(verdict="correct", score=1.0, chosen=idx,
                     feedback=f"{_word(item, 'correct')} {right_txt}\n{item.explanation}", **base)
    if idx is None:
        why = (f"“{answer.strip()}” is not one of the options (answer A-D, 1-4 or an option's text)."
               if item.lang == "en" else f"「{answer.strip()}」は選択肢にありません（A〜D、1〜4、または選択肢の文）。")
        return Grade(verdict="wrong", score=0.0, why_wrong=why,
                     feedback=f"{why}\n{_word(item, 'answer')} {right_txt}\n{item.explanation}", **base)
    chosen: Option = item.options[idx]
    return Grade(verdict="wrong", score=0.0, chosen=idx, why_wrong=chosen.why,
                 feedback=(f"{_word(item, 'wrong')} {letter[idx]}. {chosen.text}\n"
                           f"{_word(item, 'why')} {chosen.why}\n"
                           f"{_word(item, 'answer')} {right_txt}\n{item.explanation}"), **base)


# ---------------------------------------------------------------- cloze

def _cloze_key(text: str) -> str:
    return key(_ARTICLES.sub("", words_text(text)))


def cloze_match(item: Item, answer: str) -> str | None:
    """Which accepted form the answer matches ("exact", "number", "typo") or None."""
    ans = _cloze_key(answer)
    if not ans:
        return None
    for cand in (item.answer, *item.accept):
        if ans == _cloze_key(cand):
            return "exact"
        if is_numeric(cand):
            if same_number(answer, cand):
                return "number"
            continue
        if not is_numeric(answer) and typo_budget(_cloze_key(cand)) and close_enough(ans, _cloze_key(cand)):
            return "typo"
    return None


def grade_cloze(item: Item, answer: str) -> Grade:
    base = dict(item_id=item.id, doc_id=item.doc_id, quote=item.quote, right_answer=item.answer)
    how = cloze_match(item, answer)
    if how:
        note = ""
        if how == "typo":
            note = (f"Accepted despite a small spelling difference: “{item.answer}”."
                    if item.lang == "en" else f"表記の小さな違いは許容しました：「{item.answer}」")
        return Grade(verdict="correct", score=1.0, note=note,
                     feedback="\n".join(x for x in (f"{_word(item, 'correct')} {item.answer}", note,
                                                    item.explanation) if x), **base)
    if key(answer) in _NO_ANSWER:
        return Grade(verdict="wrong", score=0.0, feedback=_no_answer(item), **base)
    known = _known_wrong(item, answer)
    why = known.why if known else ""
    lines = [f"{_word(item, 'wrong')} {answer.strip()}"]
    if why:
        lines.append(f"{_word(item, 'why')} {why}")
    lines += [f"{_word(item, 'answer')} {item.answer}", item.explanation]
    return Grade(verdict="wrong", score=0.0, why_wrong=why, feedback="\n".join(lines), **base)


# ---------------------------------------------------------------- feedback text

_WORDS = {
    "en": {"correct": "Correct:", "wrong": "Not right:", "why": "Why not:", "answer": "The answer:",
           "partial": "Partly there.", "reference": "Reference answer:", "covered": "You covered:",
           "missing": "Missing:", "judge": "Compare with the reference answer and judge for yourself: "
           "if yours says the same, mark it right.", "none": "No answer given."},
    "ja": {"correct": "正解：", "wrong": "不正解：", "why": "理由：", "answer": "正答：",
           "partial": "惜しい（部分的に正解）。", "reference": "模範解答：", "covered": "含まれている要点：",
           "missing": "足りない要点：", "judge": "模範解答と比べて自分で判定してください。"
           "同じ内容なら「正解にする」を選べます。", "none": "解答がありません。"},
}


def _word(item: Item, name: str) -> str:
    return _WORDS[item.lang][name]


def _no_answer(item: Item) -> str:
    return f"{_word(item, 'none')}\n{_word(item, 'answer')} {item.answer}\n{item.explanation}"


def _known_wrong(item: Item, answer: str):  # type: ignore[no-untyped-def]
    k = key(answer)
    return next((w for w in item.wrong if key(w.text) == k), None)


def _short_feedback(item: Item, verdict: str, got: list[str], missing: list[str],
                    why: str = "") -> str:
    sep = "、" if item.lang == "ja" else ", "
    lines = []
    if verdict == "correct":
        lines.append(_word(item, "correct").rstrip(":：") + ("。" if item.lang == "ja" else "."))
    elif verdict == "partial":
        lines.append(_word(item, "partial"))
    else:
        lines.append(_word(item, "wrong").rstrip(":：") + ("。" if item.lang == "ja" else "."))
        if why:
            lines.append(f"{_word(item, 'why')} {why}")
    if got:
        lines.append(f"{_word(item, 'covered')} {sep.join(got)}")
    if missing and verdict != "correct":
        lines.append(f"{_word(item, 'missing')} {sep.join(missing)}")
    lines.append(f"{_word(item, 'reference')} {item.answer}")
    if verdict == "partial":
        lines.append(_word(item, "judge"))
    lines.append(item.explanation)
    return "\n".join(lines)


# ---------------------------------------------------------------- embeddings

class EmbeddingSimilarity:
    """Cosine similarity of an answer to reference answers with the tutor's embedder.

    Only Latin-script references are compared (the default embedder is English); reference
    vectors are cached. ``embedder`` is a :class:`tutor.embed.Embedder` or anything with
    ``embed(texts) -> normalised vectors``.
    """

    def __init__(self, embedder) -> None:  # type: ignore[no-untyped-def]
        self.embedder = embedder
        self._cache: dict[str, list[float]] = {}
        self._lock = threading.Lock()  # warm() may run in one worker while grading runs in another

    def warm(self, items: Sequence[Item]) -> None:
        """Embed the reference answers of ``items`` now (the quiz does it while the learner reads)."""
        with self._lock:
            refs = list(dict.fromkeys(r for i in items if i.kind == "short_answer"
                                      for r in i.all_references if not has_cjk(r) and r not in self._cache))
            if refs:
                for text, vec in zip(refs, self.embedder.embed(refs)):
                    self._cache[text] = vec

    def __call__(self, answer: str, references: Sequence[str]) -> float | None:
        refs = [r for r in references if not has_cjk(r)]
        if not refs:
            return None
        with self._lock:
            todo = [r for r in dict.fromkeys(refs) if r not in self._cache]
            vecs = self.embedder.embed([answer, *todo])
            for text, vec in zip(todo, vecs[1:]):
                self._cache[text] = vec
            a = vecs[0]
            return max(_dot(a, self._cache[r]) for r in refs)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b))
