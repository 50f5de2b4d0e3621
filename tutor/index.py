"""The index: a SQLite catalog (documents, chunks, journal), the dense store and BM25.

The catalog is the source of truth for what the index holds. Every change to a document goes
through the journal so that a document is either fully in the index or not at all, in both
legs, even when the process is killed half-way:

1. journal row ``pending`` with the new chunk ids (ids carry the content version);
2. embed, then write the new vectors to the dense store;
3. one SQLite transaction: swap the document's chunks in the catalog, mark the row ``committed``;
4. delete the old vectors, delete the journal row.

On the next start, a ``pending`` row is rolled back (its vectors deleted) and a ``committed`` row
is finished (old vectors deleted). Readers never see a half-written document: dense hits for a
document the catalog knows are kept only when the catalog holds that exact chunk id.

One process writes at a time: writers take ``write.lock`` in the tutor home (``flock``).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob as globlib
import hashlib
import json
import os
import pickle
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import Settings
from .embed import Embedder
from .filelock import flock_within
from .ingest import (SUPPORTED, Chunk, Document, IngestError, PasswordError, chunk_document,
                     load_document, slug)
from .lexical import BM25
from .store import DenseStore

SCHEMA_VERSION = 2
CHUNK_TOKENS = 200
# Bump when chunking changes: a document's version (and its chunk ids) covers its bytes and the
# chunker, so the bundled corpus is re-chunked on the next start and a re-added file is too.
CHUNKER_VERSION = "2"
EMBED_GROUP = 128  # chunks embedded and written to the dense store at a time
SKIP_DIRS = {"quiz", ".git", "__pycache__"}
SKIP_FILES = {"readme.md", "license", "license.md"}
LEXICAL_SNAPSHOT = "lexical.pickle"  # the BM25 index between runs (see Index.lexical)


class IndexBusy(Exception):
    """Another process holds the write lock."""


@dataclass
class AddResult:
    path: str
    status: str  # added | updated | unchanged | duplicate | removed | error
    doc_id: str | None = None
    chunks: int = 0
    error: str | None = None
    note: str | None = None
    duplicate_of: str | None = None  # status "duplicate": the indexed document with this text
    needs_password: bool = False  # an encrypted PDF whose password was missing or wrong
    title: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "status": self.status, "doc_id": self.doc_id,
                                  "chunks": self.chunks, "error": self.error}
        if self.note:
            out["note"] = self.note
        if self.duplicate_of:
            out["duplicate_of"] = self.duplicate_of
        if self.needs_password:
            out["needs_password"] = True
        if self.title:
            out["title"] = self.title
        return out


@dataclass
class DocInfo:
    doc_id: str
    title: str
    source: str
    chunks: int
    added: str
    updated: str
    size: int
    origin: str
    language: str
    claims: list[int] = field(default_factory=list)
    authors: str = ""

    def as_json(self) -> dict[str, object]:
        return {"doc_id": self.doc_id, "title": self.title, "source": self.source,
                "chunks": self.chunks, "added": self.added, "updated": self.updated,
                "size": self.size, "origin": self.origin, "language": self.language,
                "claims": self.claims, "authors": self.authors}


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    doc_id: str
    ord: int
    title: str
    source: str
    location: str
    text: str
    claims: tuple[int, ...]
    language: str
    page: int | None


class Progress:
    """Callbacks for long work; the CLI draws a Rich bar, the TUI a ProgressBar."""

    def file_started(self, path: str, index: int, total: int) -> None: ...
    def chunks_planned(self, path: str, chunks: int) -> None: ...
    def embedded(self, n: int) -> None: ...
    def file_done(self, result: AddResult) -> None: ...
    def message(self, text: str) -> None: ...
    def cancelled(self) -> bool:
        return False


# PDFs only: their text comes from PDFium since issue 10 (titles, clean text), so a PDF read
# by the older pypdf path is read again when it is re-added; other files keep their version
PDF_READER_VERSION = "pdfium-1"


def _lexical_key() -> str:
    """Names the tokeniser and BM25 code a snapshot was made with: any change rebuilds it."""
    from . import lexical

    return hashlib.sha256(Path(lexical.__file__).read_bytes()).hexdigest()[:16]


def doc_version(doc: Document) -> str:
    key = f"{doc.content_hash}:{CHUNKER_VERSION}"
    if doc.source.lower().endswith(".pdf"):
        key += f":{PDF_READER_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Index:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.home = settings.home
        self.home.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder or Embedder(settings.embedder)  # every core (see embed.py)
        # two connections: the thread holding the write lock uses its own, so that readers in
        # other threads of this process (the TUI searching while its Add screen indexes) see
        # only committed documents, never the inside of a write transaction
        self._read_db = self._connect()
        self._write_db = self._connect()
        self._writer: int | None = None  # the thread that holds the write lock
        self._thread_lock = threading.RLock()
        self._migrate()
        self.store = DenseStore(self.home, settings.chroma_url)
        self._lexical: BM25 | None = None
        self._lexical_gen = -1

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.home / "index.sqlite", timeout=30, check_same_thread=False,
                             isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    @property
    def db(self) -> sqlite3.Connection:
        """The writer's connection in the thread holding the write lock, else the readers'."""
        return self._write_db if self._writer == threading.get_ident() else self._read_db

    # ------------------------------------------------------------ schema

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.home / 'index.sqlite'}: made by a newer tutor (schema {version})")
        if version < 1:
            self.db.executescript("""
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS documents (
                    doc_id TEXT PRIMARY KEY, title TEXT, source TEXT, content_hash TEXT,
                    version TEXT, size INTEGER, added TEXT, updated TEXT, origin TEXT,
                    language TEXT, claims TEXT, chunks INTEGER);
                CREATE INDEX IF NOT EXISTS documents_hash ON documents(content_hash);
                CREATE TABLE IF NOT EXISTS chunks (
                    chunk_id TEXT PRIMARY KEY, doc_id TEXT, ord INTEGER, title TEXT, source TEXT,
                    location TEXT, text TEXT, embed_text TEXT, claims TEXT, language TEXT,
                    page INTEGER);
                CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
                CREATE TABLE IF NOT EXISTS journal (
                    id INTEGER PRIMARY KEY, doc_id TEXT, op TEXT, state TEXT, new_ids TEXT,
                    old_ids TEXT, started TEXT);
                PRAGMA user_version = 1;
            """)
            version = 1
        if version < 2:  # the authors of a document, and the hash of its normalised text
            self.db.executescript("""
                ALTER TABLE documents ADD COLUMN authors TEXT;
                ALTER TABLE documents ADD COLUMN text_hash TEXT;
                CREATE INDEX IF NOT EXISTS documents_text_hash ON documents(text_hash);
                PRAGMA user_version = 2;
            """)

    def _meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self._meta("generation", "0"))

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation + 1))

    # ------------------------------------------------------------ locking

    @contextlib.contextmanager
    def writing(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the single-writer lock; raise IndexBusy if another process holds it.

        ``write.lock`` in the home holds the pid and command line of the holder, so the message
        names it. The kernel drops the lock when the holder dies, even by SIGKILL.
        """
        if self._writer == threading.get_ident():  # re-entrant within one thread
            yield
            return
        acquired = (self._thread_lock.acquire(timeout=wait) if wait > 0
                    else self._thread_lock.acquire(blocking=False))
        if not acquired:
            raise IndexBusy(f"the index in {self.home} is busy: another task of this process "
                            "is writing to it; try again when it has finished")
        try:
            fd = os.open(self.home / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
            if not flock_within(fd, wait, poll=0.1):
                holder = os.pread(fd, 300, 0).decode(errors="replace").strip()
                os.close(fd)
                pid, _, command = holder.partition(" ")
                who = f"pid {pid or '?'}" + (f", `{command}`" if command else "")
                raise IndexBusy(f"the index in {self.home} is busy: another tutor process "
                                f"({who}) is writing to it; try again when it has finished")
            os.ftruncate(fd, 0)
            command = " ".join(["tutor", *_redacted(sys.argv[1:])])[:200]
            os.pwrite(fd, f"{os.getpid()} {command}".encode(), 0)
            self._writer = threading.get_ident()
            try:
                yield
            finally:
                self._writer = None
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._thread_lock.release()

    # ------------------------------------------------------------ start-up

    def prepare(self, progress: Progress | None = None, sync_bundled: bool = True) -> list[str]:
        """Recover from a crash, re-embed after an embedder change, index the bundled corpus.

        Returns notices for the user. When another process is writing, nothing is changed and
        the index is used as it is.
        """
        progress = progress or Progress()
        notices: list[str] = []
        try:
            with self.writing():
                notices += self.recover()
                ident = self.embedder.identity
                recorded = self._meta("embedder")
                if self._meta("reindexing") == "1":
                    notices.append("finishing the interrupted re-index (re-embedding everything)")
                    self.reindex(progress)
                elif recorded and recorded != ident:
                    notices.append(f"the embedder changed ({recorded} -> {ident}); re-embedding")
                    self.reindex(progress)
                self._set_meta("embedder", ident)
                if sync_bundled:
                    changed = [r for r in self.sync_bundled(progress) if r.status != "unchanged"]
                    if changed:
                        notices.append(f"indexed the bundled corpus ({len(changed)} documents changed)")
        except IndexBusy as exc:
            notices.append(f"{exc}; using the index as it is")
        if self.embedder.notice:
            notices.append(self.embedder.notice)
        return notices

    def recover(self) -> list[str]:
        notices = []
        for jid, doc_id, op, state, new_ids, old_ids in self.db.execute(
                "SELECT id, doc_id, op, state, new_ids, old_ids FROM journal ORDER BY id").fetchall():
            if state == "pending":
                self.store.delete(json.loads(new_ids))
                notices.append(f"rolled back the interrupted {op} of {doc_id} (it was not committed)")
            else:
                self.store.delete(json.loads(old_ids))
                notices.append(f"finished the interrupted {op} of {doc_id} (it was committed)")
            self.db.execute("DELETE FROM journal WHERE id=?", (jid,))
        return notices

    # ------------------------------------------------------------ reading

    def documents(self) -> list[DocInfo]:
        rows = self.db.execute(
            "SELECT doc_id, title, source, chunks, added, updated, size, origin, language, claims, "
            "authors FROM documents ORDER BY origin, doc_id").fetchall()
        return [DocInfo(*r[:9], claims=json.loads(r[9] or "[]"), authors=r[10] or "") for r in rows]

    def authors_of(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """The known authors of these documents (documents without any are left out)."""
        ids = list(doc_ids)
        rows = self.db.execute(
            f"SELECT doc_id, authors FROM documents WHERE doc_id IN ({','.join('?' * len(ids))}) "
            "AND authors <> ''", ids).fetchall() if ids else []
        return dict(rows)

    def document(self, doc_id: str) -> DocInfo | None:
        return next((d for d in self.documents() if d.doc_id == doc_id), None)

    def chunk(self, chunk_id: str) -> StoredChunk | None:
        row = self.db.execute(
            "SELECT chunk_id, doc_id, ord, title, source, location, text, claims, language, page "
            "FROM chunks WHERE chunk_id=?", (chunk_id,)).fetchone()
        return self._stored(row) if row else None

    def chunks_of(self, doc_id: str) -> list[StoredChunk]:
        rows = self.db.execute(
            "SELECT chunk_id, doc_id, ord, title, source, location, text, claims, language, page "
            "FROM chunks WHERE doc_id=? ORDER BY ord", (doc_id,)).fetchall()
        return [self._stored(r) for r in rows]

    def chunks_for_claim(self, claim: int) -> list[StoredChunk]:
        rows = self.db.execute(
            "SELECT chunk_id, doc_id, ord, title, source, location, text, claims, language, page "
            "FROM chunks ORDER BY doc_id, ord").fetchall()
        return [c for c in map(self._stored, rows) if claim in c.claims]

    @staticmethod
    def _stored(row: tuple) -> StoredChunk:  # type: ignore[type-arg]
        return StoredChunk(row[0], row[1], row[2], row[3], row[4], row[5], row[6],
                           tuple(json.loads(row[7] or "[]")), row[8], row[9])

    def claim_overviews(self, claim: int) -> list[str]:
        """First passages of the documents devoted to one claim (front matter `claims: [N]`)."""
        rows = self.db.execute("SELECT c.chunk_id, d.claims FROM chunks c JOIN documents d "
                               "ON c.doc_id = d.doc_id WHERE c.ord = 0 ORDER BY d.doc_id").fetchall()
        return [cid for cid, claims in rows if json.loads(claims or "[]") == [claim]]

    def claim_docs(self, claim: int) -> list[str]:
        """The documents devoted to one claim (front matter `claims: [N]`)."""
        rows = self.db.execute("SELECT doc_id, claims FROM documents ORDER BY doc_id").fetchall()
        return [d for d, claims in rows if json.loads(claims or "[]") == [claim]]

    def known_chunk_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}

    def known_doc_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT doc_id FROM documents")}

    def pending_ids(self) -> set[str]:
        out: set[str] = set()
        for (new_ids,) in self.db.execute("SELECT new_ids FROM journal WHERE state='pending'"):
            out.update(json.loads(new_ids))
        return out

    @property
    def lexical(self) -> BM25:
        """BM25 over the catalog, brought up to date when the index changed.

        The index is kept on disk (``lexical.pickle`` in the home) and updated by chunk id:
        chunks the catalog no longer holds are dropped, new ones tokenised, so a start costs
        what changed since the last one, not a re-tokenisation of every chunk (10,000 chunks:
        about 2 s to rebuild against 0.1 s to load). Chunk ids carry the content version, so
        an id names one text for good. The snapshot is only a cache: a missing, damaged or
        older one (``lexical.py`` changed) is rebuilt from the catalog.
        """
        gen = self.generation
        if self._lexical is None or gen != self._lexical_gen:
            # a new object, swapped in whole: another thread may be searching the old one
            self._lexical, self._lexical_gen = self._sync_lexical(), gen
        return self._lexical

    def _sync_lexical(self) -> BM25:
        path = self.home / LEXICAL_SNAPSHOT
        key = _lexical_key()
        bm = None
        with contextlib.suppress(Exception):  # missing, damaged, or another tokeniser's
            with open(path, "rb") as f:
                saved = pickle.load(f)
            if saved.get("key") == key and isinstance(saved.get("bm25"), BM25):
                bm = saved["bm25"]
        bm = bm or BM25()
        held = bm.ids()
        current = self.known_chunk_ids()
        gone, new = held - current, current - held
        if gone:
            bm.remove(list(gone))
        if new:
            todo = sorted(new)
            for start in range(0, len(todo), 500):
                part = todo[start:start + 500]
                for cid, embed_text in self.db.execute(
                        f"SELECT chunk_id, embed_text FROM chunks WHERE chunk_id IN "
                        f"({','.join('?' * len(part))})", part):
                    bm.add(cid, embed_text)
        if gone or new or not path.exists():
            tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
            with contextlib.suppress(OSError):
                with open(tmp, "wb") as f:
                    pickle.dump({"key": key, "bm25": bm}, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            with contextlib.suppress(OSError):
                tmp.unlink()
        return bm

    # ------------------------------------------------------------ writing

    def _prepare_doc(self, doc: Document) -> tuple[list[Chunk], list[str], list[str], list[dict]]:
        chunks = chunk_document(doc, self.embedder.count_tokens, max_tokens=CHUNK_TOKENS)
        version = doc_version(doc)
        ids = [f"{doc.doc_id}@{version}#{c.ord}" for c in chunks]
        embed_texts = [c.embed_text(doc.title) for c in chunks]
        metas: list[dict] = []
        for c in chunks:
            meta: dict[str, object] = {"doc_id": doc.doc_id, "title": doc.title, "source": doc.source,
                                       "location": c.location, "language": c.language,
                                       "claims": ",".join(map(str, c.claims)), "ord": c.ord}
            if c.page is not None:
                meta["page"] = c.page
            for n in c.claims:
                meta[f"c{n}"] = True
            metas.append(meta)
        return chunks, ids, embed_texts, metas

    def put_document(self, doc: Document, origin: str, progress: Progress | None = None,
                     force: bool = False) -> AddResult:
        """Add or replace one document atomically (see the module docstring).

        Chunks are embedded and written to the dense store a batch at a time, so memory stays
        bounded however long the document is; ``progress.cancelled()`` is checked between
        batches, and a cancelled or failed document leaves nothing behind.

        A document whose bytes or normalised text equal another indexed document's is a
        ``duplicate`` of it and is not indexed, unless ``force``.
        """
        progress = progress or Progress()
        with self.writing():
            old = self.db.execute("SELECT content_hash, version FROM documents WHERE doc_id=?",
                                  (doc.doc_id,)).fetchone()
            if old and old[0] == doc.content_hash and old[1] == doc_version(doc):
                return AddResult(doc.source, "unchanged", doc.doc_id,
                                 self._chunk_count(doc.doc_id))
            twin = None if force else self.db.execute(
                "SELECT doc_id, source, content_hash FROM documents "
                "WHERE (content_hash=? OR text_hash=?) AND doc_id<>?",
                (doc.content_hash, doc.text_hash, doc.doc_id)).fetchone()
            if twin:
                same = "content" if twin[2] == doc.content_hash else "text"
                note = (f"same {same} as {twin[1]} (doc {twin[0]}); not indexed twice "
                        "(--force adds it anyway)")
                if old:  # this path's older version must not linger beside its twin
                    self.remove(doc.doc_id)
                    note += f"; its previous version (doc {doc.doc_id}) was removed"
                return AddResult(doc.source, "duplicate", twin[0], self._chunk_count(twin[0]),
                                 note=note, duplicate_of=twin[0], title=doc.title)
            chunks, ids, embed_texts, metas = self._prepare_doc(doc)
            if not chunks:
                raise IngestError("no text to index")
            progress.chunks_planned(doc.source, len(chunks))
            old_ids = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id=?",
                                                     (doc.doc_id,))]
            cur = self.db.execute(
                "INSERT INTO journal(doc_id, op, state, new_ids, old_ids, started) VALUES (?,?,?,?,?,?)",
                (doc.doc_id, "update" if old else "add", "pending", json.dumps(ids),
                 json.dumps(old_ids), now_utc()))
            jid = cur.lastrowid
            # groups of like length (shortest first), so a batch is padded little
            order = sorted(range(len(ids)), key=lambda i: len(embed_texts[i]))
            try:
                for start in range(0, len(order), EMBED_GROUP):
                    group = order[start:start + EMBED_GROUP]
                    if progress.cancelled():
                        raise InterruptedError("cancelled")
                    vectors = self.embedder.embed([embed_texts[i] for i in group],
                                                  progress=progress.embedded,
                                                  cancelled=progress.cancelled)
                    self.store.add([ids[i] for i in group], vectors,
                                   [chunks[i].text for i in group], [metas[i] for i in group])
            except BaseException:
                # roll back now; if this process dies instead, recover() does it on next start
                with contextlib.suppress(Exception):
                    self.store.delete(ids)
                    self.db.execute("DELETE FROM journal WHERE id=?", (jid,))
                raise
            stamp = now_utc()
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc.doc_id,))
                self.db.executemany(
                    "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [(cid, doc.doc_id, c.ord, doc.title, doc.source, c.location, c.text, et,
                      json.dumps(list(c.claims)), c.language, c.page)
                     for cid, c, et in zip(ids, chunks, embed_texts)])
                added = self.db.execute("SELECT added FROM documents WHERE doc_id=?",
                                        (doc.doc_id,)).fetchone()
                self.db.execute(
                    "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (doc.doc_id, doc.title, doc.source, doc.content_hash, doc_version(doc),
                     doc.size, added[0] if added else stamp, stamp, origin, doc.language,
                     json.dumps(doc.claims), len(chunks), doc.authors, doc.text_hash))
                self.db.execute("UPDATE journal SET state='committed' WHERE id=?", (jid,))
                self._bump()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            new = set(ids)
            self.store.delete([i for i in old_ids if i not in new])
            self.db.execute("DELETE FROM journal WHERE id=?", (jid,))
            return AddResult(doc.source, "updated" if old else "added", doc.doc_id, len(chunks),
                             title=doc.title)

    def _chunk_count(self, doc_id: str) -> int:
        return self.db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (doc_id,)).fetchone()[0]

    def remove(self, doc_id: str) -> AddResult:
        with self.writing():
            row = self.db.execute("SELECT source FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
            if not row:
                return AddResult(doc_id, "error", doc_id, error="no document with this id "
                                 "(see `tutor corpus list`)")
            old_ids = [r[0] for r in self.db.execute("SELECT chunk_id FROM chunks WHERE doc_id=?",
                                                     (doc_id,))]
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            self.db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            cur = self.db.execute(
                "INSERT INTO journal(doc_id, op, state, new_ids, old_ids, started) VALUES (?,?,?,?,?,?)",
                (doc_id, "remove", "committed", "[]", json.dumps(old_ids), now_utc()))
            self._bump()
            self.db.execute("COMMIT")
            self.store.delete(old_ids)
            self.db.execute("DELETE FROM journal WHERE id=?", (cur.lastrowid,))
            return AddResult(row[0], "removed", doc_id, len(old_ids))

    def reindex(self, progress: Progress | None = None) -> int:
        """Re-embed every chunk from the catalog (after an embedder change, or on request).

        The dense store is emptied and rebuilt from the catalog's texts. A ``reindexing`` mark in
        the catalog is set first and cleared last, so a run killed half-way is finished by the
        next start (:meth:`prepare`) instead of leaving documents without vectors.
        """
        progress = progress or Progress()
        with self.writing():
            rows = self.db.execute(
                "SELECT c.chunk_id, c.text, c.embed_text, c.doc_id, c.title, c.source, c.location, "
                "c.language, c.claims, c.ord, c.page FROM chunks c ORDER BY c.doc_id, c.ord").fetchall()
            self._set_meta("reindexing", "1")
            progress.file_started("all documents", 0, 1)
            progress.chunks_planned("all documents", len(rows))
            self.store.clear()
            for start in range(0, len(rows), EMBED_GROUP):
                batch = rows[start:start + EMBED_GROUP]
                vectors = self.embedder.embed([r[2] for r in batch], progress=progress.embedded)
                metas = []
                for r in batch:
                    claims = json.loads(r[8] or "[]")
                    meta: dict[str, object] = {"doc_id": r[3], "title": r[4], "source": r[5],
                                               "location": r[6], "language": r[7],
                                               "claims": ",".join(map(str, claims)), "ord": r[9]}
                    if r[10] is not None:
                        meta["page"] = r[10]
                    meta.update({f"c{n}": True for n in claims})
                    metas.append(meta)
                self.store.add([r[0] for r in batch], vectors, [r[1] for r in batch], metas)
            self.db.execute("BEGIN IMMEDIATE")
            self._set_meta("embedder", self.embedder.identity)
            self._set_meta("reindexing", "0")
            self._bump()
            self.db.execute("COMMIT")
            progress.file_done(AddResult("all documents", "updated", None, len(rows)))
            return len(rows)

    # ------------------------------------------------------------ the bundled corpus

    def bundled_files(self) -> list[Path]:
        root = self.settings.corpus_dir
        if not root.is_dir():
            return []
        out = []
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if (path.is_file() and path.suffix.lower() in SUPPORTED
                    and not SKIP_DIRS.intersection(rel.parts[:-1])
                    and path.name.lower() not in SKIP_FILES):
                out.append(path)
        return out

    def sync_bundled(self, progress: Progress | None = None) -> list[AddResult]:
        """Index the bundled corpus/: new and changed files in, deleted files out."""
        progress = progress or Progress()
        results = []
        root = self.settings.corpus_dir
        files = self.bundled_files()
        seen: set[str] = set()
        with self.writing():
            for i, path in enumerate(files):
                rel = path.relative_to(root.parent).as_posix()
                progress.file_started(rel, i, len(files))
                try:
                    doc = load_document(path, source=rel)
                    if "id" not in doc.meta:
                        doc.doc_id = slug(path.relative_to(root).with_suffix("").as_posix())
                    seen.add(doc.doc_id)
                    # the curated corpus is indexed whole, whatever the user added before it
                    result = self.put_document(doc, "bundled", progress, force=True)
                except IngestError as exc:
                    result = AddResult(rel, "error", error=str(exc))
                progress.file_done(result)
                results.append(result)
            for (doc_id,) in self.db.execute(
                    "SELECT doc_id FROM documents WHERE origin='bundled'").fetchall():
                if doc_id not in seen:
                    results.append(self.remove(doc_id))
        return results

    # ------------------------------------------------------------ user documents

    def add_paths(self, specs: Iterable[str], progress: Progress | None = None, *,
                  password: str | None = None, force: bool = False) -> list[AddResult]:
        """Add files, folders (recursively) and glob patterns; one result per file or bad input.

        ``password`` opens the encrypted PDFs among them (used for nothing else, kept nowhere);
        ``force`` indexes a file even when it duplicates an indexed document.

        Every file is added, updated or left alone on its own: a bad one gets an ``error``
        result with the reason and the index keeps nothing of it; the others go on. Notes about
        skipped files go to ``progress.message``. When ``progress.cancelled()`` turns true, the
        file being embedded is rolled back and the remaining ones are reported as cancelled.
        """
        from .embed import EmbedderError
        from .store import StoreError

        progress = progress or Progress()
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        planned: list[Path] = []
        results: list[AddResult] = []
        for spec in specs:
            files, errors, skipped = expand_path(spec)
            results += errors
            for note in skipped:
                progress.message(note)
            planned += files
        seen_files: set[Path] = set()
        unique = []
        for f in planned:
            real = f.resolve()
            if real not in seen_files:
                seen_files.add(real)
                unique.append(f)
        with self.writing(wait=2.0):
            for i, path in enumerate(unique):
                if progress.cancelled():
                    result = AddResult(str(path), "error", error="cancelled before it started")
                    progress.file_done(result)
                    results.append(result)
                    continue
                progress.file_started(str(path), i, len(unique))
                real = path.resolve()
                doc_id = f"{slug(path.stem)}-{hashlib.sha1(str(real).encode()).hexdigest()[:6]}"
                try:
                    doc = load_document(path, doc_id=doc_id, source=str(real), max_bytes=max_bytes,
                                        password=password)
                    result = self.put_document(doc, "user", progress, force=force)
                except PasswordError as exc:
                    result = AddResult(str(path), "error", error=str(exc), needs_password=True)
                except IngestError as exc:
                    result = AddResult(str(path), "error", error=str(exc))
                except InterruptedError:
                    result = AddResult(str(path), "error", error="cancelled; nothing of it was kept")
                except (StoreError, EmbedderError, IndexBusy):
                    raise
                except Exception as exc:  # one odd file must not stop the batch
                    result = AddResult(str(path), "error",
                                       error=f"cannot read it ({type(exc).__name__}: {exc})")
                result.path = str(path)
                progress.file_done(result)
                results.append(result)
        return results


def _redacted(args: list[str]) -> list[str]:
    """A command line with the value of ``--password`` hidden (the lock file names its holder)."""
    out, hide = [], False
    for arg in args:
        if hide:
            out.append("***")
        elif arg.startswith("--password="):
            out.append("--password=***")
        else:
            out.append(arg)
        hide = arg == "--password"
    return out


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()


def expand_path(spec: str) -> tuple[list[Path], list[AddResult], list[str]]:
    """Files named by a path, a folder (recursive) or a glob; errors and skip notes beside.

    In a folder, hidden files and folders and files of unsupported types are skipped with a
    note; files that cannot be read (permissions, symbolic link loops) are errors, as is a
    folder that holds nothing supported.
    """
    files: list[Path] = []
    errors: list[AddResult] = []
    skipped: list[str] = []
    if any(ch in spec for ch in "*?[") and not os.path.lexists(spec):
        matches = sorted(globlib.glob(spec, recursive=True))
        if not matches:
            return [], [AddResult(spec, "error", error="the pattern matches no file")], []
        for m in matches:
            f, e, s = expand_path(m)
            files += f
            errors += e
            skipped += s
        return files, errors, skipped
    path = Path(spec)
    try:
        path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return [], [AddResult(spec, "error", error="broken symbolic link (its target is "
                                  "missing)")], []
        return [], [AddResult(spec, "error", error="no such file or folder")], []
    except OSError as exc:
        return [], [AddResult(spec, "error", error=_os_reason(exc))], []
    if path.is_file():
        return [path], [], []
    if not path.is_dir():
        return [], [AddResult(spec, "error", error="not a regular file or folder")], []
    if not os.access(path, os.R_OK | os.X_OK):
        return [], [AddResult(spec, "error", error="permission denied (cannot list the folder)")], []

    def unreadable(exc: OSError) -> None:
        errors.append(AddResult(str(exc.filename or spec), "error",
                                error=f"{_os_reason(exc)} (cannot list the folder)"))

    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True, onerror=unreadable):
        try:
            st = os.stat(dirpath)
        except OSError as exc:
            errors.append(AddResult(dirpath, "error", error=_os_reason(exc)))
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:
            real = os.path.realpath(dirpath)
            loop = os.path.abspath(dirpath).startswith(real.rstrip(os.sep) + os.sep)
            skipped.append(f"skipped {dirpath}: " + ("symbolic link loop" if loop else
                                                      "already included through another path"))
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        hidden = sorted(d for d in dirnames if d.startswith("."))
        skipped += [f"skipped {Path(dirpath) / d}: hidden folder" for d in hidden]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            f = Path(dirpath) / name
            if name.startswith("."):
                skipped.append(f"skipped {f}: hidden file")
                continue
            if f.suffix.lower() not in SUPPORTED:
                skipped.append(f"skipped {f}: unsupported type {f.suffix or '(no extension)'}")
                continue
            try:
                f.stat()
            except FileNotFoundError:
                errors.append(AddResult(str(f), "error", error="broken symbolic link (its target "
                                        "is missing)"))
                continue
            except OSError as exc:
                errors.append(AddResult(str(f), "error", error=_os_reason(exc)))
                continue
            files.append(f)
    if not files and not errors:
        kinds = ", ".join(sorted(SUPPORTED))
        errors.append(AddResult(spec, "error", error=f"the folder holds no supported files "
                                f"({kinds}); {len(skipped)} skipped"))
    return files, errors, skipped
