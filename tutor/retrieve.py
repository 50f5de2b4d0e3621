"""Hybrid retrieval: the dense leg (chromadb) and the lexical leg (BM25), fused by RRF."""
from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

from .glossary import GLOSSARY_PATH, Glossary, is_glossary
from .index import Index
from .ingest import language_of

RRF_K = 10  # measured on benchmarks/questions.jsonl: 10 beats the customary 60 here
CANDIDATES = 30
GLOSSARY_WEIGHT = 0.25  # measured: benchmarks/answers.py (the glossary outranked the notes)
_ORDINALS = "first second third fourth fifth sixth seventh eighth".split()
_KANJI_NUM = "一二三四五六七八"
_CLAIM_REF = re.compile(
    r"(?:claim|thing|主張)\s*(?:no\.?|number|#)?\s*([1-8一二三四五六七八])(?!\d)"
    r"|([1-8一二三四五六七八])\s*(?:つ目|番目|個目|こ目|コ目)"
    r"|\b(" + "|".join(_ORDINALS) + r")\s+(?:claim|thing)")


def referenced_claims(query: str) -> set[int]:
    """Claim numbers a question names: "claim 4", "the fourth claim", 「主張4」, 「4つ目」."""
    found: set[int] = set()
    for m in _CLAIM_REF.finditer(unicodedata.normalize("NFKC", query).lower()):
        token = m.group(1) or m.group(2) or m.group(3)
        if token in _ORDINALS:
            found.add(_ORDINALS.index(token) + 1)
        elif token in _KANJI_NUM:
            found.add(_KANJI_NUM.index(token) + 1)
        else:
            found.add(int(token))
    return found


@dataclass
class Hit:
    rank: int
    chunk_id: str
    doc_id: str
    title: str
    source: str
    location: str
    text: str
    score: float  # fused score, scaled so 1.0 means first in both legs
    relevance: float  # best evidence from either leg (cosine or lexical coverage), 0..1
    dense: float | None = None  # cosine similarity when the dense leg found it
    lexical: float | None = None  # BM25 score when the lexical leg found it
    coverage: float | None = None  # share of the query's terms (by IDF) the chunk holds
    dense_rank: int | None = None
    lexical_rank: int | None = None
    claims: list[int] = field(default_factory=list)
    page: int | None = None
    pinned: bool = False
    authors: str = ""  # the document's, when known (PDF metadata, HTML meta tags)

    @property
    def legs(self) -> list[str]:
        return [name for name, r in (("dense", self.dense_rank), ("lexical", self.lexical_rank))
                if r is not None] + (["pinned"] if self.pinned else [])

    def as_json(self) -> dict[str, object]:
        return {"rank": self.rank, "doc_id": self.doc_id, "title": self.title,
                "source": self.source, "location": self.location, "score": round(self.score, 4),
                "text": self.text, "chunk_id": self.chunk_id,
                "relevance": round(self.relevance, 4), "legs": self.legs,
                "dense": None if self.dense is None else round(self.dense, 4),
                "lexical": None if self.lexical is None else round(self.lexical, 3),
                "claims": self.claims, "page": self.page,
                **({"authors": self.authors} if self.authors else {})}


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    elapsed_ms: float
    vector: list[float] | None = None  # the query's embedding (hybrid and dense modes)


