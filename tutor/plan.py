"""The answer plan: what kind of question this is, and the source sentences that answer it.

The answer opens with the plan's sentences (quoted, cited), so a learner sees the key fact within
a second of Enter and even when the model wanders or cannot write the question's language.

A question has one or two *kinds* (definition, figure, why/how, example, comparison, claim
overview, follow-up; "general" when no cue is found), recognised from English and Japanese cue
words (:mod:`tutor.question`). Candidate sentences come from the top sources that are on the
question's *topic* (the claim or document of the best source: a sentence about claim 2 is not
added to an answer about claim 4), and from the sections of the topic's note, the glossary and
the article that retrieval did not return (:mod:`tutor.sections`). They are scored by how much
of the question they hold, how they fit the kind ("because" for why, a figure for how much, "for
example" for an example...), and whether they are in the question's language. A second or
third sentence is added only when it answers a kind not yet answered, or holds question terms the
earlier ones do not. Every choice is recorded as a line of :meth:`Plan.explain`, shown in the
Inspector ("why these sentences"). What a single sentence shows (a figure, a definition, a
"because", a pointer back) is read by :mod:`tutor.sentences`.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .glossary import Glossary, Term, is_glossary
from .ingest import language_of
from .lexical import JA_STOP, STOPWORDS, is_hiragana, tokenize
from .question import CUE_WORDS, FILLER, POINTERS, asks_again, cue, question_kinds
from .retrieve import referenced_claims
from .sections import (ARTICLE_ID, HEADING_CUES, UNRETRIEVED, admits, article_sections,
                       chunk_order, content_heading_terms, glossary_entries, heading_terms,
                       is_entry_of, more_sections, overview_section, term_share, topic_of)
from .sentences import (ANSWER_CUES, CONCRETE, EXPLICIT, defines, has_figure, lists_things, models_named,
                        normalized, opening_bonus, points_back, sentences_of, usable_sentence, with_next)

if TYPE_CHECKING:
    from .retrieve import Hit


CONCRETE_BONUS = 0.2  # measured: "give me an example" took "X means ..., such as ..." before
QUOTED_COST = 0.5  # a sentence holding what the question quotes (「記事に『…』ってあるけど本当？」)
AFTER_QUOTE_BONUS = 0.2  # ... and the sentence right after it, which explains what it quotes
QUOTED_WORD_BONUS = 0.4  # a sentence that quotes the word the question quotes (「見える」って言い方)
KIND_BONUS = 0.25  # a sentence that fits the question's kind (measured: benchmarks/answers.py)
SAME_LANGUAGE = {"en": 0.2, "ja": 0.45}  # Japanese readers should read Japanese
MIN_LEAD_SCORE = 0.35  # below this no sentence "answers"; the fallback takes the best passage
EXTRA_MIN_SHARE = 0.6  # a further sentence must score at least this share of the best one
EXTRA_KIND_SHARE = 0.45  # ... or this share when it answers another part ("and why ...?")
EXTRA_NEW_TERMS = 0.15  # ... and answer a new kind or hold this share of new question terms
MAX_SENTENCES = 3
# a sentence of the lead's note scoring this close to the lead may be the answer as much as the
# lead: the scores cannot tell them apart (measured over every set: +7 key facts, +7 sentences
# cited to another note than the question's, of 633 answers; from any note: +15 and +21)
NEAR_TIE = 0.9
SHORT_LEAD = 40  # a lead this short that cannot take its next sentence takes the one before it
LEAD_WITH_NEXT = 200  # a lead shorter than this reads with its next sentence (measured: +5 key facts of 273)
CONSIDERED = 6  # sentences the Inspector lists: the chosen ones and the best of the rest
OTHER_MODEL_COST = 0.4  # a sentence about another model than the one the question names
ASKED_PERSON_BONUS = 0.2  # ... and one whose subject is the (rarely named) author it names counts for more
HEADING_WEIGHT = 0.5  # a question term in a sentence's section heading counts this much


# ------------------------------------------------------------------ the plan


@dataclass
class Pick:
    sentence: str
    source: int  # 1-based source number, as cited
    score: float
    why: str


@dataclass
class Plan:
    kinds: list[str]
    language: str
    picks: list[Pick] = field(default_factory=list)
    topic: str = ""
    glossary: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    fallback: bool = False
    added: list[Hit] = field(default_factory=list)  # sections of the note read beyond the sources
    on_topic: list[int] = field(default_factory=list)  # the retrieved sources on the topic
    # the best sentences not chosen: (source, score, sentence, why), for "why not this one?"
    considered: list[tuple[int, float, str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return lead_text([(p.sentence, p.source) for p in self.picks])

    def explain(self) -> list[str]:
        lines = [f"question kind: {', '.join(self.kinds)} ({self.language})"]
        if self.glossary:
            lines.append("glossary: " + "; ".join(self.glossary))
        if self.topic:
            lines.append(f"topic: {self.topic}")
        for p in self.picks:
            lines.append(f"[{p.source}] {p.why} (score {p.score:.2f})")
        if self.fallback:
            lines.append("no sentence scored as an answer: the best sentences of the top passage")
        if self.on_topic:
            lines.append("sources on the topic (the model is shown these): "
                         + ", ".join(f"[{n}]" for n in self.on_topic))
        for n, score, sent, why in self.considered:
            short = sent if len(sent) <= 80 else sent[:77] + "..."
            lines.append(f"not chosen: [{n}] {short} ({why}; score {score:.2f})")
        lines += self.notes
        return lines

    def as_json(self) -> dict[str, object]:
        return {"kinds": self.kinds, "language": self.language, "topic": self.topic,
                "sentences": [{"text": p.sentence, "source": p.source, "score": round(p.score, 3),
                               "why": p.why} for p in self.picks],
                "glossary": self.glossary, "fallback": self.fallback, "on_topic": self.on_topic,
                "explain": self.explain()}


def lead_text(leads: Sequence[tuple[str, int]]) -> str:
    """``[(s1, 1), (s2, 2)]`` as "s1 [1] s2 [2]"; one citation when both come from one source."""
    out = ""
    for i, (sent, n) in enumerate(leads):
        same_next = i + 1 < len(leads) and leads[i + 1][1] == n
        # Japanese sentences of one source follow each other without a space
        out += ("" if not out or out.endswith("。") else " ") + (sent if same_next else f"{sent} [{n}]")
    return out


def make_plan(question: str, hits: Sequence[Hit],
              embed: Callable[[list[str]], list[list[float]]] | None = None,
              history: Sequence[tuple[str, str]] = (), glossary: Glossary | None = None,
              idf: Callable[[str], float] | None = None,
              more: Callable[[str], Sequence[Hit]] | None = None,
              claim_docs: Callable[[int], Sequence[str]] | None = None,
              topic_from: Sequence[Hit] | None = None) -> Plan:
    """Choose the one to three sentences that answer ``question`` from ``hits`` (cited by their
    position, 1-based). ``idf`` weighs the question's
    terms (a rare "HumanEval" counts for more than 論文); every term weighs the same without it.
    ``more(doc_id)`` gives the other sections of a document: the plan also reads the
    :data:`tutor.sections.MORE_SECTIONS` sections of the topic's note that hold most of the question (the
    retriever's top three can miss "why LLMs are hard to interpret" for a "why can't we read
    it?"); those it cites are in :attr:`Plan.added`, numbered after ``hits``. ``claim_docs(n)``
    names the documents devoted to claim n, whose sections are read as well. ``topic_from``, for a
    follow-up, is what the earlier question retrieved: the topic is that question's."""
    lang = language_of(question)
    kinds = question_kinds(question, history)
    plan = Plan(kinds, lang)
    if glossary is not None:
        plan.glossary = glossary.explain(question)
    readings = glossary.readings(question) if glossary is not None else [question]
    own = [t for t in tokenize(question) if t not in JA_STOP and t not in CUE_WORDS
           and t not in FILLER and not is_hiragana(t)]
    # "and the one for compute?": read with the last question, but answered about compute
    again = set(own) if "followup" in kinds and history and asks_again(question) else set()
    if "followup" in kinds and history and (len(own) < 2 or again):
        # "why?" is read with the question it follows; "and how do they estimate the compute"
        # has words of its own, which are what its answer must hold (retrieval and the topic
        # still come from both); "and the one for compute?" asks the last question again
        readings = [f"{history[-1][0]} {r}" for r in readings]
    # "claim 3 mentions colour words??": the named claim sets the topic; its words do not
    # make a sentence an answer (the claim's first sentence won on "claim" and "3")
    named = _claim_words(question) if "claim" not in kinds else set()
    reading_terms = [set(t for t in tokenize(r) if t not in JA_STOP and t not in CUE_WORDS
                         and t not in POINTERS and t not in named) for r in readings]
    reading_terms = [_without_locator(r, text) for r, text in zip(reading_terms, readings)]
    reading_terms = [r for r in reading_terms if r] or [set()]
    if not hits:
        return plan
    if "followup" in kinds and topic_from:
        # a follow-up is about what the question it follows was about
        claims, doc, plan.topic = topic_of(history[-1][0], topic_from,
                                            via="the earlier question's source")
    else:
        claims, doc, plan.topic = topic_of(question, hits)
    matches = glossary.matches(question) if glossary else []
    term_notes = {n for m in matches for n in m.term.notes}
    # ... unless the top three sources agree on another note (「日本語で質問したとき、ベクトル検索の
    # 重みって…」: 重み is a glossary term of the scaling notes, the question is about the RAG note)
    unanimous = len(hits) >= 3 and all(h.doc_id == doc for h in hits[:3])
    if term_notes and doc not in term_notes and not referenced_claims(question) and not unanimous:
        # the glossary says where its term is explained: those notes are on topic as well
        on_term = [h for h in hits if h.doc_id in term_notes]
        # 「ブベックたちってなんで…テスト…」: a question that names an author is about their
        # paper's note, even when retrieval ranked a claim first
        authors = [m for m in matches if m.term.is_person and m.term.notes]
        by_author = not on_term and bool(authors) and more is not None and "followup" not in kinds
        if by_author:
            on_term = list(more(authors[0].term.notes[0]))[:1]
        if not on_term and claims is None and more is not None and "followup" not in kinds:
            # "making something up" names hallucination, whose note retrieval did not return
            # under the top general note: the plan reads the term's own note instead
            named = [(m.term.heading.lower(), m.term.notes) for m in matches]
            # the note named after the term (Hallucination -> hallucination), else its first
            first = next((n for h, notes in named for n in notes if n.replace("-", " ") in h),
                         next((n for _, notes in named for n in notes), None))
            on_term = list(more(first))[:1] if first else []
        if on_term and on_term[0].doc_id != doc:
            # the question is about the term: its notes are the topic, not the top source's
            claims = set(c for h in on_term if len(h.claims) <= 2 for c in h.claims) or (
                claims if any(h.claims for h in on_term) and not by_author else None)
            doc = on_term[0].doc_id
            plan.topic = ((f"claim {', '.join(map(str, sorted(claims)))}" if claims else doc)
                          + " (the glossary's notes for "
                          f"the term: {', '.join(sorted(term_notes))})")
    passages = [(h, n) for n, h in enumerate(hits[:4], 1)]
    if more is not None:
        passages += more_sections(more, passages, claims, doc, lang, reading_terms, kinds, idf,
                                   len(hits), claim_docs, sorted(term_notes),
                                   _rare_names([m.term for m in matches if m.term.is_person], idf))
    entries: set[str] = set()
    papers = cue(_ASKS_PAPERS, question) and any(m.term.is_person for m in matches)
    if ("definition" in kinds or papers) and matches and more is not None:
        # "what is sycophancy?", 「迎合ってなに？」: the glossary's entry for the term is the
        # course's own definition, whichever note retrieval ranked first
        # 「ウェイの論文って、創発のとCoTのは同じ論文？」: the author's entry lists their papers
        found = glossary_entries(question, matches, passages, more, len(passages) + len(hits),
                                  people=papers)
        entries = {h.chunk_id for h, _ in found} | {h.chunk_id for h, _ in passages
                                                    if is_entry_of(h, matches)}
        passages += found
    if claims and len(claims) <= 2 and more is not None and lang == "ja" \
            and cue(_ASKS_ARTICLE_VIEW, question) and not ("check" in kinds and cue(_CITES_ARTICLE, question)):
        # 「なんで記事は主張4を「すごい人間っぽい」って言ってるの？」: the article's own section on
        # the claim, which retrieval may leave under the claim note's sections
        passages += article_sections(claims, passages, more, len(passages) + len(hits))
    # a yes-or-no question about a claim opens with the claim's position; one about a term of
    # the course (「ハルシネーションのときLLMって嘘ついてる自覚あるってこと？」, "does rlhf fix
    # it?") is answered on the term, unless it names the claim
    position = bool("check" in kinds and claims and len(claims) == 1 and (
        referenced_claims(question) or not any(not m.term.is_person for m in matches)))
    if position and more is not None and claim_docs:
        passages += overview_section(next(iter(claims)), lang, passages, more, claim_docs,
                                      len(passages) + len(hits))
    # the sources a model may use too: a sentence about another claim has no place in the answer
    plan.on_topic = [n for n, h in enumerate(hits, 1) if admits(h, claims, doc, term_notes)]
    plan = _choose(plan, question, passages, claims, doc, kinds, lang, history, readings,
                   reading_terms, embed, glossary, idf, term_notes, entries, len(own),
                   claim_docs(next(iter(claims))) if claim_docs and claims and len(claims) == 1 else (),
                   position, again)
    _number_added(plan, passages, len(hits))
    plan.on_topic = sorted(set(plan.on_topic) | {p.source for p in plan.picks})
    return plan


