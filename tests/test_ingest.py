"""Loaders, encoding detection and the chunker (tutor.ingest), on files made here.

``make_pdf`` builds real PDFs by hand (a Helvetica font and one content stream a page);
test_add.py, test_index.py and test_pdf.py import it from here (the trickier PDFs are in pdfs.py).
"""
from __future__ import annotations

import codecs
import os
import random
from pathlib import Path

import pytest
from pdfs import assemble

from tutor.ingest import (IngestError, chunk_document, decode_text, language_of, load_document,
                          split_sentences)

JA = ("大規模言語モデルは、投資を増やすほど予測どおりに能力が高まる。しかし、多くの重要な振る舞いは、"
      "規模を拡大したときに思いがけず現れる。")
MIXED = "LLMs predictably get more capable with increasing investment. " + JA
EN = "Plain English about scaling laws.\nA second line, with a café and naïve words.\n"


# ---------------------------------------------------------------- PDFs made by hand


def make_pdf(pages: list[str | None], title: str | None = None) -> bytes:
    """A PDF with one page per item: text (lines in Helvetica) or None (a grey rectangle and no
    text at all, like a scanned page)."""
    objs: list[bytes | None] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objs.append(None)
    pages_id = len(objs)
    kids = []
    for text in pages:
        if text is None:
            stream = b"0.5 g 72 72 400 600 re f"
        else:
            lines, y = [], 750
            for line in text.split("\n"):
                esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                lines.append(f"BT /F1 10 Tf 40 {y} Td ({esc}) Tj ET")
                y -= 12
            stream = "\n".join(lines).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    objs[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                          + b"] /Count %d >>" % len(kids))
    info = add(b"<< /Title (" + title.encode("latin-1") + b") >>") if title else None
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    return assemble([body or b"null" for body in objs], catalog, info)


def encrypt_pdf(data: bytes, user_password: str, owner_password: str = "owner") -> bytes:
    """The same PDF, RC4-encrypted by pypdf (AES would need the cryptography package)."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def bad_pdfs() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, a word the error must contain)."""
    good = make_pdf(["Emergent abilities appear at scale in large models."])
    return {
        "corrupt.pdf": (b"%PDF-1.4\n" + random.Random(3).randbytes(4000) + b"\n%%EOF\n", "corrupt"),
        "truncated.pdf": (good[: len(good) // 2], "truncated"),
        "not-a-pdf.pdf": (b"<html>this is a web page saved as .pdf</html>", "not a PDF"),
        "scanned.pdf": (make_pdf([None, None, None]), "no text layer"),
        "encrypted.pdf": (encrypt_pdf(good, "secret"), "encrypted"),
    }


# ---------------------------------------------------------------- encodings


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "shift_jis",
             "cp932", "euc_jp", "iso2022_jp"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("text", [JA, MIXED, "これはひらがなとカタカナのテストです。\n"],
                         ids=["japanese", "mixed", "kana"])
def test_japanese_text_in_every_common_encoding_is_detected(text, encoding):
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        assert not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # really no BOM
    assert decode_text(data).strip() == text.strip()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "cp1252", "latin-1"])
def test_western_text_is_detected(encoding):
    assert decode_text(EN.encode(encoding)) == EN


def test_windows_line_endings_are_normalised():
    assert decode_text(b"one\r\ntwo\rthree\n") == "one\ntwo\nthree\n"


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_binary(seed):
    data = random.Random(seed).randbytes(3000)
    with pytest.raises(IngestError, match="binary"):
        decode_text(data)


def test_random_bytes_without_control_characters_are_still_not_text():
    rng = random.Random(7)
    for _ in range(20):
        data = bytes(b for b in rng.randbytes(8000) if b >= 0x20)[:3000]
        with pytest.raises(IngestError, match="binary"):
            decode_text(data)


def test_png_named_txt_is_binary():
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(2000)
    with pytest.raises(IngestError, match="binary"):
        decode_text(data)


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b" \n\t\r\n  ", "whitespace"),
    ("\u3000\u3000\n".encode(), "whitespace"),          # full-width spaces
    (" \n \n".encode("utf-16"), "whitespace"),          # blank, in UTF-16 with a BOM
])
def test_empty_and_blank(data, reason):
    with pytest.raises(IngestError, match=reason):
        decode_text(data)


