"""`tutor add` and `tutor corpus` driven like a user: real processes, real files, real PDFs.

Issue 5: formats and encodings, every kind of bad input (one line each, exit 1, no traceback,
the index untouched), identity and updates, removal and re-indexing, the progress bar, a
SIGKILL in the middle of an add, and two processes at once.

Homes: the acceptance batch ("Bars") runs in a home with the bundled corpus, as a user's would;
the other tests point TUTOR_CORPUS at an empty folder so that the first run does not spend 15 s
indexing the bundled corpus, and share one home per topic.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from conftest import ROOT, TUTOR, json_lines, run_tutor
from test_ingest import bad_pdfs, encrypt_pdf, make_pdf

MD_WORD = "quixotronic"
PDF_WORD = "flumberwick"
SJIS_WORD = "ズィクトロン"  # a katakana word found nowhere in the bundled corpus


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def no_progress_bar(proc: subprocess.CompletedProcess) -> None:
    for mark in ("━", "\x1b[", "chunks embedded"):
        assert mark not in proc.stderr, proc.stderr


def errors_of(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def empty_corpus_env(root: Path) -> dict[str, str]:
    (root / "no-bundled-corpus").mkdir(exist_ok=True)
    return {"TUTOR_CORPUS": str(root / "no-bundled-corpus")}


def catalog(home: Path) -> tuple[dict[str, dict], dict[str, list[str]], list[tuple]]:
    """Read the catalog read-only: documents, chunk ids by document, journal rows."""
    db = sqlite3.connect(f"file:{home / 'index.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        docs = {r[0]: {"source": r[1], "chunks": r[2], "hash": r[3]} for r in db.execute(
            "SELECT doc_id, source, chunks, content_hash FROM documents")}
        chunks: dict[str, list[str]] = {}
        for cid, doc_id in db.execute("SELECT chunk_id, doc_id FROM chunks"):
            chunks.setdefault(doc_id, []).append(cid)
        journal = db.execute("SELECT doc_id, op, state FROM journal").fetchall()
    finally:
        db.close()
    return docs, chunks, journal


def dense_ids(home: Path) -> set[str]:
    """The chunk ids in the home's chromadb folder (through DenseStore, which takes the store's
    lock, so this is safe while a tutor process runs)."""
    from tutor.store import DenseStore

    return DenseStore(home).ids()


def assert_consistent(home: Path) -> dict[str, dict]:
    """Every document fully in both legs: the catalog's chunks (the lexical index is built from
    them) equal the dense store's ids, chunk counts match, no journal row is left."""
    docs, chunks, journal = catalog(home)
    assert journal == []
    assert set(chunks) == set(docs)
    for doc_id, info in docs.items():
        assert len(chunks[doc_id]) == info["chunks"], doc_id
    assert dense_ids(home) == {c for ids in chunks.values() for c in ids}
    return docs


def search(home: Path, queries: list[str], env: dict[str, str] | None = None, k: int = 5) -> dict:
    proc = run_tutor(["search", "-", "--json", "-k", str(k)], home, stdin="\n".join(queries) + "\n",
                     env=env)
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    return {row["query"]: row["results"] for row in json_lines(proc.stdout)}


# ---------------------------------------------------------------- files


JA_SJIS = f"大規模言語モデルの{SJIS_WORD}効果について。投資を増やすほど能力が高まる。\n"


