"""The index engine in-process: atomic add/update/remove across the catalog, the dense store
and BM25; the journal's crash recovery; cancellation; the write lock; chromadb shared by two
processes; folder, glob and symlink expansion.

Most tests use the real embedder (loaded once for the module). Tests about batching at scale
use ``HashEmbedder``: the real tokenizer, but vectors from a hash, so thousands of chunks take
seconds.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tutor.config import Settings
from tutor.embed import Embedder
from tutor.index import EMBED_GROUP, Index, IndexBusy, Progress, expand_path
from tutor.retrieve import Retriever
from tutor.store import DenseStore

ROOT = Path(__file__).resolve().parent.parent


class HashEmbedder(Embedder):
    """The real tokenizer, with 384-d vectors from a hash of the text (fast and deterministic)."""

    @property
    def identity(self) -> str:
        return "hash-embedder:1"

    def load(self) -> None:
        pass

    def embed(self, texts, batch_size=32, progress=None, cancelled=None):  # type: ignore[override]
        out = []
        for start in range(0, len(texts), batch_size):
            if cancelled and cancelled():
                raise InterruptedError("cancelled")
            batch = texts[start:start + batch_size]
            for t in batch:
                seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                v = np.random.default_rng(seed).standard_normal(384)
                out.append((v / np.linalg.norm(v)).tolist())
            if progress:
                progress(len(batch))
        return out


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    e = Embedder(threads=1)
    e.load()
    return e


def settings_for(home: Path) -> Settings:
    return replace(Settings(), home=home, corpus_dir=home / "no-bundled-corpus")


@pytest.fixture
def index(tmp_path, embedder) -> Index:
    return Index(settings_for(tmp_path / "home"), embedder=embedder)


@pytest.fixture
def fast_index(tmp_path) -> Index:
    return Index(settings_for(tmp_path / "home"), embedder=HashEmbedder(threads=1))


def consistent(index: Index) -> set[str]:
    """Dense ids equal the catalog's chunks, each document's chunk count matches, and the
    journal is empty; returns the ids."""
    catalog = index.known_chunk_ids()
    assert index.store.ids() == catalog
    assert index.db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0
    for doc in index.documents():
        assert len(index.chunks_of(doc.doc_id)) == doc.chunks
    assert set(index.lexical._lengths) == catalog  # noqa: SLF001 - BM25 holds the same chunks
    return catalog


def words(n: int, seed: int = 0) -> str:
    import random

    rng = random.Random(seed)
    vocab = ("scaling laws predict loss compute data parameters emergent abilities models learn "
             "world representations steering sycophancy experts interpretability").split()
    return "\n\n".join(" ".join(rng.choice(vocab) for _ in range(40)) + "." for _ in range(n))


# ---------------------------------------------------------------- add, update, remove


def test_add_update_remove_keep_both_legs_in_step(index, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nThe zyxwvut effect is the OLDFACT of this note.\n")
    [r] = index.add_paths([str(doc)])
    assert (r.status, r.chunks) == ("added", 1)
    first = consistent(index)
    retriever = Retriever(index)
    assert retriever.search("zyxwvut OLDFACT", k=1).hits[0].doc_id == r.doc_id

    [same] = index.add_paths([str(doc)])
    assert (same.status, same.doc_id) == ("unchanged", r.doc_id)
    assert consistent(index) == first

    doc.write_text("# Notes\n\nThe zyxwvut effect is now the NEWFACT of this note.\n")
    [u] = index.add_paths([str(doc)])
    assert (u.status, u.doc_id) == ("updated", r.doc_id)
    second = consistent(index)
    assert not first & second  # every chunk id names its content version
    hits = retriever.search("OLDFACT", k=5).hits
    assert not any("OLDFACT" in h.text for h in hits)
    assert "NEWFACT" in retriever.search("zyxwvut NEWFACT", k=1).hits[0].text
    assert index.document(r.doc_id).added <= index.document(r.doc_id).updated

    gone = index.remove(r.doc_id)
    assert gone.status == "removed" and gone.chunks == 1
    assert consistent(index) == set()
    assert retriever.search("zyxwvut NEWFACT", k=5).hits == []
    assert index.remove(r.doc_id).status == "error"


def test_same_content_under_two_paths_is_indexed_once(index, tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "copy-of-a.txt"
    a.write_text("# Twin\n\nIdentical bytes under two names.\n")
    b.write_bytes(a.read_bytes())
    ra, rb = index.add_paths([str(a), str(b)])
    assert ra.status == "added"
    assert rb.status == "duplicate" and rb.doc_id == rb.duplicate_of == ra.doc_id
    assert "same content as" in rb.note and str(a.resolve()) in rb.note
    assert len(index.documents()) == 1


def test_same_text_in_other_bytes_is_a_duplicate_unless_forced(index, tmp_path):
    """Two downloads of one paper: other bytes (line ends, spacing, a ligature), same text."""
    a, b, c = tmp_path / "paper.txt", tmp_path / "paper (1).txt", tmp_path / "paper (2).txt"
    a.write_text("Twin paper\n\nWe ﬁnd that loss falls   as a power law.\n")
    b.write_bytes(b"Twin paper\r\n\r\nWe find that loss falls as a\r\npower law.\r\n")
    c.write_bytes(b"TWIN PAPER\n\nWe find that loss falls as a power law.\n")
    ra, rb = index.add_paths([str(a), str(b)])
    assert ra.status == "added"
    assert (rb.status, rb.duplicate_of) == ("duplicate", ra.doc_id)
    assert "same text as" in rb.note and "--force" in rb.note
    assert rb.as_json()["duplicate_of"] == ra.doc_id
    [rc] = index.add_paths([str(c)], force=True)
    assert rc.status == "added" and rc.doc_id != ra.doc_id
    assert len(index.documents()) == 2
    consistent(index)


def test_a_pdf_read_by_the_old_reader_is_read_again(fast_index, tmp_path):
    """Issue 10: PDFs indexed before PDFium (file-name titles, ligatures) are re-read when
    re-added; other documents of the same bytes and chunker stay unchanged."""
    from pdfs import make_paper_pdf

    pdf, note = tmp_path / "2001.08361.pdf", tmp_path / "note.md"
    pdf.write_bytes(make_paper_pdf("Scaling Laws for Neural Language Models", "J. Kaplan",
                                   [["Loss falls as a power law of compute."]]))
    note.write_text("# Note\n\nA plain note.\n")
    rp, rn = fast_index.add_paths([str(pdf), str(note)])
    # what an index written by the old reader holds: another version, the file name as title
    fast_index.db.execute("UPDATE documents SET version='old', title='2001.08361' WHERE doc_id=?",
                          (rp.doc_id,))
    again_pdf, again_note = fast_index.add_paths([str(pdf), str(note)])
    assert (again_pdf.status, again_note.status) == ("updated", "unchanged")
    assert fast_index.document(rp.doc_id).title == "Scaling Laws for Neural Language Models"
    consistent(fast_index)


def test_a_file_changed_into_a_copy_of_another_leaves_no_stale_version(index, tmp_path):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("# A\n\nAAAA original text.\n")
    b.write_text("# B\n\nBBBB other text.\n")
    ra, rb = index.add_paths([str(a), str(b)])
    b.write_bytes(a.read_bytes())
    [again] = index.add_paths([str(b)])
    assert again.status == "duplicate" and again.doc_id == ra.doc_id
    assert "previous version" in again.note
    assert [d.doc_id for d in index.documents()] == [ra.doc_id]
    consistent(index)


def test_symlinked_and_repeated_paths_are_added_once(index, tmp_path):
    real = tmp_path / "real.md"
    real.write_text("# Real\n\nOne file, three names.\n")
    (tmp_path / "link.md").symlink_to(real)
    results = index.add_paths([str(real), str(tmp_path / "link.md"), str(real)])
    assert [r.status for r in results] == ["added"]


# ---------------------------------------------------------------- batches and cancellation


class Recorder(Progress):
    def __init__(self, cancel_after: int | None = None) -> None:
        self.events: list[tuple] = []
        self.done = 0
        self.cancel_after = cancel_after

    def file_started(self, path, index, total):
        self.events.append(("file", Path(path).name, index, total))

    def chunks_planned(self, path, chunks):
        self.events.append(("planned", chunks))

    def embedded(self, n):
        self.done += n
        self.events.append(("embedded", n))

    def file_done(self, result):
        self.events.append(("done", result.status))

    def message(self, text):
        self.events.append(("message", text))

    def cancelled(self):
        return self.cancel_after is not None and self.done >= self.cancel_after


def test_cancel_stops_between_batches_and_keeps_nothing_of_the_file(index, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    first, big, last = docs / "a-first.md", docs / "b-big.md", docs / "c-last.md"
    first.write_text("# First\n\nA short note that is added before the cancel.\n")
    big.write_text("# Big\n\n" + words(200, seed=1))
    last.write_text("# Last\n\nNever started.\n")
    progress = Recorder(cancel_after=33)  # the first note's chunk plus one batch of the big one
    results = index.add_paths([str(docs)], progress)
    assert [r.status for r in results] == ["added", "error", "error"]
    assert "cancelled; nothing of it was kept" in results[1].error
    assert "cancelled before it started" in results[2].error
    planned = [e[1] for e in progress.events if e[0] == "planned"]
    assert planned[1] > 40 and progress.done == 33  # it stopped after one batch of 32
    assert [d.title for d in index.documents()] == ["First"]
    consistent(index)  # no vectors of the big note linger, the journal is empty


def test_cancel_from_another_thread(fast_index, tmp_path):
    """What the TUI does: a worker thread adds, the UI thread sets an event."""
    (tmp_path / "big.md").write_text("# Big\n\n" + words(600, seed=2))
    cancel = threading.Event()

    class Slow(Recorder):
        def embedded(self, n):
            super().embedded(n)
            time.sleep(0.05)

        def cancelled(self):
            return cancel.is_set()

    progress = Slow()
    result: list = []
    worker = threading.Thread(target=lambda: result.extend(
        fast_index.add_paths([str(tmp_path / "big.md")], progress)))
    worker.start()
    while progress.done == 0:
        time.sleep(0.01)
    cancel.set()
    worker.join(30)
    assert result[0].status == "error" and "cancelled" in result[0].error
    assert fast_index.documents() == []
    consistent(fast_index)


def test_a_long_document_is_embedded_and_written_in_bounded_batches(fast_index, tmp_path):
    (tmp_path / "long.md").write_text("# Long\n\n" + words(3000, seed=3))
    writes: list[int] = []
    add = fast_index.store.add

    def spy(ids, *rest):
        writes.append(len(ids))
        return add(ids, *rest)

    fast_index.store.add = spy  # type: ignore[method-assign]
    progress = Recorder()
    [r] = fast_index.add_paths([str(tmp_path / "long.md")], progress)
    assert r.status == "added" and r.chunks > 1000
    assert max(writes) <= EMBED_GROUP and sum(writes) == r.chunks
    assert progress.done == r.chunks
    assert ("planned", r.chunks) in progress.events
    consistent(fast_index)


def test_progress_callbacks_in_order(fast_index, tmp_path):
    docs = tmp_path / "docs"
    tree(docs, {"a.md": "# a\n\nSome words about a.\n", "b.md": "# b\n\nSome words about b.\n",
                "c.docx": "x"})
    progress = Recorder()
    fast_index.add_paths([str(docs)], progress)
    kinds = [e[0] for e in progress.events]
    assert kinds == ["message", "file", "planned", "embedded", "done",
                     "file", "planned", "embedded", "done"]
    assert progress.events[1] == ("file", "a.md", 0, 2)
    assert "c.docx: unsupported type .docx" in progress.events[0][1]


# ---------------------------------------------------------------- crash recovery (simulated)
# test_add.py kills real processes; these pin down each journal state.


def test_a_pending_add_is_rolled_back(fast_index, tmp_path):
    ids = ["ghost@abc#0", "ghost@abc#1"]
    vecs = fast_index.embedder.embed(["x", "y"])
    fast_index.store.add(ids, vecs, ["x", "y"], [{"doc_id": "ghost"}] * 2)
    fast_index.db.execute("INSERT INTO journal(doc_id, op, state, new_ids, old_ids, started) "
                          "VALUES ('ghost', 'add', 'pending', ?, '[]', 'now')", (json.dumps(ids),))
    assert Retriever(fast_index).search("x", k=5).hits == []  # readers never see it
    again = Index(fast_index.settings, embedder=fast_index.embedder)
    notices = again.prepare(sync_bundled=False)
    assert any("rolled back the interrupted add of ghost" in n for n in notices)
    consistent(again)


def test_a_committed_update_is_finished(fast_index, tmp_path):
    doc = tmp_path / "n.md"
    doc.write_text("# N\n\nversion one\n")
    fast_index.add_paths([str(doc)])
    old_ids = sorted(fast_index.known_chunk_ids())
    # the update committed in the catalog, then the process died before deleting old vectors
    doc.write_text("# N\n\nversion two\n")
    delete = fast_index.store.delete

    def die(ids):
        if ids:
            raise SystemExit("killed")
        return delete(ids)

    fast_index.store.delete = die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        fast_index.add_paths([str(doc)])
    row = fast_index.db.execute("SELECT state, old_ids FROM journal").fetchone()
    assert row[0] == "committed" and json.loads(row[1]) == old_ids
    again = Index(fast_index.settings, embedder=fast_index.embedder)
    notices = again.prepare(sync_bundled=False)
    assert any("finished the interrupted update" in n for n in notices)
    assert not set(old_ids) & consistent(again)


def test_an_interrupted_reindex_is_finished(fast_index, tmp_path):
    (tmp_path / "n.md").write_text("# N\n\n" + words(10))
    fast_index.add_paths([str(tmp_path / "n.md")])
    fast_index._set_meta("reindexing", "1")  # noqa: SLF001 - as if killed half-way
    fast_index.store.clear()
    again = Index(fast_index.settings, embedder=fast_index.embedder)
    notices = again.prepare(sync_bundled=False)
    assert any("interrupted re-index" in n for n in notices)
    consistent(again)


def test_an_embedder_change_reembeds_everything(fast_index, tmp_path):
    (tmp_path / "n.md").write_text("# N\n\n" + words(10))
    fast_index.add_paths([str(tmp_path / "n.md")])
    fast_index.prepare(sync_bundled=False)
    fast_index._set_meta("embedder", "some-other-model:123")  # noqa: SLF001
    notices = fast_index.prepare(sync_bundled=False)
    assert any("the embedder changed" in n for n in notices)
    assert fast_index._meta("embedder") == "hash-embedder:1"  # noqa: SLF001
    consistent(fast_index)


def test_reindex_rebuilds_a_damaged_dense_store(fast_index, tmp_path):
    (tmp_path / "n.md").write_text("# N\n\n" + words(30))
    fast_index.add_paths([str(tmp_path / "n.md")])
    ids = fast_index.known_chunk_ids()
    for f in (fast_index.home / "chroma").rglob("*.bin"):  # the HNSW files
        f.write_bytes(b"\0" * 16)
    assert fast_index.reindex() == len(ids)
    assert consistent(fast_index) == ids


# ---------------------------------------------------------------- the write lock


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from dataclasses import replace
    from pathlib import Path
    from tutor.config import Settings
    from tutor.index import Index
    home = Path(sys.argv[1])
    index = Index(replace(Settings(), home=home, corpus_dir=home / "none"))
    with index.writing():
        print("locked", flush=True)
        time.sleep(120)
""")