# ---------------------------------------------------------------- loaders


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_markdown_front_matter_sections_and_claim_markers(tmp_path):
    md = """---
title: "Notes on scaling"
id: scaling-notes
claims: [1, 2]
language: en
---
# Ignored because the front matter names the title

Intro paragraph with a [link](https://example.org) and **bold** words.

## Claim one <!-- claims: 1 -->

Loss falls as a power law.

## Claim two
<!-- claim: 2 -->
Abilities emerge.
"""
    doc = load_document(write(tmp_path, "n.md", md))
    assert doc.doc_id == "scaling-notes" and doc.title == "Notes on scaling"
    assert doc.claims == [1, 2] and doc.language == "en"
    by_heading = {s.heading: s for s in doc.sections}
    assert "link and bold words" in by_heading["Ignored because the front matter names the title"].text
    assert by_heading["Claim one"].claims == [1]
    assert by_heading["Claim two"].claims == [2]
    assert "<!--" not in " ".join(s.text for s in doc.sections)


def test_markdown_title_from_first_heading_and_language(tmp_path):
    doc = load_document(write(tmp_path, "ja.md", f"# 八つのこと\n\n{JA}\n"))
    assert doc.title == "八つのこと" and doc.language == "ja"
    assert language_of("Scaling laws") == "en"


def test_html_strips_script_style_and_keeps_headings(tmp_path):
    page = """<!doctype html><html><head><title>Saved page</title>
<style>body { color: red } .secret { display: none }</style>
<script>var tracking = "SCRIPTTEXT"; if (a < b) { alert(1) }</script>
</head><body><nav>Home | About</nav>
<h1>Sycophancy</h1><p>Models repeat the user's <b>views</b> back.</p>
<noscript>NOSCRIPTTEXT</noscript><svg><text>SVGTEXT</text></svg>
<h2>Sandbagging</h2><p>Models give worse answers to users who seem less educated.</p>
<script type="application/ld+json">{"JSONLD": 1}</script></body></html>"""
    doc = load_document(write(tmp_path, "page.html", page))
    text = " ".join(s.text for s in doc.sections)
    assert doc.title == "Saved page"
    for hidden in ("SCRIPTTEXT", "color: red", "NOSCRIPTTEXT", "SVGTEXT", "JSONLD", "alert"):
        assert hidden not in text
    headings = [s.heading for s in doc.sections]
    assert "Sycophancy" in headings and "Sandbagging" in headings
    assert "repeat the user's views back" in text


def test_html_that_never_closes_head_keeps_its_body(tmp_path):
    page = "<html><head><title>T</title><meta charset=utf-8><body><p>Body text survives.</p>"
    doc = load_document(write(tmp_path, "open.htm", page))
    assert "Body text survives." in doc.sections[0].text


def test_html_declared_shift_jis(tmp_path):
    page = f'<html><head><meta charset="Shift_JIS"><title>日本語</title></head><body><p>{JA}</p></body></html>'
    doc = load_document(write(tmp_path, "sj.html", page.encode("shift_jis")))
    assert doc.title == "日本語" and JA in doc.sections[0].text


def test_text_file_title_is_its_first_line(tmp_path):
    doc = load_document(write(tmp_path, "t.txt", "My notes\n\nSome text.\n"))
    assert doc.title == "My notes"


def test_pdf_sections_are_pages(tmp_path):
    data = make_pdf(["Emergent abilities appear at scale.\nA second line.",
                     None,
                     "Page three is about sycophancy."], title="A Paper")
    doc = load_document(write(tmp_path, "paper.pdf", data))
    assert doc.title == "A Paper"
    assert [(s.heading, s.page) for s in doc.sections] == [("page 1", 1), ("page 3", 3)]
    assert "sycophancy" in doc.sections[1].text


def test_pdf_without_title_uses_file_name(tmp_path):
    doc = load_document(write(tmp_path, "kaplan2020.pdf", make_pdf(["Scaling laws for neural "
                                                                    "language models."])))
    assert doc.title == "kaplan2020"


@pytest.mark.parametrize("name", list(bad_pdfs()))
def test_bad_pdfs(tmp_path, name):
    data, reason = bad_pdfs()[name]
    with pytest.raises(IngestError, match=reason):
        load_document(write(tmp_path, name, data))