def good_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "notes.md"
    md.write_text(f"# Reading notes\n\nThe {MD_WORD} effect: bigger models need fewer examples.\n")
    sjis = folder / "japanese-sjis.txt"
    sjis.write_bytes(JA_SJIS.encode("shift_jis"))
    pdf = folder / "paper.pdf"
    pdf.write_bytes(make_pdf(["Scaling Laws, page one: loss falls as a power law.",
                              f"Page two defines the {PDF_WORD} constant of emergence."],
                             title="A cited paper"))
    return {"md": md, "sjis": sjis, "pdf": pdf}


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, the reason the error line must give)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}

    def put(name: str, data: bytes, reason: str) -> None:
        (folder / name).write_bytes(data)
        out[name] = (folder / name, reason)

    put("empty.md", b"", "empty file")
    put("blank.txt", b"  \n\t\n   \n", "file holds only whitespace")
    put("random-bytes.txt", random.Random(5).randbytes(4096), "binary data, not text")
    pdfs = bad_pdfs()
    put("corrupt.pdf", pdfs["corrupt.pdf"][0], "corrupt PDF")
    put("truncated.pdf", pdfs["truncated.pdf"][0], "truncated PDF")
    put("scanned.pdf", pdfs["scanned.pdf"][0], "PDF has no text layer (3 pages, scanned images?)")
    put("slides.pptx", b"PK\x03\x04 not supported", "unsupported type '.pptx'")
    out["missing.md"] = (folder / "missing.md", "no such file or folder")
    return out


# ---------------------------------------------------------------- the acceptance batch ("Bars")


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    """A home with the bundled corpus; one `tutor add --json` of good and bad files mixed."""
    root = tmp_path_factory.mktemp("bars")
    home = root / "home"
    before = run_tutor(["corpus", "list", "--json"], home)  # first use: the bundled corpus
    assert before.returncode == 0, before.stderr
    good = good_files(root / "in")
    bad = bad_inputs(root / "in")
    args = [str(good["md"]), str(good["sjis"]), str(good["pdf"])] + [str(p) for p, _ in bad.values()]
    random.Random(1).shuffle(args)
    proc = run_tutor(["add", *args, "--json"], home)
    return {"root": root, "home": home, "good": good, "bad": bad, "proc": proc,
            "results": {r["path"]: r for r in json_lines(proc.stdout)},
            "before": json.loads(before.stdout)}


def test_bars_exit_status_errors_named_no_traceback(bars):
    proc = bars["proc"]
    assert proc.returncode == 1
    no_traceback(proc)
    no_progress_bar(proc)  # --json, and stderr is not a terminal
    errors = errors_of(proc)
    assert len(errors) == len(bars["bad"])
    for path, reason in bars["bad"].values():
        assert f"error: {path}: {reason}" in "\n".join(errors)
        result = bars["results"][str(path)]
        assert result["status"] == "error" and reason in result["error"]
        assert result["doc_id"] is None and result["chunks"] == 0
    assert len(bars["results"]) == len(bars["bad"]) + 3
    for line in proc.stdout.splitlines():  # stdout is JSON lines and nothing else
        assert set(json.loads(line)) >= {"path", "status", "doc_id", "chunks", "error"}


def test_bars_good_files_are_added_and_searchable(bars):
    for path in bars["good"].values():
        r = bars["results"][str(path)]
        assert r["status"] == "added" and r["chunks"] >= 1 and r["error"] is None
    found = search(bars["home"], [f"the {MD_WORD} effect", SJIS_WORD, f"{PDF_WORD} constant"])
    ids = {k: bars["results"][str(p)]["doc_id"] for k, p in bars["good"].items()}
    top_md = found[f"the {MD_WORD} effect"][0]
    assert top_md["doc_id"] == ids["md"] and MD_WORD in top_md["text"]
    top_ja = found[SJIS_WORD][0]
    assert top_ja["doc_id"] == ids["sjis"] and JA_SJIS.strip() in top_ja["text"]
    top_pdf = found[f"{PDF_WORD} constant"][0]
    assert top_pdf["doc_id"] == ids["pdf"] and top_pdf["location"] == "page 2"
    assert top_pdf["title"] == "A cited paper" and top_pdf["source"].endswith("paper.pdf")


def test_bars_corpus_list_grows_by_exactly_the_good_files(bars):
    proc = run_tutor(["corpus", "list", "--json"], bars["home"])
    assert proc.returncode == 0
    after = json.loads(proc.stdout)
    new = {d["doc_id"] for d in after} - {d["doc_id"] for d in bars["before"]}
    assert len(after) == len(bars["before"]) + 3
    assert new == {bars["results"][str(p)]["doc_id"] for p in bars["good"].values()}
    for d in after:
        assert set(d) >= {"doc_id", "title", "source", "chunks", "added"}
    assert_consistent(bars["home"])


