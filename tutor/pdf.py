"""PDF files: their text by PDFium (pypdfium2), one section a page, with pypdf as a second
reader for what PDFium misses (pages whose text it drops) and as the judge of damage (objects
missing or unparsable, which PDFium passes over silently).

The only module that imports pypdfium2 or pypdf; :func:`tutor.ingest.load_document` calls
:func:`load_pdf` for a ``.pdf`` file, so neither library is loaded until a PDF is added.
"""
from __future__ import annotations

import ctypes
import logging
import re
import unicodedata
from collections.abc import Sequence

from .ingest import CJK, IngestError, PasswordError, Section


_JUNK_TITLE = re.compile(r"^(untitled|microsoft (word|powerpoint)\b.*|.*\.(pdf|docx?|tex|dvi|ps)"
                         r"|title|document\d*|paper|slide \d+|\W*)$", re.I)
_STAMP = re.compile(r"arXiv:\d{4}\.\d{4,5}|^\s*\d+\s*$")


_HYPHENATED = re.compile(r"(\w)-\n(?=[a-z])")


class _PdfDamage(logging.Handler):
    """Collects pypdf's warnings that mean content was lost (objects missing or unparsable),
    as opposed to the harmless ones (a wrong startxref that pypdf rebuilds)."""

    SIGNS = ("not defined", "Invalid Elementary Object", "Could not read", "Expecting a NameObject")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        missing = re.search(r"Object (\d+) (\d+) not defined", message)
        if missing:
            self.found.append(f"object {missing.group(1)} {missing.group(2)} is missing")
        elif any(sign in message for sign in self.SIGNS):
            self.found.append("an object cannot be parsed")


def pypdf_pass(data: bytes, password: str | None, empty: Sequence[int] = ()
                ) -> tuple[str | None, dict[int, str]]:
    """What pypdf finds broken in the file's objects (or None), and its text of the pages
    (0-based) in ``empty``.

    PDFium reads the text, but skips what it cannot parse without a word: a page whose content
    stream is damaged comes back empty and would pass for a blank or scanned page. pypdf's
    parser names the missing or broken objects; only its object reading runs for that (no text
    extraction), which costs a fraction of reading the text. PDFium also drops text drawn one
    character per text object in a CJK font that is not embedded (measured on such a file:
    nothing at all); pypdf reads those, so the pages PDFium found empty get pypdf's text.
    """
    import io

    from pypdf import PdfReader

    damage = _PdfDamage()
    texts: dict[int, str] = {}
    pypdf_log = logging.getLogger("pypdf")
    saved = pypdf_log.level, pypdf_log.propagate
    pypdf_log.setLevel(logging.WARNING)
    pypdf_log.propagate = False  # nothing on the terminal: what matters becomes the reason
    pypdf_log.addHandler(damage)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(password or ""):
            return None, texts
        for i, page in enumerate(reader.pages):
            contents = page.get_contents()
            if contents is not None:
                contents.get_data()
            resources = page.get("/Resources")
            if resources is not None:
                resources.get_object()
            if i in empty and contents is not None:
                texts[i] = page.extract_text() or ""
    except MemoryError:
        return "too complex to read (out of memory)", {}
    except Exception as exc:  # pypdf raises many kinds on damaged files; all mean "corrupt"
        # AES without the `cryptography` package: PDFium read it, nothing to check it with
        if type(exc).__name__ in ("DependencyError", "FileNotDecryptedError"):
            return None, {}
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:80]}", {}
    finally:
        pypdf_log.removeHandler(damage)
        pypdf_log.setLevel(saved[0])
        pypdf_log.propagate = saved[1]
    return (damage.found[0] if damage.found else None), texts


