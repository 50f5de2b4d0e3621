"""The dense vector store: the only module that knows chromadb.

Embedded (``PersistentClient`` under the tutor home) by default; a chromadb server through
``HttpClient`` when ``TUTOR_CHROMA_URL`` (or ``chroma_url`` in the config) is set. Embeddings
are always computed by :mod:`tutor.embed` and passed in: chromadb's default embedding function
would download a model.

Two processes and the embedded client
-------------------------------------
chromadb's embedded client keeps the HNSW index in memory and writes it back to disk; even a
query can write (it applies the pending log first). Two processes using one folder at the same
time lose or corrupt vectors (measured: a client opened before another process wrote, then
writing itself, dropped all of the other process's vectors; a client opened while another
process was writing crashed and left an HNSW index that no longer loads). So, in embedded mode:

* every chromadb call runs under an exclusive ``flock`` on ``chroma.lock`` in the tutor home,
  held only for that one call (a batch of vectors, one query): a writer busy embedding for
  minutes never blocks a reader for longer than one call;
* the lock file holds a token naming the last process and call that used the folder; when it
  is not this process's own token, another process touched the store since, and the client is
  closed and opened again before the call, so no call ever works on a stale in-memory index.

In one process, every :class:`DenseStore` of one folder shares one client (chromadb caches a
client per folder anyway), guarded by a re-entrant lock so that threads take turns.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .filelock import flock_within

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLLECTION = "tutor_chunks"
LOCK_WAIT_S = 60.0  # longest wait for one call of another process (a batch write is ~0.1 s)
WRITE_BATCH = 1000  # chromadb limits one upsert to a few thousand records


class StoreError(Exception):
    """The vector store cannot be reached or used."""


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    similarity: float  # cosine similarity, 1 - cosine distance
    text: str
    metadata: dict[str, object]


class _Folder:
    """The one embedded client of one chroma folder in this process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.parent / "chroma.lock"
        self.mutex = threading.RLock()
        self.depth = 0
        self.client: Any = None
        self.collections: dict[str, Any] = {}
        self.token = b""
        self.reopened = 0  # how often another process's use made this process re-open

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        self.client = None
        self.collections = {}

    def open(self) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.close()
        self.path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))

    def collection(self, name: str) -> Any:
        if name not in self.collections:
            self.collections[name] = self.client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        return self.collections[name]


_FOLDERS: dict[str, _Folder] = {}
_FOLDERS_LOCK = threading.Lock()


def _folder(path: Path) -> _Folder:
    key = str(path.resolve())
    with _FOLDERS_LOCK:
        if key not in _FOLDERS:
            _FOLDERS[key] = _Folder(Path(key))
        return _FOLDERS[key]