class Retriever:
    """``mode`` is ``hybrid`` (default), ``dense`` or ``lexical``: the benchmark compares them."""

    def __init__(self, index: Index, dense_weight_ja: float = 0.25) -> None:
        self.index = index
        # all-MiniLM-L6-v2 is English-only: on Japanese questions its ranking is mostly noise,
        # so it gets a quarter of the lexical leg's weight (measured: benchmarks/run.py)
        self.dense_weight_ja = dense_weight_ja
        self._known_gen = -1
        self._known_chunks: set[str] = set()
        self._known_docs: set[str] = set()
        self._pending: set[str] = set()
        self._glossary: Glossary | None = None

    @property
    def glossary(self) -> Glossary:
        """The corpus's glossary note (its ``Terms:`` lines), read once."""
        if self._glossary is None:
            self._glossary = Glossary.load(self.index.settings.corpus_dir / GLOSSARY_PATH)
        return self._glossary

    def _refresh(self) -> None:
        gen = self.index.generation
        if gen != self._known_gen:
            self._known_chunks = self.index.known_chunk_ids()
            self._known_docs = self.index.known_doc_ids()
            self._pending = self.index.pending_ids()
            self._known_gen = gen

    def _visible(self, chunk_id: str, doc_id: str) -> bool:
        """Hide vectors of half-written or replaced documents (see tutor.index)."""
        if chunk_id in self._pending:
            return False
        return chunk_id in self._known_chunks or doc_id not in self._known_docs

    def search(self, query: str, k: int = 5, claim: int | None = None,
               mode: str = "hybrid") -> SearchResult:
        t0 = time.perf_counter()
        self._refresh()
        fused: dict[str, Hit] = {}
        scores: dict[str, float] = {}
        named_claim = None
        if claim is None:
            named = referenced_claims(query)
            claim = named_claim = named.pop() if len(named) == 1 else None
        ja = language_of(query) == "ja"
        w_dense = self.dense_weight_ja if ja else 1.0
        vec: list[float] | None = None
        if mode in ("hybrid", "dense"):
            vec = self.index.embedder.embed_query(query)
            rank = 0
            for dh in self.index.store.query(vec, CANDIDATES, claim=claim):
                meta = dh.metadata
                doc_id = str(meta.get("doc_id", ""))
                if not self._visible(dh.chunk_id, doc_id):
                    continue
                rank += 1
                claims = [int(c) for c in str(meta.get("claims", "")).split(",") if c.isdigit()]
                page = meta.get("page")
                fused[dh.chunk_id] = Hit(0, dh.chunk_id, doc_id, str(meta.get("title", "")),
                                         str(meta.get("source", "")), str(meta.get("location", "")),
                                         dh.text, 0.0, 0.0, dense=dh.similarity, dense_rank=rank,
                                         claims=claims, page=int(page) if page is not None else None)
                scores[dh.chunk_id] = w_dense / (RRF_K + rank)
        allowed: set[str] | None = None
        if mode in ("hybrid", "lexical"):
            if claim:
                allowed = {c.chunk_id for c in self.index.chunks_for_claim(claim)}
            # カプラン is also read as Kaplan; an English question is not re-read in Japanese
            # (measured: that cost English BM25 recall@5, 0.92 -> 0.83, for no gain)
            readings = self.glossary.readings(query)[1:] if ja else []
            cover = [r for r in self.glossary.readings(query, expand_acronyms=True)[1:]
                     if r not in readings] if ja else []
            for rank, lh in enumerate(self.index.lexical.search(query, CANDIDATES, allowed,
                                                                readings, cover), 1):
                hit = fused.get(lh.chunk_id)
                if hit is None:
                    stored = self.index.chunk(lh.chunk_id)
                    if stored is None:
                        continue
                    hit = Hit(0, stored.chunk_id, stored.doc_id, stored.title, stored.source,
                              stored.location, stored.text, 0.0, 0.0, claims=list(stored.claims),
                              page=stored.page)
                    fused[lh.chunk_id] = hit
                hit.lexical, hit.coverage, hit.lexical_rank = lh.score, lh.coverage, rank
                scores[lh.chunk_id] = scores.get(lh.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
        boosted = named_claim is not None and mode == "hybrid"
        if boosted:
            # "What is claim 4?": the overview passage of the claim's own note is the answer
            for rank, cid in enumerate(self.index.claim_overviews(named_claim), 1):
                if cid not in fused:
                    stored = self.index.chunk(cid)
                    if stored is None:
                        continue
                    fused[cid] = Hit(0, cid, stored.doc_id, stored.title, stored.source,
                                     stored.location, stored.text, 0.0, 0.0,
                                     claims=list(stored.claims), page=stored.page)
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        for cid, hit in fused.items():
            if is_glossary(hit.source):
                # the glossary lists every spelling of its terms, so it matches any question
                # that uses one; it is a dictionary, consulted after the notes that explain
                scores[cid] *= GLOSSARY_WEIGHT
        # 1.0 means first in every list that voted (the claim boost counts as a list)
        best_possible = ((w_dense if mode != "lexical" else 0) + (1 if mode != "dense" else 0)
                         + (1 if boosted else 0))
        ranked = sorted(fused.values(), key=lambda h: (-scores[h.chunk_id], h.chunk_id))[:k]
        authors = self.index.authors_of({hit.doc_id for hit in ranked})
        for i, hit in enumerate(ranked, 1):
            hit.rank = i
            hit.authors = authors.get(hit.doc_id, "")
            hit.score = scores[hit.chunk_id] * (RRF_K + 1) / max(best_possible, 1e-9)
            hit.relevance = max(hit.dense or 0.0, hit.coverage or 0.0)
        return SearchResult(query, ranked, (time.perf_counter() - t0) * 1000, vec)