def _meta_text(value: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", value or "").split())
    return "" if _JUNK_TITLE.match(text) else text


def _largest_text(textpage: object) -> str:
    """The first page's text in its largest upright font (a paper's title), or ""."""
    import pypdfium2.raw as pdfium_c

    runs: list[tuple[float, str]] = []  # (font size, text), consecutive chars of one size
    for i in range(min(pdfium_c.FPDFText_CountChars(textpage), 20000)):
        code = pdfium_c.FPDFText_GetUnicode(textpage, i)
        ch = chr(code) if 0 < code < 0x110000 else ""
        if not ch or pdfium_c.FPDFText_GetCharAngle(textpage, i) not in (0.0, -1.0):
            runs.append((0.0, "\n"))  # rotated text: the arXiv stamp in the margin
            continue
        size = round(pdfium_c.FPDFText_GetFontSize(textpage, i) * 2) / 2
        if ch.isspace() or pdfium_c.FPDFText_IsGenerated(textpage, i):
            if runs:
                runs[-1] = (runs[-1][0], runs[-1][1] + " ")
            continue
        if runs and runs[-1][0] == size:
            runs[-1] = (size, runs[-1][1] + ch)
        else:
            runs.append((size, ch))
    texts = [(size, " ".join(text.split())) for size, text in runs]
    texts = [(size, t) for size, t in texts
             if size > 0 and sum(c.isalpha() for c in t) >= 3 and not _STAMP.search(t)]
    if not texts:
        return ""
    top = max(size for size, _ in texts)
    letters: dict[float, int] = {}
    for size, t in texts:
        letters[size] = letters.get(size, 0) + len(t)
    if letters[top] > 0.5 * sum(letters.values()):  # the body's own size: no title
        return ""
    first = next(i for i, (size, _) in enumerate(texts) if size == top)
    parts = []
    for size, t in texts[first:]:  # the title's lines, until the text of another size
        if size != top:
            break
        parts.append(t)
    title = unicodedata.normalize("NFKC", " ".join(parts))
    return title[:200].strip() if len(title) >= 4 else ""


def _vertical_text(textpage: object) -> str | None:
    """The page's text in reading order when it is written vertically (columns right to left),
    or None for horizontal text. PDFium gives vertical columns left to right."""
    import pypdfium2.raw as pdfium_c

    n = min(pdfium_c.FPDFText_CountChars(textpage), 50000)
    left, bottom, right, top = (ctypes.c_double() for _ in range(4))
    lines: list[tuple[float, str]] = []
    chars: list[str] = []
    xs: list[float] = []
    down = across = 0
    prev: tuple[float, float] | None = None
    for i in range(n + 1):
        code = pdfium_c.FPDFText_GetUnicode(textpage, i) if i < n else 10
        ch = chr(code) if 0 < code < 0x110000 else ""
        if ch in ("\r", "\n") or i == n:
            if chars:
                lines.append((sum(xs) / len(xs), "".join(chars)))
            chars, xs, prev = [], [], None
            continue
        chars.append(ch)
        if ch.isspace() or not pdfium_c.FPDFText_GetCharBox(
                textpage, i, ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom),
                ctypes.byref(top)):
            continue
        x, y = (left.value + right.value) / 2, (bottom.value + top.value) / 2
        xs.append(x)
        if prev is not None:
            dx, dy = abs(x - prev[0]), abs(y - prev[1])
            if dy > 2 * dx:
                down += 1
            elif dx > 2 * dy:
                across += 1
        prev = (x, y)
    if down <= 2 * across or down < 4:
        return None
    lines = [(x if x == x else 0.0, text) for x, text in lines]
    return "\n".join(text for _, text in sorted(lines, key=lambda line: -line[0]))


def _text_objects(page: object) -> int:
    """How many text objects the page draws."""
    import pypdfium2.raw as pdfium_c

    return sum(pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page, i))
               == pdfium_c.FPDF_PAGEOBJ_TEXT for i in range(pdfium_c.FPDFPage_CountObjects(page)))


