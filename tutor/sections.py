"""Which sections an answer may draw on: the question's topic (a claim, or a note about no single
claim), whether a source is on it, and the sections retrieval did not return that the plan also
reads: the rest of the topic's note, the glossary's entry for the term asked about, the article's
section on the claim, the claim note's overview.

Sections read this way are marked unretrieved (rank 0) until the plan cites them.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .glossary import GLOSSARY_ID, Match, Term, is_glossary
from .ingest import language_of
from .lexical import JA_STOP, query_weight, tokenize
from .question import CUE_WORDS, cue
from .retrieve import referenced_claims
from .sentences import CONCRETE, models_named

if TYPE_CHECKING:
    from .retrieve import Hit


# cues a section heading shows when its text answers a kind ("Why LLMs are hard to interpret")
HEADING_CUES: dict[str, tuple[str, str]] = {
    "why": (r"\b(why|because|reasons?|causes?)\b", r"なぜ|理由|原因"),
    "how": (r"\b(how|method|methods|setup|procedure|mechanism|works?|steps?|estimat\w*)\b",
            r"仕組み|方法|手順|やり方"),
    "example": (r"\b(examples?|evidence|experiments?|case|cases|illustrat\w*|demonstrat\w*|"
                r"tests?|documented)\b", r"例|実験|証拠"),
    "comparison": (r"\b(vs\.?|versus|compared|differen\w*|disagree\w*|against|unlike)\b",
                   r"違い|比較|対"),
    "figure": (r"\b(figures?|numbers?|exponents?|how much|how many|size|compute|tokens)\b",
               r"数|値|指数"),
}


MORE_SECTIONS = 2  # unretrieved sections of the topic's note the plan may also draw from
UNRETRIEVED = 0.3  # ... each weighing as much less as a fourth-ranked source (measured)


def topic_of(question: str, hits: Sequence[Hit],
              via: str = "source") -> tuple[set[int] | None, str | None, str]:
    """The claims (or, for a note about no single claim, the document) the question is about;
    ``via`` names where ``hits`` came from in the explanation ("source [1]")."""
    named = referenced_claims(question)
    if named:
        return named, None, "claim " + ", ".join(map(str, sorted(named))) + " (named in the question)"
    asked = models_named(question)
    if asked:
        # "how good was GPT-3 at ...": the top source about GPT-4 is not the topic when one of
        # the next ones is about GPT-3
        about = [h for h in hits[:3] if not is_glossary(h.source) and asked & models_named(h.text)]
        if about and about[0] is not next((h for h in hits if not is_glossary(h.source)), None):
            hits = about + [h for h in hits if h not in about]
    for hit in hits:
        if is_glossary(hit.source):
            continue
        if 0 < len(hit.claims) <= 2:
            return set(hit.claims), hit.doc_id, (f"claim {', '.join(map(str, hit.claims))} "
                                                 f"(from {via} [{hit.rank}], {hit.doc_id})")
        return None, hit.doc_id, f"{hit.doc_id} ({via} [{hit.rank}])"
    return None, None, ""


def admits(hit: Hit, claims: set[int] | None, doc: str | None, term_notes: set[str]) -> bool:
    """Whether the answer may draw on ``hit``: it is on the topic, or a note the glossary names
    for the question's term. A term of no claim whose note is the topic ("このチューターって…")
    admits that note alone, not every general note as a general question would."""
    if claims is None and doc in term_notes:
        return hit.doc_id in term_notes or is_glossary(hit.source)
    return is_on_topic(hit, claims, doc) or (hit.doc_id in term_notes and not is_glossary(hit.source))


def is_on_topic(hit: Hit, claims: set[int] | None, doc: str | None) -> bool:
    if doc is not None and hit.doc_id == doc and (claims is None or not hit.claims
                                                  or set(hit.claims) & claims):
        return True  # the same note (the article's sections each have their own claim)
    if is_glossary(hit.source):
        return claims is None  # a definition is on topic unless the question is about a claim
    if claims is not None:
        return bool(set(hit.claims) & claims) and len(hit.claims) <= max(2, len(claims))
    return not hit.claims or len(hit.claims) > 2  # a general question: general notes only


ARTICLE_ID = "article"  # the bundled blog article's document id


def heading_terms(hit: Hit) -> set[str]:
    return {t for t in tokenize(hit.location) if t not in JA_STOP and t not in CUE_WORDS}


JA_SUMMARY = "日本語の要点"  # every note's Japanese summary section is headed so


def content_heading_terms(hit: Hit) -> set[str]:
    """The heading's terms, unless the heading only says the section is the Japanese summary
    (日本語の要点 names the section's language, not what it says)."""
    return set() if JA_SUMMARY in hit.location else heading_terms(hit)


def more_sections(more: Callable[[str], Sequence[Hit]], passages: Sequence[tuple[Hit, int]],
                   claims: set[int] | None, doc: str | None, lang: str,
                   reading_terms: Sequence[set[str]], kinds: Sequence[str],
                   idf: Callable[[str], float] | None, after: int,
                   claim_docs: Callable[[int], Sequence[str]] | None = None,
                   term_notes: Sequence[str] = (), people: Sequence[Term] = ()) -> list[tuple[Hit, int]]:
    """The sections of the topic's note that were not retrieved, best first by the question's
    terms in their text and heading, by a heading that fits the question's kind and by naming
    the authors the question names; numbered provisionally after ``after`` and marked
    unretrieved (rank 0)."""
    home = doc or next((h.doc_id for h, _ in passages if not is_glossary(h.source)
                        and is_on_topic(h, claims, doc)), None)
    if home is None:
        return []
    # the topic's note, the notes devoted to its claim, and the notes the glossary names for the
    # question's terms (迎合 -> claim-4): where the course explains what was asked
    homes = [home] + [d for c in sorted(claims or ()) if len(claims or ()) <= 2
                      for d in (claim_docs(c) if claim_docs else [])] + list(term_notes)
    have = {h.chunk_id for h, _ in passages}
    wanted = [k for k in kinds if k in HEADING_CUES]
    ranked = []
    for c in (c for d in dict.fromkeys(homes) for c in more(d)):
        if c.chunk_id in have or (language_of(c.text) == "ja") != (lang == "ja") \
                or not (is_on_topic(c, claims, doc or home) or c.doc_id in term_notes):
            continue
        have.add(c.chunk_id)
        tset = set(tokenize(c.text))
        hset = heading_terms(c)
        # a heading that names a study ("Othello-GPT: ... (Li et al. 2023)") holds an example
        fit = any(cue(HEADING_CUES[k], c.location) or (k == "example" and cue(CONCRETE, c.location))
                  for k in wanted)
        share = max(term_share(r & tset, r, idf) + term_share(r & hset, r, idf) for r in reading_terms)
        # 「バーンズの研究って何をしたの？」: the summary that names Burns, not one that says 研究
        names = any(t.named_in(c.text) for t in people)
        ranked.append((share + (0.3 if fit else 0.0) + (0.3 if names else 0.0), chunk_order(c.chunk_id), c))
    ranked.sort(key=lambda x: (-x[0], x[1]))  # ties in the note's order
    out = []
    # a Japanese question also wants its 日本語の要点, an example question the section of a study
    extra = (lang == "ja") + ("example" in kinds)
    for score, _, c in ranked:
        if len(out) >= MORE_SECTIONS + extra:
            break
        # a Japanese question reads its topic note's Japanese summary even when the question's
        # own words are not in it (「それってどの論文の結果？」 after a question on Kaplan)
        if score <= 0 and not (lang == "ja" and c.doc_id == home):
            continue
        c.rank = 0
        out.append((c, after + 1 + len(out)))
    return out


def is_entry_of(hit: Hit, matches: Sequence[Match]) -> bool:
    """Whether ``hit`` is the glossary's entry for one of the matched terms."""
    return any(m.term.is_entry(hit.source, hit.location) for m in matches)


def glossary_entries(question: str, matches: Sequence[Match], passages: Sequence[tuple[Hit, int]],
                      more: Callable[[str], Sequence[Hit]], after: int,
                      people: bool = False) -> list[tuple[Hit, int]]:
    """The glossary's entries for the (at most two) terms a definition question asks about, when
    retrieval did not return them; numbered after ``after`` and marked unretrieved (rank 0)."""
    have = {h.chunk_id for h, _ in passages}
    question_norm = unicodedata.normalize("NFKC", question).lower()  # the matches' offsets
    # 「ウェイらは創発をどう定義した？」 asks what emergence is, not who Wei is; 「カプランの実験って
    # どんなデータ？」 asks neither; "who wrote ..." asks for a person
    who = people or bool(re.search(r"\bwho\b|誰|だれ", question.lower()))
    terms = [m for m in matches if who or not m.term.is_person]
    # 「RLHFの報酬モデル」: the term after の is the one asked about
    terms = [m for i, m in enumerate(terms) if not (
        i + 1 < len(terms) and question_norm[m.end:terms[i + 1].start].strip() == "の")]
    wanted = list({m.term.heading: m.term for m in terms}.values())[:2]
    if not wanted:
        return []
    sources = {h.source for h, _ in passages if is_glossary(h.source)}
    out: list[tuple[Hit, int]] = []
    for c in more(GLOSSARY_ID):
        if c.chunk_id in have or not any(t.is_entry(c.source, c.location) for t in wanted):
            continue
        if sources and c.source not in sources:
            continue
        c.rank = 0
        out.append((c, after + 1 + len(out)))
    return out


def chunk_order(chunk_id: str) -> tuple[str, int]:
    """"kaplan-2020@v#12" as ("kaplan-2020@v", 12): chunks in document order, #9 before #12."""
    head, _, n = chunk_id.rpartition("#")
    return (head, int(n)) if n.isdigit() else (chunk_id, 0)


def article_sections(claims: set[int], passages: Sequence[tuple[Hit, int]],
                      more: Callable[[str], Sequence[Hit]], after: int) -> list[tuple[Hit, int]]:
    """The article's sections on ``claims`` that retrieval did not return, marked unretrieved."""
    have = {h.chunk_id for h, _ in passages}
    out: list[tuple[Hit, int]] = []
    for c in more(ARTICLE_ID):
        if c.chunk_id not in have and c.claims and set(c.claims) <= claims:
            c.rank = 0
            out.append((c, after + 1 + len(out)))
    return out[:2]


def overview_section(claim: int, lang: str, passages: Sequence[tuple[Hit, int]],
                      more: Callable[[str], Sequence[Hit]],
                      claim_docs: Callable[[int], Sequence[str]], after: int) -> list[tuple[Hit, int]]:
    """The claim note's overview (its first section, or its 日本語の要点 for a Japanese question),
    when retrieval did not return it: a yes-or-no question about the claim starts from it."""
    have = {h.chunk_id for h, _ in passages}
    for doc in claim_docs(claim):
        for c in more(doc):
            if c.claims != [claim] or (language_of(c.text) == "ja") != (lang == "ja"):
                continue
            if lang != "ja" and not c.chunk_id.endswith("#0"):
                continue
            if c.chunk_id not in have:
                c.rank = 0
                return [(c, after + 1)]
            return []
    return []


def term_share(found: set[str], wanted: set[str], idf: Callable[[str], float] | None) -> float:
    if not wanted:
        return 0.0
    # a hiragana bigram (のか, すぎ) counts as little as it does in the lexical search
    if idf is None:
        return sum(query_weight(t) for t in found) / (sum(query_weight(t) for t in wanted) or 1.0)
    return (sum(idf(t) * query_weight(t) for t in found)
            / (sum(idf(t) * query_weight(t) for t in wanted) or 1.0))
