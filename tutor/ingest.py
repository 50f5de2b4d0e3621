"""Loaders (Markdown, text, HTML, PDF) and the chunker.

Everything here is pure: files in, :class:`Document` and :class:`Chunk` out. Nothing is
embedded or stored here (that is :mod:`tutor.index`).
"""
from __future__ import annotations

import codecs
import hashlib
import html.parser
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
             ".html": "html", ".htm": "html", ".pdf": "pdf"}


class IngestError(Exception):
    """A file cannot be added; the message is the reason, shown after the file name."""


@dataclass
class Section:
    heading: str  # section title, or "page N" for PDFs
    text: str
    claims: list[int] = field(default_factory=list)
    page: int | None = None


@dataclass
class Document:
    doc_id: str
    title: str
    source: str
    content_hash: str
    size: int
    sections: list[Section]
    claims: list[int] = field(default_factory=list)
    language: str = "en"
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    ord: int
    text: str
    location: str
    claims: tuple[int, ...]
    language: str
    page: int | None = None

    def embed_text(self, title: str) -> str:
        """What the embedder and the lexical index see: the chunk with its place named."""
        return f"{title} | {self.location}\n{self.text}"


# ---------------------------------------------------------------- helpers

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def language_of(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for c in letters if _CJK.match(c))
    return "ja" if cjk / len(letters) > 0.15 else "en"


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-")
    return text[:48] or "doc"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """Decode bytes in any common encoding; raise IngestError for binary data."""
    if not data.strip():
        raise IngestError("empty file")
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF32_LE, "utf-32"),
                     (codecs.BOM_UTF32_BE, "utf-32")):
        if data.startswith(bom):
            return _check_text(data.decode(enc, errors="replace"))
    if b"\x00" in data[:4096]:
        # UTF-16 without a BOM puts a NUL beside every ASCII character
        even, odd = data[0:4096:2].count(0), data[1:4096:2].count(0)
        half = min(len(data), 4096) / 2
        if odd > 0.3 * half and even < 0.05 * half:
            return _check_text(data.decode("utf-16-le", errors="replace"))
        if even > 0.3 * half and odd < 0.05 * half:
            return _check_text(data.decode("utf-16-be", errors="replace"))
        raise IngestError("binary data, not text")
    try:
        return _check_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    # Japanese legacy encodings first (the corpus is about a Japanese article), then a detector
    for enc in ("cp932", "euc_jp"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _looks_japanese(text):
            return _check_text(text)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError("binary data, not text (no text encoding fits)")
    return _check_text(str(best))


def _looks_japanese(text: str) -> bool:
    letters = [c for c in text if not c.isascii() and c.isprintable() and not c.isspace()]
    if not letters:
        return False
    return sum(1 for c in letters if _CJK.match(c) or c in "、。「」！？・ー（）") / len(letters) > 0.8


def _check_text(text: str) -> str:
    if not text.strip():
        raise IngestError("file holds only whitespace")
    sample = text[:20000]
    bad = sum(1 for c in sample if (unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn")
                                    and c not in "\n\r\t\f") or c == "\ufffd")
    if bad / max(len(sample), 1) > 0.05:
        raise IngestError("binary data, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- front matter

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def parse_front_matter(text: str) -> tuple[dict[str, object], str]:
    match = _FRONT.match(text)
    if not match:
        return {}, text
    meta: dict[str, object] = {}
    for line in match.group(1).splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        key, value = line.split(":", 1)
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            items = [v.strip().strip("\"'") for v in value[1:-1].split(",") if v.strip()]
            meta[key.strip()] = [int(v) if v.isdigit() else v for v in items]
        else:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            meta[key.strip()] = value
    return meta, text[match.end():]


# ---------------------------------------------------------------- loaders

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CLAIM_MARK = re.compile(r"<!--\s*claims?:\s*([\d,\s]+)-->")


def _claims_of(value: object) -> list[int]:
    if isinstance(value, list):
        return [int(v) for v in value if str(v).isdigit() and 1 <= int(v) <= 8]
    if isinstance(value, str):
        return [int(v) for v in re.findall(r"\d", value) if 1 <= int(v) <= 8]
    return []


def _clean_markdown(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)  # images: keep alt text
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links: keep the words
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return text


def load_markdown(text: str, fallback_title: str) -> tuple[str, list[Section], dict[str, object]]:
    meta, body = parse_front_matter(text)
    doc_claims = _claims_of(meta.get("claims"))
    title = str(meta.get("title") or "")
    sections: list[Section] = []
    heading, claims, buf = "", list(doc_claims), []

    def flush() -> None:
        body_text = _clean_markdown("\n".join(buf)).strip()
        if body_text:
            sections.append(Section(heading or title or fallback_title, body_text, list(claims)))

    marked = bool(_CLAIM_MARK.search(body))  # a document that marks claims per section
    for line in body.split("\n"):
        h = _HEADING.match(line)
        if h:
            flush()
            buf = []
            level, name = len(h.group(1)), _clean_markdown(h.group(2)).strip()
            if level == 1 and not title:
                title = name
            heading = name
            claims = [] if marked else list(doc_claims)
            continue
        mark = _CLAIM_MARK.search(line)
        if mark:
            claims = _claims_of(mark.group(1))
        buf.append(line)
    flush()
    return title or fallback_title, sections, meta


def load_text(text: str, fallback_title: str) -> tuple[str, list[Section], dict[str, object]]:
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    title = first if 0 < len(first) <= 100 else fallback_title
    return title, [Section(title, text.strip())], {}


class _HTMLText(html.parser.HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg", "head"}
    BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "ul", "ol",
             "table", "header", "footer", "main", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.sections: list[Section] = []
        self._heading = ""
        self._buf: list[str] = []
        self._skip = 0
        self._in_title = False
        self._in_h: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self.SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._in_h = []
        elif tag in self.BLOCK:
            self._buf.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self._in_h is not None:
            self._heading = " ".join("".join(self._in_h).split())
            if tag == "h1" and not self.title:
                self.title = self._heading
            self._in_h = None
        elif tag in self.BLOCK:
            self._buf.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif self._skip:
            return
        elif self._in_h is not None:
            self._in_h.append(data)
        else:
            self._buf.append(data)

    def _flush(self) -> None:
        text = "\n".join(" ".join(line.split()) for line in "".join(self._buf).split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        if text:
            self.sections.append(Section(self._heading or self.title, text))
        self._buf = []

    def close(self) -> None:
        super().close()
        self._flush()


def load_html(text: str, fallback_title: str) -> tuple[str, list[Section], dict[str, object]]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    title = parser.title or fallback_title
    for s in parser.sections:
        s.heading = s.heading or title
    return title, parser.sections, {}


def load_pdf(data: bytes, fallback_title: str) -> tuple[str, list[Section], dict[str, object]]:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    if not data.lstrip().startswith(b"%PDF-"):
        raise IngestError("not a PDF (no %PDF- header); the file is corrupt or mislabelled")
    if b"%%EOF" not in data[-2048:]:
        raise IngestError("truncated PDF (no %%EOF marker at the end)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise IngestError("encrypted PDF: it needs a password")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise IngestError(f"encrypted PDF: it needs a password ({exc})") from None
        pages = [(i + 1, page.extract_text() or "") for i, page in enumerate(reader.pages)]
        meta_title = ""
        if reader.metadata and reader.metadata.title:
            meta_title = str(reader.metadata.title).strip()
    except IngestError:
        raise
    except FileNotDecryptedError:
        raise IngestError("encrypted PDF: it needs a password") from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, OSError, RecursionError, ZeroDivisionError) as exc:
        raise IngestError(f"corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not pages:
        raise IngestError("PDF has no pages")
    sections = [Section(f"page {n}", text.strip(), page=n) for n, text in pages if text.strip()]
    if not sections or sum(len(s.text) for s in sections) < 20:
        raise IngestError(f"PDF has no text layer ({len(pages)} pages, scanned?); "
                          "run OCR on it first")
    return meta_title or fallback_title, sections, {}


def load_document(path: Path, *, doc_id: str | None = None, source: str | None = None,
                  max_bytes: int | None = None) -> Document:
    """Read one file into a Document, or raise IngestError with the reason."""
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise IngestError(f"unsupported type {path.suffix or '(no extension)'!r}; "
                          f"supported: {', '.join(sorted(SUPPORTED))}")
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise IngestError(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
                              "(set max_file_mb in the config or TUTOR_MAX_FILE_MB)")
        data = path.read_bytes()
    except PermissionError:
        raise IngestError("permission denied") from None
    except IsADirectoryError:
        raise IngestError("is a directory") from None
    except FileNotFoundError:
        raise IngestError("no such file") from None
    except OSError as exc:
        raise IngestError(exc.strerror or str(exc)) from None
    if not data.strip():
        raise IngestError("empty file" if not data else "file holds only whitespace")
    fallback = path.stem
    if kind == "pdf":
        title, sections, meta = load_pdf(data, fallback)
    else:
        text = decode_text(data)
        loader = {"markdown": load_markdown, "text": load_text, "html": load_html}[kind]
        title, sections, meta = loader(text, fallback)
    if not any(s.text.strip() for s in sections):
        raise IngestError("no text found in the file")
    claims = _claims_of(meta.get("claims"))
    all_text = " ".join(s.text for s in sections[:20])
    return Document(
        doc_id=doc_id or str(meta.get("id") or "") or slug(path.stem),
        title=title,
        source=source or str(path),
        content_hash=content_hash(data),
        size=len(data),
        sections=sections,
        claims=claims,
        language=str(meta.get("language") or language_of(all_text)),
        meta=meta,
    )


# ---------------------------------------------------------------- chunker

# Sentence ends: Latin . ! ? followed by space, or Japanese 。！？ (no space follows them)
_SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![。！？!?」』）)])|(?<=[.!?])\s+(?=[\"'(\[A-Z0-9\u3040-\u9fff])")


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        for line in _logical_lines(para):
            out.extend(s.strip() for s in _SENTENCE_END.split(line) if s and s.strip())
    return out


def _logical_lines(para: str) -> Iterator[str]:
    """Join wrapped lines of a paragraph, but keep list items and table rows apart."""
    buf: list[str] = []
    for line in para.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if re.match(r"^([-*+•]|\d+[.)]|\|)\s*", stripped) and buf:
            yield " ".join(buf)
            buf = []
        joiner_cjk = buf and _CJK.match(buf[-1][-1:] or "") and _CJK.match(stripped[:1])
        if joiner_cjk:
            buf[-1] += stripped
        else:
            buf.append(stripped)
    if buf:
        yield " ".join(buf)


def _hard_split(sentence: str, limit: int, count: Callable[[str], int]) -> list[str]:
    """Split one over-long sentence at words (or characters for CJK) to fit the limit."""
    units = re.findall(r"\S+\s*", sentence) if " " in sentence else list(sentence)
    pieces: list[str] = []
    buf = ""
    for unit in units:
        if buf and count(buf + unit) > limit:
            pieces.append(buf.strip())
            buf = ""
        buf += unit
    if buf.strip():
        pieces.append(buf.strip())
    return pieces


def chunk_document(doc: Document, count_tokens: Callable[[str], int],
                   max_tokens: int = 200, overlap_sentences: int = 1) -> list[Chunk]:
    """Chunks that follow sections, then sentences, each at most ``max_tokens`` embedder tokens.

    Consecutive chunks of one section share ``overlap_sentences`` sentence(s), so a fact that
    straddles a boundary is still found whole in one of them.
    """
    chunks: list[Chunk] = []
    for section in doc.sections:
        sentences: list[str] = []
        for s in split_sentences(section.text):
            sentences.extend(_hard_split(s, max_tokens, count_tokens) if count_tokens(s) > max_tokens
                             else [s])
        buf: list[str] = []
        buf_tokens = 0
        emitted_upto = 0  # sentences of buf already emitted in a previous chunk (overlap)

        def emit() -> None:
            text = _join(buf)
            chunks.append(Chunk(len(chunks), text, section.heading,
                                tuple(section.claims), language_of(text), section.page))

        for sent in sentences:
            t = count_tokens(sent)
            if buf and buf_tokens + t > max_tokens:
                emit()
                keep = buf[-overlap_sentences:] if overlap_sentences else []
                if sum(count_tokens(k) for k in keep) + t > max_tokens:
                    keep = []
                buf, buf_tokens = list(keep), sum(count_tokens(k) for k in keep)
                emitted_upto = len(buf)
            buf.append(sent)
            buf_tokens += t
        if buf and len(buf) > emitted_upto:
            emit()
    return chunks


def _join(sentences: list[str]) -> str:
    out = ""
    for s in sentences:
        if out and not (_CJK.match(out[-1]) or out[-1] in "。！？」") :
            out += " "
        elif out and not _CJK.match(s[:1]):
            out += " "
        out += s
    return out