def _choose(plan: Plan, question: str, passages: list[tuple[Hit, int]], claims: set[int] | None,
            doc: str | None, kinds: list[str], lang: str, history: Sequence[tuple[str, str]],
            readings: list[str], reading_terms: list[set[str]],
            embed: Callable[[list[str]], list[list[float]]] | None, glossary: Glossary | None,
            idf: Callable[[str], float] | None, term_notes: set[str],
            entries: AbstractSet[str] = frozenset(), own_terms: int = 0,
            claim_notes: Sequence[str] = (), position: bool = False,
            again: AbstractSet[str] = frozenset()) -> Plan:
    """Score the on-topic sentences of ``passages`` (the notes the glossary names for the
    question's terms are on topic too) and pick the lead and up to two more. ``again``: the
    words of a follow-up that asks the last question again about them ("compute")."""
    if "claim" in kinds and claims and len(claims) == 1:
        picked = _claim_overview(passages, lang, next(iter(claims)), claim_notes)
        if picked:
            plan.picks = [picked]
            return plan
    def admitted(hit: Hit) -> bool:
        return admits(hit, claims, doc, term_notes) or hit.chunk_id in entries

    candidates: list[tuple[str, int, int, Hit]] = []  # sentence, source, index in passage, hit
    skipped_topic = 0
    for hit, n in passages:
        if not admitted(hit):
            skipped_topic += 1
            continue
        for i, sent in enumerate(sentences_of(hit.text)):
            named = referenced_claims(sent)
            if claims is not None and named and not named & claims \
                    and (len(named) > 1 or referenced_claims(sent[: len(sent) * 2 // 3])):
                # "Claim 5 says ...": another claim's point; one claim named in passing at the end
                # ("... exactly the kind of evidence claim 8 warns about") is not
                continue
            if "followup" in kinds and history and own_terms < 2 and not {"figure", "source"} & set(kinds) \
                    and normalized(sent) in normalized(history[-1][1]):
                # "why?" after an answer: something the last answer did not say; "so what was the
                # exponent" asks for a figure it may have said
                continue
            if usable_sentence(sent):
                candidates.append((sent, n, i, hit))
    if skipped_topic:
        plan.notes.append(f"left out {skipped_topic} source(s) about another claim or topic")
    if not candidates:
        return _fallback(plan, passages, question, lang, admitted)
    sims = [0.0] * len(candidates)
    if embed is not None and lang == "en":
        vecs = embed([readings[0]] + [c[0] for c in candidates])
        qv = vecs[0]
        sims = [sum(a * b for a, b in zip(qv, v)) for v in vecs[1:]]
    # "claim 4" names the topic; as a phrase it would make the claim's first sentence an answer
    claim_words = _claim_words(question) if "claim" not in kinds else set()
    q_seq = [t for t in tokenize(_LOCATOR.sub(" ", readings[0])) if t not in JA_STOP and t not in claim_words]
    q_pairs = set(zip(q_seq, q_seq[1:]))
    wanted = [k for k in kinds if k in ANSWER_CUES]
    names = _names(question, glossary)
    asked_models = set().union(*(models_named(r) for r in readings))  # チンチラ read as Chinchilla
    # 「バーンズの研究って何をしたの？」: a sentence about Kadavath et al. is about another study
    people = [t for t in (glossary.terms if glossary is not None else []) if t.is_person]
    asked_people = _people_in(question, people)
    asked_studies = _rare_names([t for t in people if t.heading in asked_people], idf)
    besides = _set_aside(question)
    checks_article = "check" in kinds and cue(_CITES_ARTICLE, question)
    asks_article = not checks_article and cue(_ASKS_ARTICLE_VIEW, question)
    quoted = [normalized(a or b) for a, b in re.findall(r"「([^」]{6,})」|\"([^\"]{12,})\"", question)]
    # 「なんで「見える」って言い方なの？」, 'why does it say "appear"?': a word, not a passage; the
    # sentence that quotes it too (「見える」という慎重な表現は…) is about the word
    words = [normalized(a or b).lower()
             for a, b in re.findall(r"「([^」]{1,5})」|[\"“]([^\"”]{1,11})[\"”]", question)]
    split = {hit.chunk_id: sentences_of(hit.text) for _, _, _, hit in candidates}  # once a passage
    scored: list[tuple[float, int, str, int, set[str], list[str], str]] = []
    shares: dict[int, float] = {}  # candidate -> share of the question's terms it holds
    asked_terms = _asked_terms(readings[0], glossary)
    for k, ((sent, n, i, hit), sim) in enumerate(zip(candidates, sims)):
        terms = tokenize(sent)
        tset = set(terms)
        fits = [kd for kd in wanted if (defines(sent, names) if kd == "definition"
                                        else has_figure(sent) if kd == "figure"
                                        else cue(ANSWER_CUES[kd], sent))]
        fits += [kd for kd in wanted if kd not in fits and kd in HEADING_CUES
                 and cue(HEADING_CUES[kd], hit.location) and (kd != "figure" or has_figure(sent))]
        held = set(tset)
        explicit = "example" in fits and cue(EXPLICIT, sent)
        if "definition" in fits or explicit:
            # a definition or an example of a term the question names, in another spelling of it,
            # holds the question's term ("An ability is called emergent ..." for "what is
            # emergence?"; "Two standard examples of emergent abilities ...")
            for term in asked_terms:
                if term.named_in(sent):
                    held |= {t for sp in term.spellings for t in tokenize(sp)}
        hset = heading_terms(hit) - tset
        overlap = max(term_share(r & held, r, idf) + HEADING_WEIGHT * term_share(r & hset, r, idf)
                      for r in reading_terms)
        phrases = len(q_pairs & set(zip(terms, terms[1:])))
        s_lang = language_of(sent)
        rank_cost = 0.0 if hit.chunk_id in entries else UNRETRIEVED if hit.rank == 0 else 0.08 * (n - 1)
        if again and not again & tset:
            rank_cost += QUOTED_COST  # about what the last question asked, not the new thing
        if any(q in normalized(sent) for q in quoted) or (besides and besides & tset and not lists_things(sent)) \
                or (checks_article and hit.doc_id == ARTICLE_ID):
            # 「…」 the learner quotes it, "besides X": they want what else; 「記事だと…って書いて
            # あるけど、ほんと？」: they have read the article and ask what the notes say
            rank_cost += QUOTED_COST
        quotes_word = bool(words) and any(re.search(r"[「\"“]" + re.escape(w), normalized(sent).lower())
                                          for w in words)
        if quotes_word:
            rank_cost -= QUOTED_WORD_BONUS
            fits = fits or wanted[:1]  # what the question asks of the word, it answers
        prev = split[hit.chunk_id][i - 1] if i > 0 else ""
        if quoted and prev and any(q in normalized(prev) for q in quoted):
            # 「なんで「すごい人間っぽい」って言ってるの？」: the sentence after the quoted one says it
            rank_cost -= AFTER_QUOTE_BONUS
        if asks_article and hit.doc_id == ARTICLE_ID:
            rank_cost -= ARTICLE_VIEW_BONUS  # the author's view is in the author's words
        # a sentence that points back ("これらの研究は…") reads with the one before it, and is
        # about what that one names
        said = prev + sent if prev and points_back(sent) else sent
        other = models_named(said)
        if asked_models and other and not other & asked_models:
            rank_cost += OTHER_MODEL_COST  # asked about GPT-3, this is about GPT-4
        if asked_people:
            named_people = _people_in(said, people)
            if named_people and not named_people & asked_people:
                rank_cost += OTHER_MODEL_COST  # asked about Burns, this is about Kadavath
            elif any(t.named_in(sent.lstrip("「\"'(（")[:12]) for t in asked_studies) \
                    and _people_in(hit.text, people) - asked_people:
                # 「バーンズの研究って…」: a sentence whose subject is Burns et al. ("Burns et al.
                # 2022 showed ..."), in a note on two studies
                rank_cost -= ASKED_PERSON_BONUS
        if explicit:
            rank_cost -= CONCRETE_BONUS * 1.5
            if any(term.named_in(sent) for term in asked_terms):
                # "Two standard examples of emergent abilities are ...": an example of what was
                # asked about, not a study that names one in passing ("metrics such as ...")
                rank_cost -= CONCRETE_BONUS
        elif "example" in fits and cue(CONCRETE, sent):
            rank_cost -= CONCRETE_BONUS
        elif "example" in wanted and "definition" not in kinds and defines(sent, names):
            rank_cost += CONCRETE_BONUS  # "an example of X" is not answered by what X is
        score = (sim + 0.5 * overlap + 0.15 * min(phrases, 3) - rank_cost
                 + (SAME_LANGUAGE[lang] if s_lang == lang else 0.0)
                 + (KIND_BONUS if fits else 0.0) + opening_bonus(sent, i)
                 - (0.1 if is_glossary(hit.source) else 0.0))
        why = (f"{round(overlap * 100)}% of the question's terms"
               + (f", fits '{'/'.join(fits)}'" if fits else "")
               + (", quotes the word asked about" if quotes_word else "")
               + (", in the question's language" if s_lang == lang else "")
               + (f", meaning {sim:.2f}" if sim else ""))
        scored.append((score, k, sent, n, tset, fits, why))
        shares[k] = overlap
    scored.sort(key=lambda x: (-x[0], x[1]))
    # the answer opens in the question's language when a sentence in it answers at all ("why
    # though?" in English after a Japanese question retrieved the Japanese summary first)
    own_language = [x for x in scored if language_of(x[2]) == lang and x[0] >= MIN_LEAD_SCORE]
    if own_language and own_language[0] is not scored[0]:
        scored.remove(own_language[0])
        scored.insert(0, own_language[0])
    best = scored[0]
    if best[0] < MIN_LEAD_SCORE:
        return _fallback(plan, passages, question, lang, admitted)
    first_hit = candidates[best[1]][3]
    sentences = sentences_of(first_hit.text)
    idx = candidates[best[1]][2]
    text = with_next(sentences, idx) if "figure" not in kinds else \
        _figure_lead(sentences, idx, scored, candidates, first_hit, set().union(*reading_terms))
    lead_models = models_named(best[2])
    if text != best[2] and lead_models \
            and models_named(text[len(best[2]):]) - lead_models - asked_models:
        text = best[2]  # the next sentence is about another model (Othello-GPT, then GPT-4's unicorn)
    if text != best[2] and asked_people and _people_in(text[len(best[2]):], people) - asked_people:
        text = best[2]  # ... or another author's study (Burns et al., then Kadavath et al.)
    why_first = best[6]
    if text == best[2] and "figure" not in kinds and len(text) < LEAD_WITH_NEXT:
        # the next sentence of the lead's passage usually carries the point the lead opens
        # ("Bowman is the only author and gives two affiliations: NYU and Anthropic"), if it is
        # a candidate (on topic, usable, not said in the last answer) and brings in no other model
        nxt = next((x for x in scored if candidates[x[1]][3] is first_hit
                    and candidates[x[1]][2] == idx + 1), None)
        if nxt is not None and len(nxt[2]) < 260 and language_of(nxt[2]) == language_of(text) \
                and not models_named(nxt[2]) - models_named(text) - asked_models \
                and not (asked_people and _people_in(nxt[2], people) - asked_people - _people_in(text, people)):
            text = with_next(sentences, idx, limit=LEAD_WITH_NEXT)
            why_first += "; with the next sentence of its passage, which carries its point on"
    q_all = set().union(*reading_terms)
    asked = {t for r in readings for t in tokenize(r)
             if t not in STOPWORDS and t not in JA_STOP and not is_hiragana(t)}
    before = next((x for x in scored if candidates[x[1]][3] is first_hit
                   and candidates[x[1]][2] == idx - 1), None)
    short = text == best[2] and len(text) < SHORT_LEAD and before is not None and before[4] & q_all
    if (points_back(best[2]) or short) and idx > 0 \
            and usable_sentence(sentences[idx - 1]) and len(sentences[idx - 1]) < 260:
        # "If that happens, ..." reads only after the sentence it points back to
        text = sentences[idx - 1] + ("" if language_of(text) == "ja" else " ") + text
        why_first += ("; with the sentence before it, which it points back to" if points_back(best[2])
                      else "; with the sentence before it: alone it is too short to answer")
    elif points_back(best[2]) and idx > 0 and _LIST_ITEM.match(sentences[idx - 1]):
        # 「こんな事を想像していると、ワクワクしますね。」 points back at a list: the list is its point
        start = idx
        while start > 0 and _LIST_ITEM.match(sentences[start - 1]) and idx - start < 5:
            start -= 1
        items = " ".join(sentences[start:idx])
        if len(items) < 260:
            text = items + " " + text
            why_first += "; with the list before it, which it points back to"
    plan.picks.append(Pick(text, best[3], best[0], why_first))
    covered_terms = set(best[4])
    answered = set(best[5])
    fits_of = {0: best[5]}
    share_of = {0: shares[best[1]]}

    def add(text: str, n: int, score: float, why: str, fits: list[str], k: int) -> None:
        fits_of[len(plan.picks)] = fits
        share_of[len(plan.picks)] = shares[k]
        plan.picks.append(Pick(text, n, score, why))

    def add_more(ties: bool) -> None:
        """The further sentences that answer more of the question, or (``ties``) that score as
        high as the lead."""
        for score, k, sent, n, tset, fits, why in scored[1:]:
            if len(plan.picks) >= MAX_SENTENCES or score < EXTRA_KIND_SHARE * best[0]:
                break
            if any(sent in p.sentence or p.sentence in sent for p in plan.picks):
                continue
            if language_of(sent) != lang:
                continue  # the answer stays in the question's language
            if points_back(sent):
                continue  # "This is why ..." means nothing without its sentence before
            if any(q in normalized(sent) for q in quoted):
                continue  # it reads the learner's own quote back to them
            new_kind = set(fits) - answered
            new_terms = (tset & q_all) - covered_terms
            if new_kind and asked and not (tset | content_heading_terms(candidates[k][3])) & asked \
                    and "followup" not in kinds:
                # it fits the kind but holds no word of the question, cue words included ("who
                # found ...?": a sentence on Kadavath et al.; "BM25 in Japanese?": what RAG is)
                continue
            if ties:
                if score < NEAR_TIE * best[0] or candidates[k][3].doc_id != first_hit.doc_id:
                    continue
                reason = "scores as high as the first sentence"
            elif new_kind:
                reason = f"answers '{'/'.join(sorted(new_kind))}' as well"
            elif score >= EXTRA_MIN_SHARE * best[0] and q_all and len(new_terms) >= EXTRA_NEW_TERMS * len(q_all):
                reason = f"adds {len(new_terms)} question term(s) the first sentence lacks"
            else:
                continue
            text = with_next(sentences_of(candidates[k][3].text), candidates[k][2], limit=60)
            if any(text != sent and text in p.sentence for p in plan.picks):
                continue
            if any(p.sentence in text for p in plan.picks):
                text = sent  # the next sentence is already in the answer
            add(text, n, score, f"{why}; {reason}", fits, k)
            covered_terms.update(tset)
            answered.update(fits)

    add_more(ties=False)
    if "check" in kinds and len(plan.picks) < MAX_SENTENCES:
        # 「activationって記録できないから解釈できないんでしょ？」: the sentence holding more of what
        # the learner supposes than the lead (the topic's overview) answers the supposition
        premise = _premise(scored, shares, share_of[0], EXTRA_KIND_SHARE * best[0], plan.picks,
                           lambda x: (language_of(x[2]) == lang and not points_back(x[2])
                                      and not any(q in normalized(x[2]) for q in quoted)
                                      and not (checks_article and candidates[x[1]][3].doc_id == ARTICLE_ID)))
        if premise is not None:
            add(premise[2], premise[3], premise[0],
                f"{premise[6]}; holds more of what the question supposes than the first sentence",
                premise[5], premise[1])
    # the ties last: they must not crowd out a sentence that adds an answer
    add_more(ties=True)
    chosen = [p.sentence for p in plan.picks]
    plan.considered = [(n, score, sent, why) for score, _, sent, n, _, _, why in scored[:CONSIDERED]
                       if not any(sent in c for c in chosen)][:CONSIDERED - len(chosen)]
    if position and claims:
        overview = _claim_overview(passages, lang, next(iter(claims)), claim_notes)
        if overview and any(q in normalized(overview.sentence) for q in quoted):
            overview = None  # the learner's own quote is no position
        if overview and not any(overview.sentence in p.sentence for p in plan.picks):
            # the position goes first; a pick it already holds ("主張6は…。理由は…") gives way to it
            kept = [(p, fits_of.get(i, [])) for i, p in enumerate(plan.picks)
                    if p.sentence not in overview.sentence][:MAX_SENTENCES - 1]
            overview.why += "; the claim's position answers a yes-or-no question first"
            plan.picks = [overview] + [p for p, _ in kept]
            fits_of = {0: [], **{i + 1: f for i, (_, f) in enumerate(kept)}}
            share_of = {0: float("inf")}  # the position goes first
    if len(plan.picks) > 1:  # the parts of the answer in the order the question asks them
        order = {k: i for i, k in enumerate(kinds)}
        rank = [min((order.get(f, 9) for f in fits_of[i]), default=9) for i in range(len(plan.picks))]
        # a lead that fits no kind but holds more of the question than every sentence that fits
        # one stays first ("what was the thing about gpt4 counting primes?" opens on the primes)
        if not fits_of[0] and all(share_of.get(i, 0.0) < share_of[0]
                                  for i in range(1, len(plan.picks)) if fits_of.get(i)):
            rank[0] = -1
        plan.picks = [p for _, _, p in sorted(zip(rank, range(len(rank)), plan.picks))]
    return plan


_BESIDES = (r"\b(?:besides|other than|apart from|aside from|except(?: for)?|not counting)\s+"
            r"(?:the\s+)?([\w\-]+(?:\s+[\w\-]+)?)",
            r"([\w\-ァ-ヴー一-龥]+?)(?:以外|のほかに|の他に|はおいといて|は別として)")


# "what did bowman say about agents at the end of the paper": where it is said is no part of the
# answer (the paper's first closing sentence won on "ends" and "paper" over the one on agents);
# nor is "in that sparks of agi paper": every sentence of the paper's note is about the paper
# ("how did gpt4 do on humaneval in that sparks of agi paper" got the note's opening on the
# paper's title and date)
_LOCATOR = re.compile(r"\b(?:at|near|towards?|in) the (?:very )?(?:end|beginning|start|close|conclusion)"
                      r" of (?:the|his|this|her|their|that) (?:paper|article|post|blog|essay|survey)\b|"
                      r"\b(?:in|from)\s+(?:the|that|this|his|their)\s+(?:[\w\-.']+\s+){1,4}(?:paper|report|study)\b",
                      re.I)


_ASKS_ABOUT = (r"\b(?:what(?:'s| is| are| was| were|s)|wats|define|meaning of|examples? of|"
               r"explain)\s+(?:an?\s+|the\s+)?[\"'“「]?$",
               r"^[」\"”']?\s*(?:とは|って(?:何|なに|なん|どういう)|の意味|の例|の具体例|ってどんな)")


def _asked_terms(reading: str, glossary: Glossary | None) -> list[Term]:
    """The glossary terms a question asks what they are, or for an example of ("what is
    emergence?", 「創発的能力ってなに？」; for "give me an example", read with the question it
    follows): a sentence defining or exemplifying one in another spelling holds the question's
    term ("An ability is called emergent ..."). A term the question only mentions ("whats the
    chinchila rule, like how many tokens per parameter?") is not one."""
    if glossary is None:
        return []
    q = unicodedata.normalize("NFKC", reading).lower()
    return list({m.term.heading: m.term for m in glossary.matches(reading)
                 if re.search(_ASKS_ABOUT[0], q[:m.start]) or re.search(_ASKS_ABOUT[1], q[m.end:])}
                .values())


def _without_locator(terms: set[str], question: str) -> set[str]:
    """A reading's terms without those of a phrase that says where in a text ("at the end of the
    paper"), when the question has other terms to answer."""
    found = _LOCATOR.search(question)
    if not found:
        return terms
    rest = terms - set(tokenize(found.group(0)))
    return rest if rest else terms


RARE_NAME_IDF = 2.5  # Burns (3.3), Perez (3.4); not Bowman (1.6), Kaplan (2.0), Bubeck (2.2)


def _rare_names(people: Sequence[Term], idf: Callable[[str], float] | None) -> list[Term]:
    """The authors among ``people`` whose name is rare in the corpus: naming one singles out a
    study (Burns et al. in a note on two studies); Bowman, whose paper the course is about, or
    Kaplan, whose paper has a note of its own, are named everywhere."""
    if idf is None:
        return list(people)
    return [t for t in people if t.latin and all(idf(w) >= RARE_NAME_IDF for w in tokenize(t.latin[0]))]


def _people_in(text: str, people: Sequence[Term]) -> set[str]:
    """The authors of ``people`` that ``text`` names, by their glossary headings."""
    return {t.heading for t in people if t.named_in(text)}


def _set_aside(question: str) -> set[str]:
    """The terms a question sets aside: "besides the othello thing, ..." wants another case."""
    out: set[str] = set()
    for pattern in _BESIDES:
        for m in re.finditer(pattern, question.lower() if pattern is _BESIDES[0] else question):
            out |= {t for t in tokenize(m.group(1)) if t not in FILLER and t not in STOPWORDS}
    return out


_CITES_ARTICLE = (r"\b(the|this) (article|blog|post) (says|said|claims|writes|wrote)|according to the "
                  r"(article|blog)|\bthe (article|blog)'s",
                  r"(記事|ブログ|筆者)(だと|では|で|に|は|が)")


# "are Wei's two 2022 papers the same paper?": the author's glossary entry names their papers
_ASKS_PAPERS = (r"\b(same|different|separate|two|both|how many|other) (papers?|stud(y|ies))\b|"
                r"\bwhich papers\b",
                r"(同じ|別の|別々の|違う|何本の|二つの|2つの|2本の|ほかの|他の)論文|論文は(同じ|別|何本)")
# 「記事の作者はなんで…って思ってるの？」, "what does the blogger think": the article's own words
_ASKS_ARTICLE_VIEW = (r"\b(the|this) (article|blog|post)'?s? (author|writer)\b|\bthe blogger\b|"
                      r"\bthe (article|blog|post) (thinks?|feels?|means|calls?|called|describes?)\b|"
                      r"\bwhy does the (article|blog|post|blogger)\b|"
                      r"\b(article|blog|post)'?s? (headings?|headlines?|catchphrases?|slogans?|titles?|phrase|wording)\b",
                      r"筆者|(記事|ブログ)(の|を書いた)(作者|著者|書き手|人)|(記事|ブログ).{0,30}(作者|著者|書き手)(は|が|って)|"
                      r"(記事|ブログ)(は|が|って|では|だと)[^。？?]{0,40}(言って|書いて|表現|呼ん|呼び|たとえ|例え|思って|考え|"
                      r"キャッチ|フレーズ|見出し|タイトル|言い方)")
ARTICLE_VIEW_BONUS = 0.4  # a sentence of the article, when the question asks what its author thinks

_CLAIM_WORDS = re.compile(r"\b(claim)\s*#?(\d)\b|(主張)\s*(\d)", re.I)


def _claim_words(question: str) -> set[str]:
    """The terms of "claim 3" / 「主張3」 in a question (claim, 3 / 主張, 3)."""
    out: set[str] = set()
    for m in _CLAIM_WORDS.finditer(unicodedata.normalize("NFKC", question)):
        out |= {t for g in m.groups() if g for t in tokenize(g)}
    return out


def _number_added(plan: Plan, passages: Sequence[tuple[Hit, int]], after: int) -> None:
    """Keep the unretrieved sections the plan cites, numbered after the retrieved sources."""
    by_number = {n: h for h, n in passages if h.rank == 0}
    renumber: dict[int, int] = {}
    for p in plan.picks:
        if p.source in by_number and p.source not in renumber:
            renumber[p.source] = after + 1 + len(renumber)
            hit = by_number[p.source]
            hit.rank = renumber[p.source]
            plan.added.append(hit)
            plan.on_topic.append(hit.rank)
    # a runner-up from a section that is not among the sources has no number to show
    plan.considered = [(renumber.get(n, n), *rest) for n, *rest in plan.considered
                       if n not in by_number or n in renumber]
    for p in plan.picks:
        p.source = renumber.get(p.source, p.source)
        if p.source in renumber.values() and "section of the note" not in p.why:
            p.why += "; from another section of the topic's note"


def _names(question: str, glossary: Glossary | None) -> list[str]:
    """What a "what is X" question asks about: its glossary terms in every spelling, its
    katakana words and its longer Latin words."""
    q = unicodedata.normalize("NFKC", question).lower()
    names = [unicodedata.normalize("NFKC", sp).lower()
             for m in (glossary.matches(question) if glossary else []) for sp in m.term.spellings]
    names += re.findall(r"[\u30a0-\u30ff]{2,}", q)
    names += [w for w in re.findall(r"[a-z][a-z0-9\-]{3,}", q)
              if w not in STOPWORDS and w not in CUE_WORDS and w not in ("what", "whats", "mean")]
    return list(dict.fromkeys(names))


_LIST_ITEM = re.compile(r"\s*(?:[-*・•]|\d+[.)])\s+\S")


def _premise(scored: Sequence[tuple], shares: dict[int, float], lead_share: float, floor: float,
             picks: Sequence[Pick], usable: Callable[[tuple], bool]) -> tuple | None:
    """Of the scored sentences scoring at least ``floor``, the one holding the largest share of
    the question's terms, if larger than the lead's: in a yes-or-no question it is the sentence on
    what the learner supposes (内部の活性は正確に記録できる… for 「記録できないから…でしょ？」)."""
    return max((x for x in scored[1:] if shares[x[1]] > lead_share and x[0] >= floor and usable(x)
                and not any(x[2] in p.sentence or p.sentence in x[2] for p in picks)),
               key=lambda x: (shares[x[1]], x[0]), default=None)


def _figure_lead(sentences: list[str], idx: int, scored: Sequence[tuple], candidates: Sequence[tuple],
                 first_hit: Hit, asked: AbstractSet[str]) -> str:
    """A figure is answered by its sentence alone, unless that sentence is too short to read by
    itself (a list item: 「- もし人間が1万倍のニューロンが持ったら?」) or the next sentence of its
    passage gives another figure the question asks for ("...it answered 13." and "...it got the
    right count, 18" for "whats the right count?")."""
    lead = sentences[idx]
    if len(lead) < SHORT_LEAD:
        return with_next(sentences, idx, limit=SHORT_LEAD)
    nxt = next((x for x in scored if candidates[x[1]][3] is first_hit and candidates[x[1]][2] == idx + 1), None)
    if nxt is not None and has_figure(nxt[2]) and nxt[0] >= MIN_LEAD_SCORE and len(nxt[2]) < 260 \
            and (nxt[4] & asked) - set(tokenize(lead)) and language_of(nxt[2]) == language_of(lead) \
            and not models_named(nxt[2]) - models_named(lead):
        return with_next(sentences, idx, limit=len(lead) + 1)
    return lead


def _claim_overview(passages: Sequence[tuple[Hit, int]], lang: str, claim: int,
                    claim_notes: Sequence[str] = ()) -> Pick | None:
    """"What is claim 4?" / 「主張4とは？」: the claim note's overview (or its 日本語の要点) opens
    with the answer."""
    # the claim's own note first: the article's section on the claim is the author's view of it
    ordered = sorted(passages, key=lambda p: (p[0].doc_id not in claim_notes, p[0].doc_id,
                                              chunk_order(p[0].chunk_id)[1]))
    for want_ja in ((True, False) if lang == "ja" else (False,)):
        for hit, n in ordered:
            if hit.claims != [claim]:
                continue
            is_ja = language_of(hit.text) == "ja"
            if want_ja != is_ja or (not is_ja and not hit.chunk_id.endswith("#0")):
                continue
            sentences = [s for s in sentences_of(hit.text) if usable_sentence(s)]
            if sentences:
                return Pick(with_next(sentences, 0), n, 1.0,
                            f"the overview of claim {claim}" + (" (日本語の要点)" if is_ja else ""))
    return None


def _fallback(plan: Plan, passages: Sequence[tuple[Hit, int]], question: str, lang: str,
              on_topic: Callable[[Hit], bool] = lambda hit: True) -> Plan:
    """No sentence answers clearly: the best passage's most question-like sentences, from a
    passage on the topic (「例えば？」 after claim 5 is not answered with the list of all eight
    claims), in the question's language when there is one."""
    q = {t for t in tokenize(question) if t not in JA_STOP}
    ordered = sorted(passages, key=lambda p: (not on_topic(p[0]), language_of(p[0].text) != lang,
                                              p[1]))
    for hit, n in ordered:
        sents = [s for s in sentences_of(hit.text) if usable_sentence(s)]
        if not sents:
            continue
        ranked = sorted(range(len(sents)), key=lambda i: (-len(q & set(tokenize(sents[i]))), i))
        chosen = sorted(ranked[:2])
        plan.picks = [Pick(" ".join(sents[i] for i in chosen), n, 0.0,
                           "best sentences of the best passage")]
        plan.fallback = True
        return plan
    return plan