@pytest.mark.parametrize("seed", range(8))
def test_a_pdf_damaged_in_the_middle_is_corrupt_not_half_read(tmp_path, seed):
    """pypdf recovers what it can from a damaged file: a page gone, or pages that come back
    without text and would pass for a scan. Either way the file is reported as corrupt."""
    good = make_pdf(["Emergent abilities appear at scale.\nSecond line.",
                     "Page two talks about sycophancy in models."], title="A Paper")
    rng = random.Random(seed)
    data = bytearray(good)
    at = rng.randrange(100, len(data) - 200)
    data[at:at + 150] = rng.randbytes(150)
    with pytest.raises(IngestError, match=r"^corrupt PDF \("):
        load_document(write(tmp_path, "damaged.pdf", bytes(data)))


def test_scanned_pdf_says_so(tmp_path):
    with pytest.raises(IngestError, match=r"no text layer \(2 pages, scanned"):
        load_document(write(tmp_path, "scan.pdf", make_pdf([None, None])))


def test_pdf_with_an_empty_user_password_is_read(tmp_path):
    data = encrypt_pdf(make_pdf(["Readable although encrypted for editing."]), "")
    doc = load_document(write(tmp_path, "owner-only.pdf", data))
    assert "Readable" in doc.sections[0].text


def test_unsupported_type(tmp_path):
    with pytest.raises(IngestError, match=r"unsupported type '\.docx'.*\.md"):
        load_document(write(tmp_path, "a.docx", "words"))


def test_size_limit_names_the_limit_and_the_setting(tmp_path):
    path = write(tmp_path, "big.txt", "word " * 5000)
    with pytest.raises(IngestError, match=r"file is 0\.025 MB, over the size limit of 0\.01 MB "
                                          r"\(max_file_mb .*TUTOR_MAX_FILE_MB\)"):
        load_document(path, max_bytes=10_000)
    assert load_document(path, max_bytes=30_000).size == 25_000


def test_unreadable_file_is_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.md", "# Secret\n\ntext")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(IngestError, match="permission denied"):
        load_document(path)


def test_content_hash_and_size(tmp_path):
    a = load_document(write(tmp_path, "a.md", "# A\n\nsame"))
    b = load_document(write(tmp_path, "b.md", "# A\n\nsame"))
    c = load_document(write(tmp_path, "c.md", "# A\n\nother"))
    assert a.content_hash == b.content_hash != c.content_hash and a.size == 9


# ---------------------------------------------------------------- sentences and chunks


def test_english_sentences():
    text = ("Scaling laws hold. Does emergence? Yes! It was 3.5 times larger, e.g. the model.\n"
            "A wrapped\nline continues here.\n\n- a list item\n- another item")
    assert split_sentences(text) == [
        "Scaling laws hold.", "Does emergence?", "Yes!", "It was 3.5 times larger, e.g. the model.",
        "A wrapped line continues here.", "- a list item", "- another item"]


def test_japanese_sentences_split_without_spaces():
    text = "大規模言語モデルは能力が高まる。本当か？そうだ！「引用です。」と言った。\n改行された\n文も一つ。"
    assert split_sentences(text) == ["大規模言語モデルは能力が高まる。", "本当か？", "そうだ！",
                                     "「引用です。」と言った。", "改行された文も一つ。"]


@pytest.fixture(scope="module")
def count_tokens():
    from tutor.embed import Embedder

    return Embedder().count_tokens  # the tokenizer only: no model is loaded


def _doc(tmp_path: Path, name: str, text: str):
    return load_document(write(tmp_path, name, text))


def test_chunks_respect_the_token_limit_in_english(tmp_path, count_tokens):
    rng = random.Random(0)
    words = "scaling laws predict the loss of language models from compute data and size".split()
    paras = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 40))) + "." for _ in range(200)]
    doc = _doc(tmp_path, "en.md", "# Long\n\n" + " ".join(paras))
    chunks = chunk_document(doc, count_tokens, max_tokens=120)
    assert len(chunks) > 10
    assert all(count_tokens(c.text) <= 120 for c in chunks)
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert all(c.location == "Long" for c in chunks)


