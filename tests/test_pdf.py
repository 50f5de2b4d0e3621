"""PDF text by PDFium (tutor.pdf.load_pdf) on the tricky files of tests/pdfs.py: Japanese in
fonts that are not embedded, vertical writing, an arXiv-like paper (title, ligatures, hyphens,
running headers), a broken cross-reference table, and encryption with and without a password."""
from __future__ import annotations

import random

import pytest

from pdfs import CJK_CMAPS, break_xref, make_cjk_pdf, make_paper_pdf
from test_ingest import encrypt_pdf, make_pdf, write
from tutor.ingest import PasswordError, load_document
from tutor.pdf import clean_pdf_text

JA_LINES = ["大規模言語モデルは投資とともに予測どおり能力が伸びる。", "ズィクトロンという言葉を探す。"]
LIGATURE_CHARS = "\ufb00\ufb01\ufb02\ufb03\ufb04"

PAPER_PAGES = [
    ["We study empirical scaling laws for language model performance on the cross-",
     "entropy loss. The loss scales as a power-law with model size, dataset size, and the",
     "amount of compute used for training, with some trends spanning more than seven",
     "orders of magnitude. Other architectural details such as network width or depth have",
     "minimal effects within a wide range. Simple equations govern the dependence of over-",
     "fitting on model and dataset size, and the dependence of training speed on model size."],
    ["These relationships allow us to determine the optimal allocation of a fixed compute",
     "budget. Larger models are significantly more sample-efficient, such that optimally",
     "compute-efficient training involves training very large models on a relatively modest",
     "amount of data and stopping significantly before convergence; the effect of Neff is small."],
    ["Performance depends strongly on scale, weakly on model shape. Model performance depends",
     "most strongly on scale, which consists of three factors: the number of model parameters",
     "N, the size of the dataset D, and the amount of compute C used for training."],
]
TITLE = "Scaling Laws for Neural Language Models"


def paper(**kw) -> bytes:
    return make_paper_pdf(TITLE, "Jared Kaplan, Sam McCandlish, Tom Henighan", PAPER_PAGES, **kw)


@pytest.mark.parametrize("cmap", list(CJK_CMAPS))
def test_japanese_in_fonts_that_are_not_embedded(tmp_path, cmap):
    doc = load_document(write(tmp_path, f"ja-{cmap}.pdf", make_cjk_pdf(JA_LINES, cmap)))
    text = doc.sections[0].text
    assert text.split("\n") == JA_LINES  # vertical columns come right to left, in order
    assert doc.language == "ja" and doc.sections[0].page == 1


@pytest.mark.parametrize("cmap", ["90ms-RKSJ-H", "90ms-RKSJ-V"])
def test_japanese_one_character_per_text_object(tmp_path, cmap):
    """PDFium returns nothing for these pages; pypdf's text of them is used instead."""
    doc = load_document(write(tmp_path, "per-char.pdf", make_cjk_pdf(JA_LINES, cmap, per_char=True)))
    text = doc.sections[0].text
    assert all(line in text.replace("\n", "") for line in JA_LINES), text


def test_arxiv_paper_title_from_its_largest_text_not_the_stamp(tmp_path):
    doc = load_document(write(tmp_path, "2001.08361_kaplan_scaling_laws.pdf", paper()))
    assert doc.title == TITLE
    assert doc.authors == ""  # no metadata: the authors are not guessed


def test_metadata_title_and_authors_win(tmp_path):
    doc = load_document(write(tmp_path, "p.pdf", paper(meta_title="Scaling Laws (metadata)",
                                                       meta_author="J. Kaplan and others")))
    assert doc.title == "Scaling Laws (metadata)" and doc.authors == "J. Kaplan and others"


@pytest.mark.parametrize("junk", ["Microsoft Word - draft.docx", "untitled", "paper.dvi", " "])
def test_junk_metadata_titles_fall_back_to_the_first_page(tmp_path, junk):
    doc = load_document(write(tmp_path, "p.pdf", paper(meta_title=junk)))
    assert doc.title == TITLE