def test_bars_readding_an_unchanged_file_does_nothing(bars):
    md = bars["good"]["md"]
    t0 = time.monotonic()
    proc = run_tutor(["add", str(md), "--json"], bars["home"])
    assert proc.returncode == 0, proc.stderr
    [r] = json_lines(proc.stdout)
    assert r["status"] == "unchanged" and r["doc_id"] == bars["results"][str(md)]["doc_id"]
    assert time.monotonic() - t0 < 8  # no embedding: the embedder is never loaded


def test_bars_a_changed_file_is_updated_and_its_old_text_is_gone(bars):
    md = bars["good"]["md"]
    md.write_text("# Reading notes\n\nThe zanthoquil effect replaces the old wording.\n")
    proc = run_tutor(["add", str(md), "--json"], bars["home"])
    assert proc.returncode == 0, proc.stderr
    [r] = json_lines(proc.stdout)
    assert r["status"] == "updated" and r["doc_id"] == bars["results"][str(md)]["doc_id"]
    found = search(bars["home"], [f"the {MD_WORD} effect", "zanthoquil effect"], k=10)
    assert not any(MD_WORD in h["text"] for h in found[f"the {MD_WORD} effect"])
    assert found["zanthoquil effect"][0]["doc_id"] == r["doc_id"]
    docs = assert_consistent(bars["home"])
    assert len(docs) == len(bars["before"]) + 3


# ---------------------------------------------------------------- each bad input on its own


@pytest.fixture(scope="module")
def solo(tmp_path_factory):
    root = tmp_path_factory.mktemp("solo")
    env = empty_corpus_env(root)
    home = root / "home"
    keep = root / "keep.md"
    keep.write_text("# Kept\n\nA document that must survive every failed add.\n")
    proc = run_tutor(["add", str(keep)], home, env=env)
    assert proc.returncode == 0, proc.stderr
    return {"root": root, "home": home, "env": env, "before": catalog(home)}


