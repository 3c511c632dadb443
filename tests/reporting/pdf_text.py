"""The text of each page of a PDF printed by Chromium, with where it stands on the page.

Just enough PDF for Skia's output: FlateDecode streams, Type0 fonts with a ToUnicode map, text
shown glyph by glyph with `<hex> Tj`, and `cm` transforms nested in `q`/`Q`. No PDF library is
needed for the browser tests, and any other layout fails loudly rather than reading nothing.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

_OBJECT = re.compile(rb"(\d+) 0 obj\s*(.*?)endobj", re.S)
_TOKEN = re.compile(rb"<[0-9A-Fa-f]*>|/[^\s/<>\[\]()]+|[-+]?\d*\.?\d+|[A-Za-z*']+|\S")


@dataclass(frozen=True, slots=True)
class Line:
    y: float  # from the top of the page, in points
    text: str


@dataclass(frozen=True, slots=True)
class Page:
    height: float
    lines: list[Line]  # one per text object (BT … ET), top to bottom

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _stream(body: bytes) -> bytes:
    start = body.index(b"stream") + len(b"stream")
    raw = body[start : body.rindex(b"endstream")].strip(b"\r\n")
    return zlib.decompress(raw) if b"FlateDecode" in body else raw


def _unicode_map(cmap: str) -> dict[int, str]:
    glyphs: dict[int, str] = {}
    for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
        for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            glyphs[int(code, 16)] = bytes.fromhex(text).decode("utf-16-be")
    for block in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
        for first, last, text in re.findall(
            r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
        ):
            start = int(text, 16)
            for offset, code in enumerate(range(int(first, 16), int(last, 16) + 1)):
                glyphs[code] = chr(start + offset)
    return glyphs


def _ref(body: bytes, key: bytes) -> int:
    found = re.search(rb"/" + key + rb" (\d+) 0 R", body)
    assert found, f"no /{key.decode()} in {body[:200]!r}"
    return int(found.group(1))


def _multiply(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """a × b for PDF matrices (a b c d e f)."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def _lines(content: bytes, fonts: dict[str, dict[int, str]], height: float) -> list[Line]:
    identity = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    ctm, stack, operands = identity, [], []
    font: dict[int, str] = {}
    lines: list[Line] = []
    text, y = "", 0.0
    for token in _TOKEN.findall(content):
        word = token.decode("latin-1")
        if word == "q":
            stack.append(ctm)
        elif word == "Q":
            ctm = stack.pop()
        elif word == "cm":
            ctm = _multiply(tuple(float(v) for v in operands[-6:]), ctm)
        elif word == "BT":
            text = ""
        elif word == "Tf":
            font = fonts[operands[-2].lstrip("/")]
        elif word == "Tm":
            e, f = float(operands[-2]), float(operands[-1])
            y = height - (e * ctm[1] + f * ctm[3] + ctm[5])
        elif word == "Tj":
            code = bytes.fromhex(operands[-1].strip("<>"))
            glyphs = (int.from_bytes(code[i : i + 2]) for i in range(0, len(code), 2))
            text += "".join(font.get(glyph, "?") for glyph in glyphs)
        elif word == "ET":
            lines.append(Line(round(y, 1), text))
        if word[0].isalpha() and word not in ("true", "false"):
            operands = []
        else:
            operands.append(word)
    return sorted(lines, key=lambda line: line.y)


def _page_order(objects: dict[int, bytes]) -> list[int]:
    """Page objects in reading order, from the page tree's /Kids."""
    root = next(body for body in objects.values() if re.search(rb"/Type /Catalog\b", body))

    def walk(number: int) -> list[int]:
        body = objects[number]
        if re.search(rb"/Type /Page\b", body):
            return [number]
        kids = re.search(rb"/Kids \[([^\]]*)\]", body)
        assert kids, "a page tree node without /Kids"
        return [page for kid in re.findall(rb"(\d+) 0 R", kids.group(1)) for page in walk(int(kid))]

    return walk(_ref(root, b"Pages"))


def pages(pdf: Path) -> list[Page]:
    data = pdf.read_bytes()
    objects = {int(m.group(1)): m.group(2) for m in _OBJECT.finditer(data)}
    result = []
    for number in _page_order(objects):
        body = objects[number]
        box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", body)
        assert box, "a page without a MediaBox"
        height = float(box.group(2))
        resources = re.search(rb"/Font <<(.*?)>>", body, re.S)
        assert resources, "a page without fonts"
        fonts = {
            name.decode(): _unicode_map(
                _stream(objects[_ref(objects[int(ref)], b"ToUnicode")]).decode("latin-1")
            )
            for name, ref in re.findall(rb"/(\w+) (\d+) 0 R", resources.group(1))
        }
        content = _stream(objects[_ref(body, b"Contents")])
        result.append(Page(height, _lines(content, fonts, height)))
    return result
