"""The dense vector store: the only module that knows chromadb.

Embedded (``PersistentClient`` under the tutor home) by default; a chromadb server through
``HttpClient`` when ``TUTOR_CHROMA_URL`` (or ``chroma_url`` in the config) is set. Embeddings
are always computed by :mod:`tutor.embed` and passed in: chromadb's default embedding function
would download a model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLLECTION = "tutor_chunks"


class StoreError(Exception):
    """The vector store cannot be reached or used."""


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1 - cosine distance
    text: str
    metadata: dict[str, object]


class DenseStore:
    def __init__(self, home: Path, url: str | None = None, collection: str = COLLECTION) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.url = url
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                parsed = urlparse(url if "://" in url else f"http://{url}")
                self._client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000,
                    ssl=parsed.scheme == "https", settings=chroma_settings)
                self._client.heartbeat()
            else:
                (home / "chroma").mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(home / "chroma"),
                                                         settings=chroma_settings)
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many kinds; all mean "cannot use it"
            where = url or str(home / "chroma")
            raise StoreError(f"cannot open the vector store at {where}: {exc}") from None
        self._name = collection
        self._collection = self._open_collection()

    def _open_collection(self):  # type: ignore[no-untyped-def]
        return self._client.get_or_create_collection(
            self._name, metadata={"hnsw:space": "cosine"}, embedding_function=None)

    @property
    def location(self) -> str:
        return self.url or "embedded"

    def count(self) -> int:
        return self._collection.count()

    def add(self, ids: list[str], embeddings: list[list[float]], texts: list[str],
            metadatas: list[dict[str, object]]) -> None:
        if ids:
            self._collection.upsert(ids=ids, embeddings=embeddings, documents=texts,
                                    metadatas=metadatas)  # type: ignore[arg-type]

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):
            self._collection.delete(ids=ids[start:start + 1000])

    def delete_where(self, where: dict[str, object]) -> None:
        self._collection.delete(where=where)  # type: ignore[arg-type]

    def ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def query(self, embedding: list[float], n: int, claim: int | None = None) -> list[DenseHit]:
        total = self.count()
        if total == 0:
            return []
        where = {f"c{claim}": True} if claim else None
        res = self._collection.query(query_embeddings=[embedding], n_results=min(n, total),
                                     where=where, include=["documents", "metadatas", "distances"])
        return [DenseHit(cid, 1.0 - float(dist), text or "", dict(meta or {}))
                for cid, dist, text, meta in zip(res["ids"][0], res["distances"][0],
                                                 res["documents"][0], res["metadatas"][0])]

    def clear(self) -> None:
        """Drop every vector (used by reindex, e.g. after the embedder changed)."""
        self._client.delete_collection(self._name)
        self._collection = self._open_collection()