def more_bad_inputs(folder: Path) -> dict[str, tuple[Path, str, dict[str, str]]]:
    """Bad inputs beyond the Bars batch: name -> (path, reason, extra environment)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str, dict[str, str]]] = {}
    enc = folder / "encrypted.pdf"
    enc.write_bytes(encrypt_pdf(make_pdf(["Secret text of an encrypted paper."]), "secret"))
    out["encrypted.pdf"] = (enc, "encrypted PDF: it needs a password", {})
    big = folder / "big.md"
    big.write_text("# Big\n\n" + "many words here " * 20000)
    out["big.md"] = (big, "file is 0.32 MB, over the size limit of 0.1 MB (max_file_mb in the "
                          "config file, or TUTOR_MAX_FILE_MB)", {"TUTOR_MAX_FILE_MB": "0.1"})
    nothing = folder / "only-images"
    nothing.mkdir()
    (nothing / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (nothing / "table.xlsx").write_bytes(b"PK")
    out["only-images"] = (nothing, "the folder holds no supported files", {})
    (folder / "loop-a.md").symlink_to(folder / "loop-b.md")
    (folder / "loop-b.md").symlink_to(folder / "loop-a.md")
    out["loop-a.md"] = (folder / "loop-a.md", "symbolic link loop", {})
    (folder / "dangling.md").symlink_to(folder / "gone.md")
    out["dangling.md"] = (folder / "dangling.md", "broken symbolic link", {})
    out["pattern"] = (folder / "*.nothing", "the pattern matches no file", {})
    return out


BAD_NAMES = ["empty.md", "blank.txt", "random-bytes.txt", "corrupt.pdf", "truncated.pdf",
             "scanned.pdf", "slides.pptx", "missing.md", "encrypted.pdf", "big.md", "only-images",
             "loop-a.md", "dangling.md", "pattern"]


@pytest.fixture(scope="module")
def bad_table(solo) -> dict[str, tuple[Path, str, dict[str, str]]]:
    folder = solo["root"] / "bad"
    table = {name: (path, reason, {}) for name, (path, reason) in bad_inputs(folder).items()}
    table.update(more_bad_inputs(folder))
    assert sorted(table) == sorted(BAD_NAMES)
    return table


@pytest.mark.parametrize("name", BAD_NAMES)
def test_each_bad_input_alone(solo, bad_table, name):
    path, reason, extra = bad_table[name]
    proc = run_tutor(["add", str(path), "--json"], solo["home"], env={**solo["env"], **extra})
    assert proc.returncode == 1
    no_traceback(proc)
    errors = errors_of(proc)
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}: {reason}"), proc.stderr
    [r] = json_lines(proc.stdout)
    assert r["status"] == "error" and r["path"] == str(path) and r["error"].startswith(reason)
    assert catalog(solo["home"]) == solo["before"]  # the index is exactly as it was


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists(),
                    reason="root reads a chmod 000 file anyway; this runs tutor as user nobody "
                           "through setpriv, which needs root")
def test_unreadable_file_as_an_unprivileged_user():
    root = Path(tempfile.mkdtemp(prefix="tutor-perm-"))
    try:
        root.chmod(0o777)
        secret = root / "secret.md"
        secret.write_text("# Secret\n\nNobody may read this.\n")
        secret.chmod(0)
        readable = root / "ok.md"
        readable.write_text("# Fine\n\nAnyone may read this.\n")
        readable.chmod(0o644)
        (root / "corpus").mkdir(mode=0o777)
        env = dict(os.environ, TUTOR_HOME=str(root / "home"), TUTOR_CORPUS=str(root / "corpus"),
                   TUTOR_CONFIG=str(root / "none.toml"), HOME=str(root))
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               TUTOR, "add", str(secret), "--json"], capture_output=True, text=True,
                              env=env, cwd=root, timeout=300)
        assert proc.returncode == 1, proc.stderr
        no_traceback(proc)
        assert errors_of(proc) == [f"error: {secret}: permission denied"]
        assert json_lines(proc.stdout)[0]["status"] == "error"
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- encodings, folders, identity


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("work")
    return {"root": root, "home": root / "home", "env": empty_corpus_env(root)}


ENCODED = {  # file name -> (encoding, a unique katakana word)
    "utf8.md": ("utf-8", "アルファーノ"),
    "utf8-bom.md": ("utf-8-sig", "ベータリオン"),
    "utf16-bom.txt": ("utf-16", "ガンマトロン"),
    "utf16le-nobom.txt": ("utf-16-le", "デルタミール"),
    "utf16be-nobom.txt": ("utf-16-be", "イプシロード"),
    "shift-jis.txt": ("shift_jis", "ゼータノイド"),
    "euc-jp.txt": ("euc_jp", "エータリクス"),
    "iso-2022-jp.txt": ("iso2022_jp", "シータモンド"),
}


def encoded_text(word: str) -> str:
    return f"# {word}の説明\n\n大規模言語モデルにおける{word}現象とは、規模を拡大したときに思いがけず現れる能力のことである。\n"


def test_every_encoding_is_detected_added_and_searchable(work):
    folder = work["root"] / "encodings"
    folder.mkdir()
    for name, (encoding, word) in ENCODED.items():
        (folder / name).write_bytes(encoded_text(word).encode(encoding))
    # on a terminal, but with --json: no progress bar, only JSON lines
    status, out, terminal = run_on_terminal(["add", str(folder), "--json"], terminal_env(work))
    assert status == 0, terminal
    assert "━" not in terminal and "chunks embedded" not in terminal and terminal.strip() == ""
    results = {Path(r["path"]).name: r for r in json_lines(out)}
    assert {n: r["status"] for n, r in results.items()} == {n: "added" for n in ENCODED}
    db = sqlite3.connect(work["home"] / "index.sqlite")
    for name, (_, word) in ENCODED.items():
        text = " ".join(t for (t,) in db.execute("SELECT text FROM chunks WHERE doc_id=? ORDER BY ord",
                                                 (results[name]["doc_id"],)))
        assert "大規模言語モデルにおける" + word + "現象" in text, name
        title = db.execute("SELECT title FROM documents WHERE doc_id=?",
                           (results[name]["doc_id"],)).fetchone()[0]
        assert title.lstrip("# ") == f"{word}の説明"
    found = search(work["home"], [word for _, word in ENCODED.values()], env=work["env"])
    for name, (_, word) in ENCODED.items():
        assert found[word][0]["doc_id"] == results[name]["doc_id"], name


def test_folder_glob_duplicates_and_the_skip_report(work):
    folder = work["root"] / "mixed"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "a.md").write_text("# Alpha\n\nFirst note about scaling.\n")
    (folder / "sub" / "b.html").write_text("<html><head><title>Beta page</title><script>var x = "
                                           "'SCRIPTWORD';</script></head><body><h1>Beta</h1>"
                                           "<p>Saved web page text.</p></body></html>")
    (folder / "sub" / "deeper" / "c.txt").write_text("Gamma\n\nA plain text note.\n")
    (folder / "sub" / "copy-of-a.md").write_bytes((folder / "a.md").read_bytes())
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / ".hidden.md").write_text("# hidden\n\nnot added")
    (folder / "sub" / "loop").symlink_to(folder)
    globbed = work["root"] / "globbed"
    globbed.mkdir()
    for n in ("g1", "g2"):
        (globbed / f"{n}.md").write_text(f"# {n}\n\nGlobbed note {n}.\n")
    (globbed / "g3.txt").write_text("not matched by the pattern")
    proc = run_tutor(["add", str(folder), str(globbed / "*.md")], work["home"], env=work["env"])
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    out = proc.stdout
    for name in ("a.md", "b.html", "c.txt", "g1.md", "g2.md"):
        assert re.search(rf"^added +\S*{re.escape(name)} +\(\S+, 1 chunks\)$", out, re.M), out
    assert "g3.txt" not in out
    assert re.search(r"^duplicate +\S*copy-of-a\.md +\(of a-\w+, not indexed\)$", out, re.M)
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note:")]
    assert any(f"{folder / 'sub' / 'copy-of-a.md'}: same content as {folder / 'a.md'}" in n
               and "not indexed twice" in n for n in notes)
    assert f"note: skipped {folder / 'image.png'}: unsupported type .png" in notes
    assert f"note: skipped {folder / '.hidden.md'}: hidden file" in notes
    assert f"note: skipped {folder / 'sub' / 'loop'}: symbolic link loop" in notes
    assert "5 added, 0 updated, 0 unchanged, 0 failed, 1 duplicate" in proc.stderr
    db = sqlite3.connect(work["home"] / "index.sqlite")
    html = " ".join(t for (t,) in db.execute("SELECT text FROM chunks WHERE source LIKE '%b.html'"))
    assert "Saved web page text." in html and "SCRIPTWORD" not in html


def test_corpus_list_shows_size_and_date(work):
    proc = run_tutor(["corpus", "list"], work["home"], env=work["env"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["doc_id", "chunks", "size", "added"]
    row = next(line for line in lines if "Alpha" in line)
    assert re.search(r"\s1\s+\d+ B\s+20\d\d-\d\d-\d\d \d\d:\d\d\s+Alpha$", row), row
    assert re.search(r"^\d+ documents, \d+ chunks, [\d.]+ (B|KB|MB); home ", lines[-1])
    listed = json.loads(run_tutor(["corpus", "list", "--json"], work["home"], env=work["env"]).stdout)
    alpha = next(d for d in listed if d["title"] == "Alpha")
    assert alpha["size"] == len("# Alpha\n\nFirst note about scaling.\n")
    assert re.match(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d", alpha["added"])


def test_remove_and_reindex(work):
    listed = json.loads(run_tutor(["corpus", "list", "--json"], work["home"], env=work["env"]).stdout)
    alpha = next(d for d in listed if d["title"] == "Alpha")
    proc = run_tutor(["corpus", "remove", alpha["doc_id"]], work["home"], env=work["env"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"removed {alpha['doc_id']} (1 chunks")
    docs = assert_consistent(work["home"])
    assert alpha["doc_id"] not in docs and len(docs) == len(listed) - 1

    again = run_tutor(["corpus", "remove", alpha["doc_id"]], work["home"], env=work["env"])
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert again.stderr.startswith(f"error: {alpha['doc_id']}: no document with this id")

    before = dense_ids(work["home"])
    for f in (work["home"] / "chroma").rglob("*.bin"):  # damage the HNSW files
        f.write_bytes(b"\0" * 16)
    proc = run_tutor(["corpus", "reindex"], work["home"], env=work["env"])
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert re.match(rf"re-embedded {len(before)} chunks of {len(docs)} documents with ", proc.stdout)
    assert_consistent(work["home"])
    assert dense_ids(work["home"]) == before


# ---------------------------------------------------------------- the progress bar


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run tutor with stderr on a pseudo-terminal; (status, stdout, what the terminal got)."""
    import pty
    import select

    master, slave = pty.openpty()
    full = dict(os.environ, COLUMNS="100", **env)
    proc = subprocess.Popen([TUTOR, *args], stdout=subprocess.PIPE, stderr=slave, env=full, cwd=ROOT)
    os.close(slave)
    got = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            got += data
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.stdout.read().decode()
    return proc.wait(), out, got.decode(errors="replace")