def test_paper_text_is_clean(tmp_path):
    doc = load_document(write(tmp_path, "p.pdf", paper()))
    text = "\n".join(s.text for s in doc.sections)
    assert not any(c in text for c in LIGATURE_CHARS + "\ufffe\u00ad")
    assert "fixed compute" in text and "effect of Neff" in text and "sample-efficient" in text
    assert "overfitting" in text and "over-" not in text  # hyphenated at the line end, joined
    assert "Under review" not in text  # the running header, on every page
    assert not any(s.text.split("\n")[-1].strip().isdigit() for s in doc.sections)  # page numbers
    assert [s.page for s in doc.sections] == [1, 2, 3]


def test_clean_pdf_text_nfkc_and_hyphens():
    assert clean_pdf_text("ﬁxed ＡＢＣ１２３\r\nover-\nfitting\r\nWord-\nNext") == \
        "fixed ABC123\noverfitting\nWord-\nNext"


def test_broken_cross_reference_table_is_read(tmp_path):
    data = break_xref(make_pdf(["Emergent abilities appear at scale.", "Page two, sycophancy."]))
    doc = load_document(write(tmp_path, "broken-xref.pdf", data))
    assert [s.page for s in doc.sections] == [1, 2] and "sycophancy" in doc.sections[1].text


def test_empty_user_password_opens_silently(tmp_path):
    data = encrypt_pdf(make_cjk_pdf(JA_LINES, "90ms-RKSJ-H"), "")
    doc = load_document(write(tmp_path, "owner-only.pdf", data))
    assert "ズィクトロン" in doc.sections[0].text


def test_user_password(tmp_path):
    path = write(tmp_path, "course-pack.pdf", encrypt_pdf(paper(), "s3cret"))
    with pytest.raises(PasswordError, match=r"^encrypted PDF: it needs a password") as missing:
        load_document(path)
    assert not missing.value.given
    with pytest.raises(PasswordError, match=r"^encrypted PDF: wrong password$") as wrong:
        load_document(path, password="guess")
    assert wrong.value.given and "guess" not in str(wrong.value)
    doc = load_document(path, password="s3cret")
    assert doc.title == TITLE and "fixed compute" in doc.sections[1].text


def test_password_ignored_for_a_plain_pdf(tmp_path):
    doc = load_document(write(tmp_path, "plain.pdf", paper()), password="anything")
    assert doc.title == TITLE


def test_the_damage_check_is_skipped_when_pypdf_cannot_decrypt(tmp_path, monkeypatch):
    """AES without `cryptography`: pypdf cannot check the objects, PDFium still reads the file."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    def needs_aes(self, password):
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    monkeypatch.setattr(PdfReader, "decrypt", needs_aes)
    doc = load_document(write(tmp_path, "aes.pdf", encrypt_pdf(paper(), "pw")), password="pw")
    assert doc.title == TITLE


def test_same_text_different_bytes_share_the_text_hash(tmp_path):
    a = load_document(write(tmp_path, "a.pdf", paper()))
    b = load_document(write(tmp_path, "b.pdf", paper(meta_author="someone")))
    c = load_document(write(tmp_path, "c.pdf", make_pdf(["Another paper entirely, different."])))
    assert a.content_hash != b.content_hash and a.text_hash == b.text_hash != c.text_hash


def test_a_long_pdf_is_fast(tmp_path):
    """100 pages of dense text (the speed figure of README's PDF section comes from
    benchmarks/pdf_speed.py)."""
    import time

    rng = random.Random(1)
    words = "scaling loss model data compute emergent sycophancy steer capability".split()
    pages = ["\n".join(" ".join(rng.choice(words) for _ in range(14)) for _ in range(55))
             for _ in range(100)]
    path = write(tmp_path, "long.pdf", make_pdf(pages))
    t0 = time.perf_counter()
    doc = load_document(path)
    assert len(doc.sections) == 100
    assert time.perf_counter() - t0 < 10



def test_running_lines_are_kept_when_they_are_most_of_the_text():
    from tutor.pdf import drop_running_lines

    bodies = ["Loss falls as a power law of the compute spent on training.",
              "Emergent abilities appear at scale, often without warning.",
              "Models can be steered, but not reliably, by their instructions."]
    pages = [f"Header\n{body}\n{n}" for n, body in enumerate(bodies, 1)]
    assert drop_running_lines(pages) == bodies
    same = ["The same line on every page."] * 4
    assert drop_running_lines(same) == same