class DenseStore:
    def __init__(self, home: Path, url: str | None = None, collection: str = COLLECTION) -> None:
        self.url = url
        self.home = home
        self._name = collection
        self._remote: Any = None
        self._http: Any = None
        self._folder: _Folder | None = None
        try:
            if url:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                parsed = urlparse(url if "://" in url else f"http://{url}")
                client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000,
                    ssl=parsed.scheme == "https",
                    settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False))
                client.heartbeat()
                self._http = client
                self._remote = client.get_or_create_collection(
                    collection, metadata={"hnsw:space": "cosine"}, embedding_function=None)
            else:
                home.mkdir(parents=True, exist_ok=True)
                self._folder = _folder(home / "chroma")
                with self._use():
                    pass  # open now, so a broken store is reported at start
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many kinds; all mean "cannot use it"
            where = url or str(home / "chroma")
            raise StoreError(f"cannot open the vector store at {where}: {exc}") from None

    # ------------------------------------------------------------ the lock

    @contextlib.contextmanager
    def _use(self) -> Iterator[Any]:
        """The collection, for one call, with other processes kept out (see the module doc)."""
        if self._remote is not None:
            yield self._remote
            return
        folder = self._folder
        assert folder is not None
        with folder.mutex:
            if folder.depth:  # nested call in this thread: the lock is already held
                yield folder.collection(self._name)
                return
            folder.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                self._flock(fd)
                folder.depth = 1
                try:
                    token = os.pread(fd, 128, 0)
                    if folder.client is None or token != folder.token:
                        if folder.client is not None:
                            folder.reopened += 1
                        folder.open()
                    yield folder.collection(self._name)
                finally:
                    folder.depth = 0
                    folder.token = f"{os.getpid()}:{time.time_ns()}".encode()
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, folder.token, 0)
            finally:
                os.close(fd)  # releases the flock

    def _flock(self, fd: int) -> None:
        if not flock_within(fd, LOCK_WAIT_S, poll=0.02):
            holder = os.pread(fd, 128, 0).decode(errors="replace").split(":")[0] or "?"
            raise StoreError(f"the vector store in {self.home} stayed busy for "
                             f"{LOCK_WAIT_S:.0f} s (process {holder} holds it)")

    def _call(self, what: str, fn: Any) -> Any:
        try:
            with self._use() as collection:
                return fn(collection)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"vector store ({self.location}): {what} failed: {exc}; "
                             "if this persists, run `tutor corpus reindex` to rebuild it") from None

    # ------------------------------------------------------------ the API

    @property
    def location(self) -> str:
        return self.url or "embedded"

    @property
    def reopened(self) -> int:
        """How often this process re-opened the embedded client after another process used it."""
        return self._folder.reopened if self._folder else 0

    def count(self) -> int:
        return int(self._call("count", lambda c: c.count()))

    def add(self, ids: list[str], embeddings: list[list[float]], texts: list[str],
            metadatas: list[dict[str, object]]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            self._call("write", lambda c: c.upsert(
                ids=ids[start:end], embeddings=embeddings[start:end], documents=texts[start:end],
                metadatas=metadatas[start:end]))  # type: ignore[arg-type]

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start:start + WRITE_BATCH]
            self._call("delete", lambda c: c.delete(ids=batch))

    def delete_where(self, where: dict[str, object]) -> None:
        self._call("delete", lambda c: c.delete(where=where))  # type: ignore[arg-type]

    def ids(self) -> set[str]:
        return set(self._call("read", lambda c: c.get(include=[])["ids"]))

    def query(self, embedding: list[float], n: int, claim: int | None = None) -> list[DenseHit]:
        where = {f"c{claim}": True} if claim else None

        def run(c: Any) -> Any:
            total = c.count()
            if total == 0:
                return None
            return c.query(query_embeddings=[embedding], n_results=min(n, total), where=where,
                           include=["documents", "metadatas", "distances"])

        res = self._call("query", run)
        if res is None:
            return []
        return [DenseHit(cid, 1.0 - float(dist), text or "", dict(meta or {}))
                for cid, dist, text, meta in zip(res["ids"][0], res["distances"][0],
                                                 res["documents"][0], res["metadatas"][0])]

    def clear(self) -> None:
        """Drop every vector (used by reindex). In embedded mode the folder is deleted and made
        anew, so this also mends a store whose files were damaged (e.g. by a crash)."""
        if self._remote is not None:
            with contextlib.suppress(Exception):
                self._http.delete_collection(self._name)
            self._remote = self._http.get_or_create_collection(
                self._name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
            return
        folder = self._folder
        assert folder is not None
        with folder.mutex:
            folder.depth += 1  # keep nested _use() from re-opening half-way
            try:
                fd = os.open(folder.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    self._flock(fd)
                    folder.close()
                    shutil.rmtree(folder.path, ignore_errors=True)
                    folder.open()
                    folder.collection(self._name)
                    folder.token = f"{os.getpid()}:{time.time_ns()}".encode()
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, folder.token, 0)
                finally:
                    os.close(fd)
            finally:
                folder.depth -= 1