def terminal_env(work: dict) -> dict[str, str]:
    return {"TUTOR_HOME": str(work["home"]), "TUTOR_CONFIG": str(work["root"] / "none.toml"),
            **work["env"]}


def test_progress_bar_on_a_terminal(work):
    folder = work["root"] / "bar"
    folder.mkdir()
    for i in range(3):
        (folder / f"part{i}.md").write_text(f"# Part {i}\n\n" + f"Sentence {i} about scaling laws. " * 200)
    status, out, terminal = run_on_terminal(["add", str(folder)], terminal_env(work))
    assert status == 0, terminal
    assert "━" in terminal and "chunks embedded" in terminal and "files (part" in terminal
    assert re.search(r"\d+/3", terminal) and re.search(r"\d+/\d\d", terminal)  # files, chunks
    assert re.search(r"[\d.]+/s", terminal)  # chunks per second
    assert "3 added, 0 updated, 0 unchanged, 0 failed" in terminal
    assert out.count("added ") == 3


# ---------------------------------------------------------------- SIGKILL and two processes


def big_folder(folder: Path, paragraphs: list[int]) -> list[str]:
    """Files of distinct text (``paragraphs[i]`` paragraphs in file i), each with a unique
    marker word; returns the words."""
    folder.mkdir(parents=True)
    rng = random.Random(11)
    vocab = ("scaling laws predict loss compute data parameters emergent abilities models learn "
             "world representations steering sycophancy experts interpretability").split()
    markers = []
    for i, n in enumerate(paragraphs):
        marker = f"marker{i:02d}" + "".join(rng.choice("qxzvjk") for _ in range(6))
        markers.append(marker)
        paras = [" ".join(rng.choice(vocab) for _ in range(45)) + f" {marker}." for _ in range(n)]
        (folder / f"file{i:02d}.md").write_text(f"# File {i}\n\n" + "\n\n".join(paras))
    return markers


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def pending_doc(home: Path, prefix: str):
    def check() -> bool:
        try:
            _, _, journal = catalog(home)
        except sqlite3.OperationalError:
            return False
        return any(d.startswith(prefix) and state == "pending" for d, _, state in journal)
    return check


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """`tutor add BIG` in a real process; while it embeds, a reader searches, a second writer
    tries to add, and a long-lived reader in this process (like the TUI) watches; then SIGKILL
    once the dense store holds part of a document that the catalog has not committed.

    BIG holds file00 and file01 (about 40 chunks each), file02 (about 380 chunks: three batches
    of 128, so its first batch is in the dense store for many seconds before it would commit)
    and file03. The checks run while file01 is being embedded (file00 is committed by then).
    """
    from tutor.config import Settings
    from tutor.index import Index
    from tutor.retrieve import Retriever

    root = tmp_path_factory.mktemp("kill")
    env = empty_corpus_env(root)
    home = root / "home"
    markers = big_folder(root / "big", [50, 50, 520, 20])
    other = root / "other.md"
    other.write_text("# Other\n\nA note a second writer tries to add.\n")
    long_lived = Index(Settings(home=home, corpus_dir=root / "no-bundled-corpus"))
    long_lived.prepare(sync_bundled=False)
    assert [r.status for r in long_lived.add_paths([str(other)])] == ["added"]
    reader = Retriever(long_lived)
    assert reader.search("second writer", k=1).hits

    full_env = dict(os.environ, TUTOR_HOME=str(home), TUTOR_CONFIG=str(root / "none.toml"), **env)
    writer = subprocess.Popen([TUTOR, "add", str(root / "big"), "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT)
    facts: dict = {"root": root, "home": home, "env": env, "markers": markers, "writer": writer}
    try:
        wait_for(pending_doc(home, "file01"), 180, "the writer to commit file00")
        t0 = time.monotonic()
        facts["busy"] = run_tutor(["add", str(other), "--json"], home, env=env)
        facts["busy_seconds"] = time.monotonic() - t0
        facts["long_lived_during"] = reader.search(markers[0], k=3).hits
        facts["search_during"] = run_tutor(["search", markers[0], "--json", "-k", "3"], home, env=env)
        wait_for(lambda: pending_doc(home, "file02")() and any(
            i.startswith("file02") for i in dense_ids(home)), 180,
            "file02's first batch in the dense store")
        assert writer.poll() is None, "the writer finished before it could be killed"
        facts["pending_at_kill"] = [d for d, _, state in catalog(home)[2] if state == "pending"]
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
        facts["writer_stdout"] = writer.stdout.read()
        facts["after_kill"] = catalog(home)
        facts["dense_after_kill"] = dense_ids(home)
        facts["list"] = run_tutor(["corpus", "list", "--json"], home, env=env)
        facts["after_list"] = catalog(home)
        facts["dense_after_list"] = dense_ids(home)
        big = root / "big"
        facts["rerun"] = run_tutor(["add", str(big / "file00.md"), str(big / "file01.md"),
                                    str(big / "file03.md"), "--json"], home, env=env)
        # the long-lived reader, dense leg only, queried with each new chunk's own text: its
        # in-memory index must have been re-opened to find them
        db = sqlite3.connect(home / "index.sqlite")
        firsts = db.execute("SELECT chunk_id, embed_text FROM chunks WHERE ord = 0").fetchall()
        facts["long_lived_after"] = {cid: [h.chunk_id for h in reader.search(text, k=1, mode="dense").hits]
                                     for cid, text in firsts}
        facts["long_lived_reopened"] = long_lived.store.reopened
        yield facts
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def test_a_second_writer_is_refused_at_once_with_the_holder_named(killed):
    busy = killed["busy"]
    assert busy.returncode == 1
    no_traceback(busy)
    errors = errors_of(busy)
    assert len(errors) == 1 and f"pid {killed['writer'].pid}" in errors[0]
    assert "is writing to it; try again when it has finished" in errors[0]
    assert "tutor add" in errors[0]
    assert json_lines(busy.stdout)[0]["status"] == "error"
    assert killed["busy_seconds"] < 15  # waits 2 s for the lock, then gives up


def test_readers_work_while_the_writer_is_busy(killed):
    proc = killed["search_during"]
    assert proc.returncode == 0, proc.stderr
    no_traceback(proc)
    assert "using the index as it is" in proc.stderr
    hits = json.loads(proc.stdout)["results"]
    assert hits and hits[0]["source"].endswith("file00.md")  # committed before: searchable
    assert killed["long_lived_during"][0].source.endswith("file00.md")


def test_sigkill_mid_add_leaves_no_half_document(killed):
    docs, chunks, journal = killed["after_kill"]
    [pending] = killed["pending_at_kill"]
    assert pending.startswith("file02")
    assert pending not in docs and pending not in chunks  # the catalog never saw it
    assert [state for d, _, state in journal if d == pending] == ["pending"]
    assert sorted(docs) == sorted(d for d in docs if d.startswith(("other", "file00", "file01")))
    committed = {c for ids in chunks.values() for c in ids}
    assert committed <= killed["dense_after_kill"]
    # the dense store holds the first batch of file02, which readers hide (the journal lists
    # it as pending) until the next start deletes it
    stray = killed["dense_after_kill"] - committed
    assert stray and all(cid.startswith(pending + "@") for cid in stray)
    assert len(stray) < 380
    for doc_id, info in docs.items():
        assert len(chunks[doc_id]) == info["chunks"]
    assert killed["writer_stdout"] == ""  # --json prints results at the end: none


def test_the_next_run_says_it_rolled_back_and_the_index_is_consistent(killed):
    proc = killed["list"]
    assert proc.returncode == 0, proc.stderr
    [pending] = killed["pending_at_kill"]
    assert f"note: rolled back the interrupted add of {pending} (it was not committed)" in proc.stderr
    listed = {d["doc_id"]: d for d in json.loads(proc.stdout)}
    docs, chunks, journal = killed["after_list"]
    assert journal == [] and set(listed) == set(docs) and pending not in listed
    assert killed["dense_after_list"] == {c for ids in chunks.values() for c in ids}


def test_rerunning_the_add_finishes_the_job(killed):
    proc = killed["rerun"]
    assert proc.returncode == 0, proc.stderr
    assert "rolled back" not in proc.stderr  # nothing left to recover
    statuses = [r["status"] for r in json_lines(proc.stdout)]
    assert statuses == ["unchanged", "unchanged", "added"]
    docs = assert_consistent(killed["home"])
    assert len(docs) == 4
    # the reader that was open all along finds each document through the dense leg
    assert len(killed["long_lived_after"]) == 4
    for chunk_id, top in killed["long_lived_after"].items():
        assert top == [chunk_id]
    assert killed["long_lived_reopened"] >= 1


KILL_AFTER_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from tutor.config import load_settings
    from tutor.index import Index
    doc = Path(sys.argv[1])
    index = Index(load_settings())
    index.prepare(sync_bundled=False)
    doc.write_text("# Note\\n\\nThe first version mentions the oldmarkerword.\\n")
    assert index.add_paths([str(doc)])[0].status == "added"
    print(" ".join(sorted(index.store.ids())), flush=True)
    doc.write_text("# Note\\n\\nThe second version mentions the newmarkerword.\\n")
    delete = index.store.delete
    def die_after_commit(ids):
        if ids:  # the update is committed; the old vectors are about to go
            os.kill(os.getpid(), signal.SIGKILL)
        return delete(ids)
    index.store.delete = die_after_commit
    index.add_paths([str(doc)])
""")


def test_sigkill_after_commit_is_finished_on_the_next_run(tmp_path):
    env = empty_corpus_env(tmp_path)
    home = tmp_path / "home"
    doc = tmp_path / "note.md"
    full_env = dict(os.environ, TUTOR_HOME=str(home), TUTOR_CONFIG=str(tmp_path / "none.toml"), **env)
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_COMMIT, str(doc)], env=full_env,
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    old = set(killed.stdout.split())
    docs, chunks, journal = catalog(home)
    assert [state for _, _, state in journal] == ["committed"]
    assert old and old <= dense_ids(home)  # the old vectors are still there ...
    proc = run_tutor(["corpus", "list", "--json"], home, env=env)
    assert proc.returncode == 0, proc.stderr
    [doc_id] = docs
    assert f"note: finished the interrupted update of {doc_id} (it was committed)" in proc.stderr
    assert_consistent(home)
    assert not old & dense_ids(home)  # ... and now they are gone
    text = sqlite3.connect(home / "index.sqlite").execute("SELECT text FROM chunks").fetchone()[0]
    assert "newmarkerword" in text