def test_a_long_japanese_paragraph_is_not_swallowed_whole(tmp_path, count_tokens):
    text = "# 日本語\n\n" + JA * 40  # one paragraph, no spaces at all
    chunks = chunk_document(_doc(tmp_path, "ja.md", text), count_tokens, max_tokens=120)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 120 for c in chunks)
    assert all(c.language == "ja" for c in chunks)
    assert all(c.text.endswith(("。", "る")) for c in chunks)  # cut at sentence ends


def test_one_overlong_sentence_is_cut_to_fit(tmp_path, count_tokens):
    en = "word " * 600 + "end."
    ja = "あ" * 1500 + "。"
    for name, text in (("en.txt", en), ("ja.txt", ja)):
        chunks = chunk_document(_doc(tmp_path, name, text), count_tokens, max_tokens=100)
        assert len(chunks) > 2
        assert all(count_tokens(c.text) <= 100 for c in chunks)
        assert all(len(c.text) <= 600 for c in chunks)  # a kana run is one [UNK] to WordPiece


def test_neighbouring_chunks_overlap_by_a_sentence(tmp_path, count_tokens):
    sentences = [f"Sentence number {i} talks about scaling laws and compute budgets." for i in range(30)]
    chunks = chunk_document(_doc(tmp_path, "o.md", " ".join(sentences)), count_tokens, max_tokens=60)
    for a, b in zip(chunks, chunks[1:]):
        last = split_sentences(a.text)[-1]
        assert b.text.startswith(last)


def test_pdf_chunks_carry_their_page(tmp_path, count_tokens):
    lorem = "Language model loss falls as a power law in compute, data and parameters. "
    pages = ["\n".join(f"Page {p} line {i}: {lorem}" for i in range(30)) for p in range(1, 4)]
    doc = load_document(write(tmp_path, "p.pdf", make_pdf(pages)))
    chunks = chunk_document(doc, count_tokens, max_tokens=200)
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.location == f"page {c.page}" for c in chunks)
    assert all(f"Page {c.page} " in c.text for c in chunks)


def test_chunk_claims_follow_their_section(tmp_path, count_tokens):
    md = "# A\n<!-- claims: 3 -->\nWorld models.\n\n# B\n<!-- claims: 5 -->\nSteering is hard.\n"
    chunks = chunk_document(_doc(tmp_path, "c.md", md), count_tokens)
    assert [(c.location, c.claims) for c in chunks] == [("A", (3,)), ("B", (5,))]
    assert chunks[0].embed_text("T") == "T | A\nWorld models."


def test_os_file_errors_are_reasons(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        load_document(tmp_path / "gone.md")
    d = tmp_path / "dir.md"
    d.mkdir()
    with pytest.raises(IngestError, match="is a directory"):
        load_document(d)
    if os.geteuid() != 0:
        p = write(tmp_path, "locked.md", "x")
        p.chmod(0)
        with pytest.raises(IngestError, match="permission denied"):
            load_document(p)


# ---------------------------------------------------------------- UTF-16/32 without a BOM (issue 10)

PAGES = {
    "ja": "<html><head><title>テスト頁</title></head><body><p>ズィクトロンは言語モデルの話。</p></body></html>",
    "en": "<html><head><title>A page — ‘quoted’ © 2024</title></head><body><p>Scaling laws… "
          "nothing else.</p></body></html>",
    "zh": "<html><head><title>中文网页</title></head><body><p>大型语言模型的规模定律。</p></body></html>",
}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("lang", list(PAGES))
def test_html_in_wide_unicode_without_a_bom(tmp_path, lang, encoding):
    page = PAGES[lang]
    data = page.encode(encoding)
    assert not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE))
    doc = load_document(write(tmp_path, "page.html", data))
    assert doc.title == page.split("<title>")[1].split("</title>")[0]
    assert page.split("<p>")[1].split("</p>")[0] in doc.sections[0].text
    text = load_document(write(tmp_path, "page.txt", data)).sections[0].text
    assert text == page


def test_html_authors_from_meta_tags(tmp_path):
    page = ('<html><head><title>Paper</title><meta name="citation_author" content="Kaplan, J.">'
            '<meta name="citation_author" content="McCandlish, S."></head><body><p>Text.</p>'
            '</body></html>')
    doc = load_document(write(tmp_path, "p.html", page))
    assert doc.authors == "Kaplan, J., McCandlish, S."
