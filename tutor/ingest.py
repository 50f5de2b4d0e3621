"""Loaders (Markdown, text, HTML; PDF in :mod:`tutor.pdf`) and the chunker.

Everything here is pure: files in, :class:`Document` and :class:`Chunk` out. Nothing is
embedded or stored here (that is :mod:`tutor.index`).
"""
from __future__ import annotations

import codecs
import contextlib
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
    authors: str = ""

    @property
    def text_hash(self) -> str:
        """A hash of the normalised text (NFKC, case and whitespace folded): two downloads of
        one paper (different bytes, same text) share it."""
        h = hashlib.sha256()
        for s in self.sections:
            h.update("".join(unicodedata.normalize("NFKC", s.text).casefold().split()).encode())
        return h.hexdigest()


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

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def language_of(text: str) -> str:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for c in letters if CJK.match(c))
    return "ja" if cjk / len(letters) > 0.15 else "en"


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-")
    return text[:48] or "doc"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16:
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),   # FF FE 00 00
         (codecs.BOM_UTF16_BE, "utf-16"))                                     # starts with FF FE
_KANA = re.compile(r"[\u3040-\u30ff\u3000-\u303f\uff01-\uff5e]")  # kana, CJK and full-width punctuation


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode bytes in any common encoding (detected, not assumed); raise IngestError for
    binary data.

    Order: a byte-order mark (UTF-8, UTF-16, UTF-32); UTF-32 or UTF-16 without one, told by
    the pattern of zero bytes (:func:`_wide_unicode`); ISO-2022-JP escapes; strict UTF-8; a
    charset the file declares (HTML ``<meta charset>``); then UTF-16 without a BOM, Shift_JIS
    (cp932) and EUC-JP, each decoded strictly and scored on how much the result reads like
    text (Japanese text is mostly kana, kanji and ASCII; a wrong guess gives half-width katakana,
    Hangul or kanji without a single kana); last, charset-normalizer's guess.
    """
    if not data.strip():
        raise IngestError("empty file" if not data else "file holds only whitespace")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(enc))
            except UnicodeDecodeError:
                raise IngestError(f"not valid {enc.upper()} text although it starts with a "
                                  "byte-order mark") from None
    head = data[:65536]
    wide = _wide_unicode(head)
    if wide and len(data) % (4 if "32" in wide else 2) == 0:
        with contextlib.suppress(UnicodeDecodeError, IngestError):
            return _check_text(data.decode(wide))
    if b"\x1b$B" in head or b"\x1b$@" in head or b"\x1b(J" in head:
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return _check_text(data.decode("iso2022_jp_ext"))
    if b"\x00" not in head:
        try:
            return _check_text(data.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    if declared:
        with contextlib.suppress(UnicodeDecodeError, LookupError):
            return _check_text(data.decode(declared))
    best: tuple[float, float, str] | None = None
    for enc in ("utf-16-le", "utf-16-be", "cp932", "euc_jp"):
        if enc.startswith("utf-16") and len(data) % 2:
            continue
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        plausible, kana = _text_scores(text)
        if plausible >= 0.95 and kana >= 0.1:
            if best is None or (kana, plausible) > best[:2]:
                best = (kana, plausible, text)
    if best is not None:
        return _check_text(best[2])
    if b"\x00" in head:
        raise IngestError("binary data, not text")
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    guess = matches.best()
    if guess is None:
        raise IngestError("binary data, not text (no text encoding fits)")
    # on short Western text the detector cannot tell cp1252 from cp1257 or cp775: when cp1252
    # reads the bytes as cleanly as its first choice, take the far more common cp1252
    for match in matches:
        if "cp1252" in match.could_be_from_charset and match.chaos <= guess.chaos + 0.01:
            guess = match
            break
    return _check_text(str(guess))


def _wide_unicode(head: bytes) -> str | None:
    """UTF-32 or UTF-16 without a byte-order mark, told by where the zero bytes fall: text that
    is partly ASCII (as HTML always is) has a zero in the high bytes of most of its code units
    and almost never in the low ones; other text has no such pattern."""
    n = len(head) - len(head) % 4
    if n < 16:
        return None
    z = [head[k:n:4].count(0) / (n // 4) for k in range(4)]  # share of zeros at offset k mod 4
    if z[2] > 0.95 and z[3] > 0.95 and z[0] < 0.5:
        return "utf-32-le"
    if z[0] > 0.95 and z[1] > 0.95 and z[3] < 0.5:
        return "utf-32-be"
    if min(z[1], z[3]) > 0.2 and max(z[0], z[2]) < 0.1:  # a CJK unit's low byte is rarely 0
        return "utf-16-le"
    if min(z[0], z[2]) > 0.2 and max(z[1], z[3]) < 0.1:
        return "utf-16-be"
    return None


def _text_scores(text: str) -> tuple[float, float]:
    """(share of characters that are ordinary text, share of the non-ASCII ones that are kana,
    CJK punctuation or accented Latin letters, i.e. not kanji); no non-ASCII counts as 1."""
    sample = text[:20000]
    if not sample:
        return 0.0, 0.0
    plain = non_ascii = kana = 0
    for c in sample:
        if c.isascii():
            if c.isprintable() or c in "\n\r\t\f":
                plain += 1
            continue
        non_ascii += 1
        if _KANA.match(c) or (c.isalpha() and c < "\u0250"):  # kana, accented Latin
            kana += 1
            plain += 1
        elif "\u4e00" <= c <= "\u9fff":  # kanji: real, or what a wrong guess makes of pairs
            plain += 1
    return plain / len(sample), (kana / non_ascii if non_ascii else 1.0)


def _declared_charset(data: bytes) -> str | None:
    """The charset an HTML file declares in a meta tag, if any."""
    match = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", data[:4096], re.I)
    if not match:
        return None
    name = match.group(1).decode("ascii", "replace").lower()
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


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
            mark = _CLAIM_MARK.search(line)  # "## Title <!-- claims: 3 -->"
            if mark:
                claims = _claims_of(mark.group(1))
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
    # head is not skipped as a whole: a page that never closes <head> would lose its body;
    # what matters in it (script, style) is skipped by name, the title is kept
    SKIP = {"script", "style", "noscript", "template", "svg", "math", "object", "iframe"}
    BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "ul", "ol",
             "table", "header", "footer", "main", "nav"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.authors = ""
        self.sections: list[Section] = []
        self._heading = ""
        self._buf: list[str] = []
        self._skip = 0
        self._in_title = False
        self._in_h: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "meta":
            named = dict(attrs)
            if (named.get("name") or "").lower() in ("author", "citation_author", "dc.creator"):
                author = " ".join((named.get("content") or "").split())
                if author and author not in self.authors:
                    self.authors = f"{self.authors}, {author}" if self.authors else author
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
    title = " ".join(parser.title.split()) or fallback_title
    for s in parser.sections:
        s.heading = s.heading or title
    return title, parser.sections, {"authors": parser.authors} if parser.authors else {}


class PasswordError(IngestError):
    """An encrypted PDF that needs a password: none was given (``given`` False) or it is wrong."""

    def __init__(self, message: str, given: bool) -> None:
        super().__init__(message)
        self.given = given


def _megabytes(n: int) -> str:
    mb = n / 1e6
    return f"{mb:.1f} MB" if mb >= 10 else f"{mb:.3g} MB"


def load_document(path: Path, *, doc_id: str | None = None, source: str | None = None,
                  max_bytes: int | None = None, password: str | None = None) -> Document:
    """Read one file into a Document, or raise IngestError with the reason; ``password``
    opens an encrypted PDF (it is used for nothing else and kept nowhere)."""
    kind = SUPPORTED.get(path.suffix.lower())
    if kind is None:
        raise IngestError(f"unsupported type {path.suffix or '(no extension)'!r}; "
                          f"supported: {', '.join(sorted(SUPPORTED))}")
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise IngestError(f"file is {_megabytes(size)}, over the size limit of "
                              f"{_megabytes(max_bytes)} (max_file_mb in the config file, or "
                              "TUTOR_MAX_FILE_MB)")
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
        from .pdf import load_pdf  # imported here: tutor.pdf builds on this module

        title, sections, meta = load_pdf(data, fallback, password)
    else:
        text = decode_text(data, _declared_charset(data) if kind == "html" else None)
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
        authors=str(meta.get("authors") or meta.get("author") or ""),
    )


# ---------------------------------------------------------------- chunker

# Sentence ends: Latin . ! ? followed by space, or Japanese 。！？ (no space follows them)
_SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![。！？!?」』）)])|(?<=[.!?])\s+(?=[\"'(\[A-Z0-9\u3040-\u9fff「『（“])")


# "Li et al. 2023", "e.g. scaling": a full stop that ends no sentence (also used by tutor.gate)
ABBREVIATION = re.compile(r"(?:\bet al|\be\.g|\bi\.e|\bvs|\bcf|\bFig|\bNo|\bDr|\bMr|\bMs|\bSt)\.$")


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        for line in _logical_lines(para):
            for piece in (s.strip() for s in _SENTENCE_END.split(line)):
                if not piece:
                    continue
                if out and ABBREVIATION.search(out[-1]) and out[-1] in line:
                    out[-1] = f"{out[-1]} {piece}"  # "Li et al. 2023" is one sentence
                else:
                    out.append(piece)
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
        joiner_cjk = buf and CJK.match(buf[-1][-1:] or "") and CJK.match(stripped[:1])
        if joiner_cjk:
            buf[-1] += stripped
        else:
            buf.append(stripped)
    if buf:
        yield " ".join(buf)


def _hard_split(sentence: str, limit: int, count: Callable[[str], int]) -> list[str]:
    """Split one over-long sentence at words (or characters for CJK) to fit the limit.

    Latin text is counted a word at a time and summed: WordPiece splits at whitespace first, so
    the sum is exact, and linear (counting the growing buffer is quadratic: minutes on a long
    PDF whose lines never end a sentence). Text with CJK characters keeps the exact count of the
    growing buffer, since kana runs are not additive.
    """
    spaced = " " in sentence
    units = re.findall(r"\S+\s*", sentence) if spaced else list(sentence)
    additive = spaced and not CJK.search(sentence)
    seen: dict[str, int] = {}
    pieces: list[str] = []
    buf, used = "", 0
    for unit in units:
        if additive:
            key = unit.strip()
            if key not in seen:
                seen[key] = count(key)
            t = seen[key]
            over = bool(buf) and used + t > limit
        else:
            t = 0
            over = bool(buf) and count(buf + unit) > limit
        if over:
            pieces.append(buf.strip())
            buf, used = "", 0
        buf += unit
        used += t
    if buf.strip():
        pieces.append(buf.strip())
    return pieces


def chunk_document(doc: Document, count_tokens: Callable[[str], int],
                   max_tokens: int = 200, overlap_sentences: int = 1) -> list[Chunk]:
    """Chunks that follow sections, then sentences, each at most ``max_tokens`` embedder tokens.

    Consecutive chunks of one section share ``overlap_sentences`` sentence(s), so a fact that
    straddles a boundary is still found whole in one of them.
    """
    # all-MiniLM's WordPiece turns a long kana run into one [UNK]: never count a CJK text as
    # fewer than one token per two characters, so a Japanese chunk cannot grow without bound
    raw_count = count_tokens
    memo: dict[str, int] = {}

    def count_tokens(text: str) -> int:  # noqa: F811 - the guarded, memoised count used below
        if text not in memo:
            memo[text] = max(raw_count(text), len(CJK.findall(text)) // 2)
        return memo[text]

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
    """Sentences back into text; a piece without an end mark (a caption, a heading-like line)
    keeps a paragraph break so it is not glued to the next sentence."""
    out = ""
    for s in sentences:
        if out and out[-1] not in "。！？」』.!?:;)）\"'":
            out += "\n\n"
        elif out and not (CJK.match(out[-1]) or out[-1] in "。！？」』") or (out and not CJK.match(s[:1])):
            out += " "
        out += s
    return out
