"""Issue 10 through `tutor add` like a user: real-world PDFs and pages (made in tests/pdfs.py),
the real embedder and chromadb. Japanese PDFs whose fonts are not embedded, vertical writing,
encryption with an empty or a real password, a BOM-less UTF-16LE page, an arXiv-like paper
(title, clean text, a second copy is a duplicate), and the password kept out of every file."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import json_lines, run_tutor
from pdfs import make_cjk_pdf, make_paper_pdf
from test_add import empty_corpus_env, errors_of, no_traceback, search
from test_ingest import encrypt_pdf
from test_pdf import LIGATURE_CHARS, PAPER_PAGES, TITLE

AUTHORS = "Jared Kaplan, Sam McCandlish, Tom Henighan"
# one word no other file holds, for each Japanese file
WORDS = {"sjis.pdf": "ズィクトロン", "euc.pdf": "フロンバーグ", "jis.pdf": "クワジモド",
         "vertical.pdf": "タテガキヨム", "owner-only.pdf": "アンロック", "page.html": "ユニコード"}
CMAPS = {"sjis.pdf": "90ms-RKSJ-H", "euc.pdf": "EUC-H", "jis.pdf": "H", "vertical.pdf": "90ms-RKSJ-V",
         "owner-only.pdf": "90ms-RKSJ-H"}
PASSWORD = "c0urse-pack-pw"


def ja_lines(word: str) -> list[str]:
    return [f"大規模言語モデルの{word}効果について。", "投資を増やすほど能力が高まる。"]


@pytest.fixture(scope="module")
def papers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("papers")
    env = empty_corpus_env(root)
    folder = root / "Downloads"
    folder.mkdir()
    for name, cmap in CMAPS.items():
        data = make_cjk_pdf(ja_lines(WORDS[name]), cmap)
        (folder / name).write_bytes(encrypt_pdf(data, "") if name == "owner-only.pdf" else data)
    page = (f"<html><head><title>{WORDS['page.html']}の頁</title></head><body>"
            f"<p>{''.join(ja_lines(WORDS['page.html']))}</p></body></html>")
    (folder / "page.html").write_bytes(page.encode("utf-16-le"))
    paper = make_paper_pdf(TITLE, AUTHORS, PAPER_PAGES)
    (folder / "2001.08361_kaplan_scaling_laws.pdf").write_bytes(paper)
    (folder / "2001.08361v1.pdf").write_bytes(make_paper_pdf(TITLE, AUTHORS, PAPER_PAGES,
                                                             meta_author="arXiv"))
    locked = root / "locked"
    locked.mkdir()
    (locked / "course-pack.pdf").write_bytes(encrypt_pdf(
        make_paper_pdf("Course pack for week one", "The lecturer", [["Sycophancy quibblex is the "
                                                                      "topic of week one."]]),
        PASSWORD))
    home = root / "home"
    proc = run_tutor(["add", str(folder), "--json"], home, env=env)
    return {"root": root, "env": env, "home": home, "folder": folder, "locked": locked,
            "proc": proc, "results": {Path(r["path"]).name: r for r in json_lines(proc.stdout)}}


def test_the_batch_adds_every_file_without_a_traceback(papers):
    proc, results = papers["proc"], papers["results"]
    no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    for name in WORDS:
        assert results[name]["status"] == "added", results[name]
    assert results["2001.08361_kaplan_scaling_laws.pdf"]["status"] == "added"


def test_japanese_text_of_each_file_is_found_by_search(papers):
    found = search(papers["home"], [f"{w}効果" for w in WORDS.values()], env=papers["env"])
    for name, word in WORDS.items():
        top = found[f"{word}効果"][0]
        assert top["doc_id"] == papers["results"][name]["doc_id"], (name, found[f"{word}効果"])
        assert f"大規模言語モデルの{word}効果について。" in top["text"]


def test_the_paper_has_its_title_clean_text_and_pages(papers):
    r = papers["results"]["2001.08361_kaplan_scaling_laws.pdf"]
    assert r["title"] == TITLE
    proc = run_tutor(["corpus", "list", "--json"], papers["home"], env=papers["env"])
    docs = {d["doc_id"]: d for d in json.loads(proc.stdout)}
    assert "Scaling Laws" in docs[r["doc_id"]]["title"]
    listing = run_tutor(["corpus", "list"], papers["home"], env=papers["env"]).stdout
    assert TITLE in listing
    db = sqlite3.connect(papers["home"] / "index.sqlite")
    text = " ".join(t for (t,) in db.execute("SELECT text FROM chunks WHERE doc_id=?", (r["doc_id"],)))
    assert not any(c in text for c in LIGATURE_CHARS) and "fixed compute" in text
    found = search(papers["home"], ["optimal allocation of a fixed compute budget"], env=papers["env"])
    top = found["optimal allocation of a fixed compute budget"][0]
    assert (top["doc_id"], top["title"], top["location"]) == (r["doc_id"], TITLE, "page 2")


def test_a_second_download_of_the_paper_is_a_duplicate(papers):
    first = papers["results"]["2001.08361_kaplan_scaling_laws.pdf"]
    second = papers["results"]["2001.08361v1.pdf"]
    assert second["status"] == "duplicate" and second["duplicate_of"] == first["doc_id"]
    assert f"note: {papers['folder'] / '2001.08361v1.pdf'}: same text as" in papers["proc"].stderr
    proc = run_tutor(["corpus", "list", "--json"], papers["home"], env=papers["env"])
    assert sum(TITLE in d["title"] for d in json.loads(proc.stdout)) == 1
    again = run_tutor(["add", str(papers["folder"] / "2001.08361v1.pdf")], papers["home"],
                      env=papers["env"])
    assert again.returncode == 0 and "1 duplicate" in again.stderr
    assert again.stdout.startswith("duplicate ")


def test_password_missing_wrong_right(papers):
    pdf = str(papers["locked"] / "course-pack.pdf")
    home, env = papers["home"], papers["env"]
    missing = run_tutor(["add", pdf, "--json"], home, env=env)
    assert missing.returncode == 1
    assert errors_of(missing) == [f"error: {pdf}: encrypted PDF: it needs a password (--password, "
                                  "TUTOR_PDF_PASSWORD, or the Add screen asks)"]
    assert json_lines(missing.stdout)[0]["needs_password"] is True
    wrong = run_tutor(["add", pdf, "--password", "guess"], home, env=env)
    assert wrong.returncode == 1 and errors_of(wrong) == [f"error: {pdf}: encrypted PDF: wrong password"]
    no_traceback(wrong)
    right = run_tutor(["add", pdf, "--password", PASSWORD, "--json"], home, env=env)
    assert right.returncode == 0, right.stderr
    [r] = json_lines(right.stdout)
    assert r["status"] == "added" and r["title"] == "Course pack for week one"
    found = search(home, ["sycophancy quibblex"], env=env)
    assert found["sycophancy quibblex"][0]["doc_id"] == r["doc_id"]
    # never stored or logged: not in any file of the home, nor in what the commands printed
    for path in home.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    for proc in (missing, wrong, right):
        assert PASSWORD not in proc.stderr and "guess" not in proc.stderr


def test_password_from_the_environment(papers, tmp_path):
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(encrypt_pdf(make_paper_pdf("Another locked pack", "Someone",
                                               [["The zorbulent pack of week two."]]), "envpw"))
    proc = run_tutor(["add", str(pdf), "--json"], papers["home"],
                     env={**papers["env"], "TUTOR_PDF_PASSWORD": "envpw"})
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout)[0]["status"] == "added"


def test_force_keeps_both_copies(papers):
    proc = run_tutor(["add", str(papers["folder"] / "2001.08361v1.pdf"), "--force", "--json"],
                     papers["home"], env=papers["env"])
    assert proc.returncode == 0, proc.stderr
    assert json_lines(proc.stdout)[0]["status"] == "added"
    docs = json.loads(run_tutor(["corpus", "list", "--json"], papers["home"],
                                env=papers["env"]).stdout)
    assert sum(TITLE in d["title"] for d in docs) == 2
    assert any(d["authors"] == "arXiv" for d in docs)  # the copy's metadata names an author
    hits = search(papers["home"], ["optimal allocation of a fixed compute budget"],
                  env=papers["env"])["optimal allocation of a fixed compute budget"]
    assert {h.get("authors") for h in hits[:2]} == {None, "arXiv"}  # search names the authors