def clean_pdf_text(text: str) -> str:
    """PDF page text made plain: NFKC (ligatures like "ﬁ" and full-width forms become their
    plain letters), words hyphenated at a line end joined, line ends normalised."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # PDFium joins a word hyphenated at a line end itself and leaves a mark where the hyphen
    # was: U+0002 (bounded text), U+FFFE (text ranges); a soft hyphen is a hyphen too
    text = re.sub("[\x02\ufffe\u00ad]\n?", "", text)
    text = unicodedata.normalize("NFKC", text)
    text = _HYPHENATED.sub(r"\1", text)
    return "\n".join(line.rstrip() for line in text.split("\n"))


def drop_running_lines(pages: list[str]) -> list[str]:
    """Headers and footers (the first and last two lines of a page) that repeat, digits aside,
    on most pages of a document of 3 pages or more are dropped from every page."""
    if len(pages) < 3:
        return pages

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", " ".join(line.split()).lower())

    edges: list[set[str]] = []
    for text in pages:
        lines = [line for line in text.split("\n") if line.strip()]
        edges.append({key(line) for line in lines[:2] + lines[-2:]})
    counts: dict[str, int] = {}
    for keys in edges:
        for k in keys:
            counts[k] = counts.get(k, 0) + 1
    running = {k for k, c in counts.items() if c >= max(3, 0.6 * len(pages)) and len(k) <= 120}
    if not running:
        return pages
    out = []
    for text in pages:
        lines = text.split("\n")
        filled = [i for i, line in enumerate(lines) if line.strip()]
        edge = set(filled[:2] + filled[-2:])
        out.append("\n".join(line for i, line in enumerate(lines)
                              if not (i in edge and key(line) in running)))
    if sum(len(t.strip()) for t in out) < 0.5 * sum(len(t.strip()) for t in pages):
        return pages  # not headers and footers: the pages are mostly those lines
    return out


def load_pdf(data: bytes, fallback_title: str, password: str | None = None
             ) -> tuple[str, list[Section], dict[str, object]]:
    """One section a page ("page N"), so every chunk is cited by its page; text by PDFium.

    An empty user password opens silently; another needs ``password`` (a wrong or missing one
    raises :class:`PasswordError`). The title is the metadata's, else the first page's text in
    its largest font; the authors are the metadata's. ``meta`` holds ``authors`` when known.
    """
    import pypdfium2 as pdfium

    if b"%PDF-" not in data[:1024]:
        raise IngestError("not a PDF (no %PDF- header): the file is corrupt or mislabelled")
    if b"%%EOF" not in data[-2048:]:
        raise IngestError("truncated PDF (no %%EOF marker at the end)")
    try:
        doc = pdfium.PdfDocument(data, password=password or None)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == 4:  # FPDF_ERR_PASSWORD
            if password:
                raise PasswordError("encrypted PDF: wrong password", given=True) from None
            raise PasswordError("encrypted PDF: it needs a password (--password, "
                                "TUTOR_PDF_PASSWORD, or the Add screen asks)", given=False) from None
        if code == 5:
            raise IngestError("encrypted PDF: unsupported security handler") from None
        raise IngestError(f"corrupt PDF (PDFium cannot open it: {exc})") from None
    try:
        texts: list[str] = []
        short: list[int] = []  # pages whose text PDFium (mostly) dropped
        first_largest = ""
        for i in range(len(doc)):
            try:
                page = doc[i]
                textpage = page.get_textpage()
            except pdfium.PdfiumError:
                raise IngestError(f"corrupt PDF (page {i + 1} cannot be loaded); only part of it "
                                  "could be read") from None
            text = textpage.get_text_bounded()
            if CJK.search(text[:2000]):
                text = _vertical_text(textpage) or text
            if i == 0:
                first_largest = _largest_text(textpage)
            if len(text) < 2000 and len(text.strip()) < _text_objects(page) / 2:
                short.append(i)  # PDFium dropped most of it: see pypdf_pass
            texts.append(clean_pdf_text(text))
            textpage.close()
            page.close()
        metadata = doc.get_metadata_dict()
    except IngestError:
        raise
    except MemoryError:
        raise IngestError("PDF too complex to read (out of memory)") from None
    except Exception as exc:  # PDFium reports damage in pages as errors of many kinds
        raise IngestError(f"corrupt PDF ({type(exc).__name__}: {' '.join(str(exc).split())[:80]})"
                          ) from None
    finally:
        doc.close()
    short += [i for i, text in enumerate(texts) if not text.strip() and i not in short]
    damage, recovered = pypdf_pass(data, password, short)
    for i, text in recovered.items():
        if len(text.strip()) > len(texts[i].strip()):
            texts[i] = clean_pdf_text(text)
    if damage:
        # objects that cannot be parsed or found: what PDFium returns is a part of the document
        # at best (a page gone, or pages without text that look like a scan)
        raise IngestError(f"corrupt PDF ({damage}); only part of it could be read")
    if not texts:
        raise IngestError("PDF has no pages")
    texts = drop_running_lines(texts)
    sections = [Section(f"page {n}", text.strip(), page=n)
                for n, text in enumerate(texts, 1) if text.strip()]
    if not sections or sum(len(s.text) for s in sections) < 20:
        raise IngestError(f"PDF has no text layer ({len(texts)} page{'s' * (len(texts) != 1)}, "
                          "scanned images?): run OCR on it first")
    meta: dict[str, object] = {}
    authors = _meta_text(metadata.get("Author", ""))
    if authors:
        meta["authors"] = authors
    title = _meta_text(metadata.get("Title", "")) or first_largest or fallback_title
    return title, sections, meta
