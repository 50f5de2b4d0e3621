"""The grounding gate: the model's text is released a sentence at a time while it stays grounded.

A sentence whose terms are mostly absent from the sources, that gives a figure they do not give,
that repeats itself or cites a source that does not exist ends the answer there. A sentence that
says nothing ("The answer is [3].") or opens with a bare citation ("[1] says that ...") is left
out, and a sentence cut off by the token limit or the end of the stream is never released.
So are headings ("The emergence debate: ...") and the prompt read back ("Question: ..."). A
Japanese answer ends where the model switches to another language. A grounded sentence the model
did not cite is cited with the source that holds most of its terms.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from .ingest import ABBREVIATION, language_of, split_sentences
from .lexical import is_hiragana, tokenize

_COMPLETE = re.compile(r"[.!?。！？][\"'”’」』)）]*(\s*\[\d+\])*[.。]?$")
# verbs that make a citation the subject of a sentence ("[1] says that ...")
_CITING = r"says?|states?|notes?|shows?|explains?|mentions?|reports?|argues?"
_BARE_CITATION = re.compile(r"\s*(\[\d+\]\s*)+(" + _CITING + r"|は|によると|では|$)", re.I)
_LEADING_CITATION = re.compile(r"^\s*(\[\d+\]\s*)+(?=\S)")
# "The source says that [2] quotes a figure ...": a citation used as a word inside the sentence
_CITATION_AS_WORD = re.compile(r"\[\d+\]\s+(" + _CITING + r"|quotes?|describes?|gives?|lists?|cites?|"
                               r"is|was|has)\b", re.I)
# a sentence ends at "." "!" "?" followed by a space (never at the end of what has streamed so
# far: "0." may be the start of "0.076"), at a Japanese 。！？ not followed by a closing bracket
# (Japanese puts no space after it), or at a line break; the citations after its full stop
# (". [3]") are its own, so an uncited sentence waits for the next piece before it is judged
_SENT_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])(?![」』）)\]。！？])(?=.)\s*|\n")
_TRAILING_CITES = re.compile(r"(?:\s*\[\d+\])+[.。]?\s*")
# "The emergence debate: ...", "Key point:": a short label before a colon opens a heading
_LABEL = re.compile(r"^\s*[#*\-]*\s*[A-Za-z][\w'’\- ]{0,40}:\s")
# the prompt's own words, echoed back: "Question: ...", "Answer from the sources, ..."
_ECHO = re.compile(r"^\s*(question|answer from the sources|sources?|日本語で答えてください)\s*[:：.]|"
                   # 「日本語で答えてください。」, 「日本語で回答します。」: the instruction, not an answer
                   r"^\s*日本語で(?:答え|回答)(?:てください|て下さい|ます|します)?\s*[。.]?\s*$", re.I)


def _norm_sentence(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _numbers(text: str) -> set[str]:
    """Figures of two or more digits ("0.076", "10,000" as "10000"); single digits are too common
    ("claim 4", list items) to tell anything."""
    text = unicodedata.normalize("NFKC", text)  # "２０" is "20"
    found = {m.group().replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}
    return {n for n in found if len(n.replace(".", "")) >= 2}


class SentenceGate:
    """Releases generated text sentence by sentence while it is grounded in the sources."""

    def __init__(self, lead: str, sources: list[str], n_sources: int, min_grounded: float = 0.6,
                 language: str | None = None, continues: bool = True,
                 numbers: Sequence[int] | None = None):
        # the source numbers of ``sources`` (1 to n_sources by default; with ``numbers``,
        # n_sources is not used): a citation of any other source, one the model was not shown,
        # is not grounded
        self._numbers = list(numbers) if numbers is not None else list(range(1, n_sources + 1))
        self.accepted = ""
        # a Japanese answer that switches to English has lost the thread (and the learner)
        self._language = language
        self._pending = ""
        said = split_sentences(lead) if lead else []
        self._seen = {_norm_sentence(s) for s in said}
        self._seen_terms = [(set(tokenize(s)), _numbers(s)) for s in said]
        self._terms_of = [set(tokenize(src)) for src in sources]  # by source, as numbered
        self._source_terms = set().union(*self._terms_of)
        self._source_numbers = _numbers(" ".join(sources))
        self._min = min_grounded
        # "... instructions. [2]" + " says that ...": a continuation that makes the lead's
        # citation its subject reads as a fragment
        self._after_citation = continues and bool(re.search(r"\[\d+\]\s*$", lead))

    def feed(self, piece: str) -> tuple[str, str | None]:
        self._pending += piece
        out = ""
        start = 0
        while True:
            m = _SENT_END.search(self._pending, start)
            if not m or m.end() == 0:
                return out, None
            if ABBREVIATION.search(self._pending[: m.end()].rstrip()):
                start = m.end()  # "et al. " goes on
                continue
            end, rest = m.end(), self._pending[m.end():]
            cites = _TRAILING_CITES.match(rest)
            if cites:
                end += cites.end()  # "... do the same. [3]": the citation belongs to the sentence
            elif m.group() != "\n" and re.fullmatch(r"\s*(\[\d*)?", rest) \
                    and not re.search(r"\[\d+\]", self._pending[:end]):
                return out, None  # uncited: its citation may come next (". [3]"), wait for it
            sentence, self._pending = self._pending[:end], self._pending[end:]
            start = 0
            lead_cite = _LEADING_CITATION.match(sentence)
            if lead_cite and not _BARE_CITATION.match(sentence):
                # "... scale. [1] It also ...": the citation closes the sentence before (after
                # the planned sentences, which carry their own citations, it is dropped)
                cite, sentence = sentence[: lead_cite.end()], sentence[lead_cite.end():]
                if self.accepted.strip() and not self.accepted.rstrip().endswith(cite.strip()):
                    out += cite
                    self.accepted += cite
            verdict = self._judge(sentence)
            if m.group() == "\n" and sentence.strip() and not _COMPLETE.search(sentence.strip()) \
                    and verdict is None:
                verdict = "empty"  # a line that does not end like a sentence: a label, or cut off
            if verdict == "empty":
                continue  # "The answer is [3]." says nothing: leave it out
            if verdict:
                return out, verdict
            sentence = self._cited(sentence)
            out += sentence
            self.accepted += sentence

    def finish(self, keep_partial: bool) -> tuple[str, str | None]:
        rest, self._pending = self._pending, ""
        if not rest.strip() or not keep_partial:
            return "", None
        if not _COMPLETE.search(rest.strip()):
            return "", "fragment"  # the model stopped mid-sentence: not released
        verdict = self._judge(rest)
        if verdict:
            return "", None if verdict == "empty" else verdict
        rest = self._cited(rest)
        self.accepted += rest
        return rest, None

    def _cited(self, sentence: str) -> str:
        """A grounded sentence the model left uncited gets the source that holds most of its
        terms, so that every sentence of an answer says where it comes from."""
        if re.search(r"\[\d+\]", sentence) or not self._numbers or not self._terms_of \
                or not _norm_sentence(sentence):
            return sentence
        terms = set(tokenize(sentence))
        pairs = list(zip(self._numbers, self._terms_of))
        best = max(pairs, key=lambda p: (len(terms & p[1]), -p[0]))[0]
        body = sentence.rstrip()
        return f"{body} [{best}]{sentence[len(body):]}"

    def _judge(self, sentence: str) -> str | None:
        key = _norm_sentence(sentence)
        if not key:
            return None if not sentence.strip() else "empty"  # a stray "." or "[4]."
        if _BARE_CITATION.match(sentence) or (self._after_citation and not self.accepted
                                              and re.match(r"\s*[a-z]", sentence)):
            return "empty"  # "[1] says that ...": a citation where the subject should be
        if _CITATION_AS_WORD.search(sentence):
            return "empty"  # "... that [2] quotes a figure": the same, inside the sentence
        if _ECHO.match(sentence):
            return "empty"  # the prompt read back
        if re.search(r"[?？]$", _TRAILING_CITES.sub("", sentence).strip()):
            return "empty"  # a question ("LeetCodeの問題でGPT-4は人間に勝ったの？", read back): no answer
        if _LABEL.match(sentence) and not re.search(r"\[\d+\]", sentence):
            return "empty"  # "The emergence debate: Wei et al. ...": a heading, not a sentence
        if self._language == "ja" and language_of(sentence) != "ja":
            return "other-language"
        if key in self._seen:
            return "repetition"
        self._seen.add(key)
        cited = [int(n) for n in re.findall(r"\[(\d+)\]", sentence)]
        if any(n not in self._numbers for n in cited):
            return "ungrounded"  # a source that does not exist, or was not shown
        text = re.sub(r"\[\d+\]", " ", sentence)
        terms = [t for t in tokenize(text) if not t.isdigit()]
        if len(terms) < 3:
            return "empty"
        own, figures = set(terms), _numbers(text)
        if figures - self._source_numbers:
            return "ungrounded"  # a figure the sources do not give: the small model's usual slip
        if len(own) >= 4 and any(len(own & seen) >= 0.8 * len(own) and figures <= seen_figures
                                 for seen, seen_figures in self._seen_terms):
            return "repetition"  # the same sentence again with a word or two changed, no new figure
        self._seen_terms.append((own, figures))
        # a hiragana bigram (した, だけ) is a particle or an inflection, not a claim: in Japanese
        # the content words (kanji, katakana, Latin) are what must come from the sources
        content = [t for t in terms if not is_hiragana(t)]
        judged = content if len(content) >= 3 else terms
        grounded = sum(1 for t in judged if t in self._source_terms) / len(judged)
        return "ungrounded" if grounded < self._min else None