def hold_lock(home: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(home)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_with_the_holders_name(fast_index):
    holder = hold_lock(fast_index.home)
    try:
        t0 = time.monotonic()
        with pytest.raises(IndexBusy) as busy:
            with fast_index.writing(wait=1.0):
                pass
        assert 0.9 < time.monotonic() - t0 < 5
        message = str(busy.value)
        assert f"pid {holder.pid}" in message and "is writing" in message
        assert "\n" not in message
        # a reader's start-up does not wait and does not fail
        assert any("using the index as it is" in n for n in fast_index.prepare(sync_bundled=False))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with fast_index.writing():  # the kernel dropped the dead holder's lock
        pass


# ---------------------------------------------------------------- chromadb and two processes


STORE_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from pathlib import Path
    from tutor.store import DenseStore
    home, prefix, n, pause = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    store = DenseStore(home)
    rng = np.random.default_rng(int.from_bytes(prefix.encode(), "little"))
    vecs = rng.standard_normal((n, 384))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    print("open", flush=True)
    for start in range(0, n, 100):
        ids = [f"{prefix}{i}" for i in range(start, min(n, start + 100))]
        store.add(ids, vecs[start:start + 100].tolist(), ["t"] * len(ids), [{"doc_id": prefix}] * len(ids))
        time.sleep(pause)
    print("done", store.count(), flush=True)
""")


def vectors(prefix: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(prefix.encode(), "little"))
    v = rng.standard_normal((n, 384))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def run_writer(home: Path, prefix: str, n: int, pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", STORE_WRITER, str(home), prefix, str(n),
                             str(pause)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)


def all_found(store: DenseStore, prefix: str, n: int, step: int = 37) -> bool:
    v = vectors(prefix, n)
    return all(store.query(v[i].tolist(), 1)[0].chunk_id == f"{prefix}{i}" for i in range(0, n, step))


def test_a_process_that_opened_the_store_earlier_does_not_erase_anothers_vectors(tmp_path):
    """chromadb alone loses here: a client opened before another process wrote, then writing
    itself, saves an HNSW index without the other's vectors (measured on chromadb 1.5)."""
    home = tmp_path / "home"
    mine = DenseStore(home)
    a = vectors("a", 1500)
    mine.add([f"a{i}" for i in range(1500)], a.tolist(), ["t"] * 1500, [{"doc_id": "a"}] * 1500)
    other = run_writer(home, "b", 1500)
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    c = vectors("c", 1500)
    mine.add([f"c{i}" for i in range(1500)], c.tolist(), ["t"] * 1500, [{"doc_id": "c"}] * 1500)
    assert mine.reopened >= 1
    assert all_found(mine, "b", 1500) and all_found(mine, "a", 1500) and all_found(mine, "c", 1500)
    check = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        from pathlib import Path
        from tutor.store import DenseStore
        s = DenseStore(Path(sys.argv[1]))
        print(s.count(), len(s.ids()))
    """), str(home)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert check.stdout.split() == ["4500", "4500"], check.stderr


def test_a_reader_queries_while_another_process_writes(tmp_path):
    """The TUI open while `tutor add` runs: no error, no crash, nothing lost."""
    home = tmp_path / "home"
    DenseStore(home)
    writer = run_writer(home, "w", 1000, pause=0.05)
    assert writer.stdout.readline().strip() == "open"
    reader = DenseStore(home)
    q = vectors("q", 1)[0].tolist()
    queries = 0
    while writer.poll() is None:
        reader.query(q, 5)
        queries += 1
    assert writer.returncode == 0, writer.stderr.read()
    assert queries > 5 and reader.reopened > 0
    assert reader.count() == 1000 and all_found(reader, "w", 1000)


# ---------------------------------------------------------------- paths, folders, globs


def tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_folders_are_walked_with_a_report_of_what_was_skipped(tmp_path):
    tree(tmp_path, {"a.md": "a", "sub/b.txt": "b", "sub/deeper/c.html": "c", "sub/d.PDF": "d",
                    "e.docx": "e", "img/pic.png": "p", ".hidden.md": "h", ".git/config.md": "g",
                    "noext": "n"})
    files, errors, skipped = expand_path(str(tmp_path))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "a.md", "sub/b.txt", "sub/d.PDF", "sub/deeper/c.html"]
    assert errors == []
    report = "\n".join(skipped)
    for line in ("e.docx: unsupported type .docx", "pic.png: unsupported type .png",
                 ".hidden.md: hidden file", ".git: hidden folder", "noext: unsupported type (no extension)"):
        assert line in report


def test_glob_patterns(tmp_path):
    tree(tmp_path, {"a.md": "a", "b.md": "b", "c.txt": "c", "sub/d.md": "d"})
    files, errors, _ = expand_path(str(tmp_path / "*.md"))
    assert sorted(f.name for f in files) == ["a.md", "b.md"]
    files, _, _ = expand_path(str(tmp_path / "**" / "*.md"))
    assert sorted(f.name for f in files) == ["a.md", "b.md", "d.md"]
    files, errors, _ = expand_path(str(tmp_path / "*.nothing"))
    assert files == [] and errors[0].error == "the pattern matches no file"


def test_symbolic_link_loops(tmp_path):
    (tmp_path / "a.md").symlink_to(tmp_path / "b.md")
    (tmp_path / "b.md").symlink_to(tmp_path / "a.md")
    files, errors, _ = expand_path(str(tmp_path / "a.md"))
    assert files == [] and errors[0].error == "symbolic link loop"

    folder = tmp_path / "docs"
    tree(folder, {"real.md": "r", "sub/x.md": "x"})
    (folder / "sub" / "back-up").symlink_to(folder)        # a folder loop
    (folder / "loop1.md").symlink_to(folder / "loop2.md")  # a file loop
    (folder / "loop2.md").symlink_to(folder / "loop1.md")
    (folder / "dangling.md").symlink_to(folder / "missing.md")
    files, errors, skipped = expand_path(str(folder))
    assert sorted(f.name for f in files) == ["real.md", "x.md"]
    assert sorted((Path(e.path).name, e.error) for e in errors) == [
        ("dangling.md", "broken symbolic link (its target is missing)"),
        ("loop1.md", "symbolic link loop"), ("loop2.md", "symbolic link loop")]
    assert any("back-up: symbolic link loop" in s for s in skipped)


def test_a_folder_linked_twice_is_walked_once(tmp_path):
    tree(tmp_path, {"docs/a.md": "a"})
    (tmp_path / "alias").symlink_to(tmp_path / "docs")
    (tmp_path / "docs" / "again").symlink_to(tmp_path / "alias")
    files, errors, skipped = expand_path(str(tmp_path / "docs"))
    assert [f.name for f in files] == ["a.md"] and errors == []
    assert any("symbolic link loop" in s for s in skipped)


def test_missing_empty_and_unsupported_folders(tmp_path):
    _, errors, _ = expand_path(str(tmp_path / "nope"))
    assert errors[0].error == "no such file or folder"
    (tmp_path / "empty").mkdir()
    _, errors, _ = expand_path(str(tmp_path / "empty"))
    assert errors[0].error.startswith("the folder holds no supported files")
    tree(tmp_path, {"only-images/a.png": "x", "only-images/b.jpg": "y"})
    _, errors, skipped = expand_path(str(tmp_path / "only-images"))
    assert "2 skipped" in errors[0].error and len(skipped) == 2


@pytest.fixture
def public_tmp():
    """A folder that the unprivileged user can reach (pytest's tmp_path is private to root)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="tutor-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                    reason="needs root (to run the check as user nobody) and setpriv")
def test_an_unreadable_subfolder_is_an_error_not_a_silent_skip(public_tmp):
    tree(public_tmp, {"docs/ok.md": "ok", "docs/locked/secret.md": "s"})
    for d in (public_tmp / "docs", public_tmp / "docs" / "locked"):
        d.chmod(0o755)
    (public_tmp / "docs" / "ok.md").chmod(0o644)
    (public_tmp / "docs" / "locked").chmod(0)
    code = ("import json, sys; from tutor.index import expand_path; f, e, s = expand_path(sys.argv[1]);"
            "print(json.dumps([[x.name for x in f], [(r.path, r.error) for r in e]]))")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-c", code, str(public_tmp / "docs")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    files, errors = json.loads(proc.stdout)
    assert files == ["ok.md"]
    assert errors == [[str(public_tmp / "docs" / "locked"),
                       "permission denied (cannot list the folder)"]]


def test_catalog_is_readable_while_a_writer_commits(fast_index, tmp_path):
    """The catalog is SQLite in WAL mode: a reader connection never waits for the writer."""
    (tmp_path / "n.md").write_text("# N\n\n" + words(200))
    stop = threading.Event()
    counts: list[int] = []

    def read() -> None:
        reader = sqlite3.connect(fast_index.home / "index.sqlite", timeout=0.5)
        while not stop.is_set():
            counts.append(reader.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    t = threading.Thread(target=read)
    t.start()
    try:
        [r] = fast_index.add_paths([str(tmp_path / "n.md")])
    finally:
        stop.set()
        t.join()
    assert set(counts) <= {0, r.chunks}  # all or nothing, never half a document


def test_readers_in_other_threads_never_see_a_write_half_done(fast_index, tmp_path):
    """The TUI indexes in a worker thread while another thread searches the same Index: the
    reader sees each document with all of its chunks or not at all."""
    docs = tmp_path / "docs"
    tree(docs, {f"n{i}.md": f"# N{i}\n\n" + words(60, seed=i) for i in range(6)})
    stop = threading.Event()
    seen: list[tuple[int, int]] = []
    problems: list[str] = []

    def read() -> None:
        retriever = Retriever(fast_index)
        while True:
            last = stop.is_set()  # the writer is done: this reading is the final state
            listed = {d.doc_id: d.chunks for d in fast_index.documents()}
            for doc_id, n in listed.items():
                got = len(fast_index.chunks_of(doc_id))
                if got not in (0, n):  # 0: removed or replaced after the listing
                    problems.append(f"{doc_id}: {got} of {n} chunks")
            seen.append((len(listed), sum(listed.values())))
            retriever.search("scaling laws", k=3)
            if last:
                break

    reader = threading.Thread(target=read)
    reader.start()
    try:
        writer_results = fast_index.add_paths([str(docs)])
        (docs / "n0.md").write_text("# N0\n\n" + words(80, seed=99))
        writer_results += fast_index.add_paths([str(docs / "n0.md")])
    finally:
        stop.set()
        reader.join(30)
    assert problems == []
    assert [r.status for r in writer_results] == ["added"] * 6 + ["updated"]
    assert len(seen) > 3 and seen[0][0] < 6 and seen[-1][0] == 6
    consistent(fast_index)


def test_a_second_writer_thread_is_refused(fast_index):
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with fast_index.writing():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    inside.wait(10)
    try:
        with pytest.raises(IndexBusy, match="another task of this process is writing"):
            with fast_index.writing():
                pass
        with pytest.raises(IndexBusy):
            with fast_index.writing(wait=0.3):
                pass
    finally:
        release.set()
        t.join()
    with fast_index.writing():  # free again; and re-entrant in one thread
        with fast_index.writing():
            pass


def test_a_new_chunker_version_rechunks_the_bundled_corpus(tmp_path, monkeypatch):
    from dataclasses import replace as _replace

    import tutor.index as index_mod
    from tutor.config import load_settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nSome text about scaling laws.\n", encoding="utf-8")
    settings = _replace(load_settings({"home": str(tmp_path / "home")}), corpus_dir=corpus)
    idx = index_mod.Index(settings)
    idx.prepare()
    before = idx.known_chunk_ids()
    assert idx.prepare() == []  # nothing changed: no work
    monkeypatch.setattr(index_mod, "CHUNKER_VERSION", "test-next")
    notices = idx.prepare()
    after = idx.known_chunk_ids()
    assert notices and after and not (before & after)  # new ids, old ones gone
    assert idx.store.count() == len(after)
