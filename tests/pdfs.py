"""Tricky PDFs made by hand for the PDF tests: Japanese text in fonts that are not embedded
(Shift_JIS, EUC-JP and JIS character maps, horizontal and vertical), a paper laid out like an
arXiv preprint (a large title, the rotated arXiv stamp, ligatures mapped through ToUnicode,
words hyphenated at line ends, a running header and page numbers), a broken cross-reference
table. Encrypted copies come from test_ingest.encrypt_pdf.
"""
from __future__ import annotations

# the standard Adobe character maps PDF readers ship, and the Python codec that makes their bytes
CJK_CMAPS = {"90ms-RKSJ-H": "cp932", "90ms-RKSJ-V": "cp932", "EUC-H": "euc_jp",
             "EUC-V": "euc_jp", "H": "jis", "V": "jis"}


def assemble(objects: list[bytes], root: int, info: int | None = None) -> bytes:
    """A PDF file from its numbered objects (object n is ``objects[n - 1]``)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info:
        out += b" /Info %d 0 R" % info
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _page_tree(objects: list[bytes], contents: list[bytes], resources: bytes) -> int:
    """Append one page per content stream and the page tree; returns the catalog's number."""
    pages_id = len(objects) + 2 * len(contents) + 1
    kids = []
    for content in contents:
        objects.append(_stream(content))
        objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources %s >>" % (pages_id, len(objects), resources))
        kids.append(len(objects))
    objects.append(b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                   + b"] /Count %d >>" % len(kids))
    objects.append(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    return len(objects)


def _cjk_bytes(text: str, codec: str) -> bytes:
    if codec == "jis":  # the JIS cmaps take the two-byte JIS X 0208 codes, without escapes
        return text.encode("iso2022_jp").replace(b"\x1b$B", b"").replace(b"\x1b(B", b"")
    return text.encode(codec)


def make_cjk_pdf(lines: list[str], cmap: str, per_char: bool = False) -> bytes:
    """Japanese lines in MS-Mincho, a font named but not embedded (Adobe-Japan1 CIDs through a
    predefined cmap), written vertically (columns right to left) for the ``-V`` cmaps; with
    ``per_char``, one text object a character, as some typesetters write them."""
    codec = CJK_CMAPS[cmap]
    vertical = cmap.endswith("V")
    objects = [
        b"<< /Type /FontDescriptor /FontName /MS-Mincho /Flags 6 /FontBBox [0 -141 1000 859] "
        b"/ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 700 /StemV 80 >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MS-Mincho /CIDSystemInfo << /Registry "
        b"(Adobe) /Ordering (Japan1) /Supplement 2 >> /FontDescriptor 1 0 R /DW 1000 >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /MS-Mincho /Encoding /%s "
        b"/DescendantFonts [2 0 R] >>" % cmap.encode(),
    ]
    ops = []
    for i, line in enumerate(lines):
        x, y = (550 - 18 * i, 750) if vertical else (40, 750 - 16 * i)
        for j, piece in enumerate(line if per_char else [line]):
            dx, dy = (0, -13 * j) if vertical else (13 * j, 0)
            ops.append(b"BT /F1 12 Tf %d %d Td <%s> Tj ET"
                       % (x + dx, y + dy, _cjk_bytes(piece, codec).hex().encode()))
    root = _page_tree(objects, [b"\n".join(ops)], b"<< /Font << /F1 3 0 R >> >>")
    return assemble(objects, root)


# a Type 1 font whose codes 1-4 are the ligatures fi, ffi, fl, ff, mapped by ToUnicode to the
# ligature characters U+FB01, U+FB03, U+FB02, U+FB00, as pdfTeX's fonts are
_TOUNICODE = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Custom def 1 begincodespacerange <00> <FF> endcodespacerange
4 beginbfchar <01> <FB01> <02> <FB03> <03> <FB02> <04> <FB00> endbfchar
1 beginbfrange <20> <7E> <0020> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end"""
LIGATURES = {"fi": "\x01", "ffi": "\x02", "fl": "\x03", "ff": "\x04"}


def _ligatured(text: str) -> bytes:
    for plain, code in sorted(LIGATURES.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(plain, code)
    esc = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return esc.encode("latin-1")


def make_paper_pdf(title: str, authors: str, pages: list[list[str]], *,
                   meta_title: str | None = None, meta_author: str | None = None,
                   stamp: str = "arXiv:2001.08361v1  [cs.LG]  23 Jan 2020") -> bytes:
    """A paper: the title (17 pt) and authors (11 pt) atop page 1, the arXiv stamp rotated in
    the left margin (20 pt), body lines in 10 pt with ligatures, a running header and a page
    number on every page."""
    objects = [
        _stream(_TOUNICODE),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding << /Type /Encoding "
        b"/BaseEncoding /WinAnsiEncoding /Differences [1 /fi /ffi /fl /ff] >> /ToUnicode 1 0 R >>",
    ]
    contents = []
    for n, lines in enumerate(pages, 1):
        ops = [b"BT /F1 8 Tf 200 770 Td (%s) Tj ET" % _ligatured("Under review as a conference "
                                                                   "paper")]
        y = 720
        if n == 1:
            ops.append(b"BT /F1 17 Tf 120 %d Td (%s) Tj ET" % (y, _ligatured(title)))
            ops.append(b"BT /F1 11 Tf 150 %d Td (%s) Tj ET" % (y - 30, _ligatured(authors)))
            ops.append(b"BT /F1 20 Tf 0 1 -1 0 32 250 Tm (%s) Tj ET" % stamp.encode())
            y -= 70
        for line in lines:
            ops.append(b"BT /F1 10 Tf 72 %d Td (%s) Tj ET" % (y, _ligatured(line)))
            y -= 12
        ops.append(b"BT /F1 10 Tf 300 40 Td (%d) Tj ET" % n)
        contents.append(b"\n".join(ops))
    root = _page_tree(objects, contents, b"<< /Font << /F1 2 0 R >> >>")
    info = None
    if meta_title is not None or meta_author is not None:
        fields = b""
        if meta_title is not None:
            fields += b" /Title (" + meta_title.encode("latin-1") + b")"
        if meta_author is not None:
            fields += b" /Author (" + meta_author.encode("latin-1") + b")"
        objects.append(b"<<" + fields + b" >>")
        info = len(objects)
    return assemble(objects, root, info)


def break_xref(data: bytes) -> bytes:
    """The same PDF with every cross-reference offset wrong and startxref pointing nowhere, as
    files edited by hand or cut and mended by tools often are."""
    head, _, tail = data.rpartition(b"xref\n")
    table, _, trailer = tail.partition(b"trailer")
    rows = [row for row in table.split(b"\n") if row]
    broken = [rows[0]] + [b"%010d %s" % (int(r[:10]) + 7, r[11:]) if r.endswith(b"n ") else r
                          for r in rows[1:]]
    trailer = trailer.replace(b"startxref\n", b"startxref\n9").rstrip() + b"\n"
    return head + b"xref\n" + b"\n".join(broken) + b"\ntrailer" + trailer

