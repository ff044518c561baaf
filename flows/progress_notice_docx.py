"""Writing the notice's blocks as a Word document laid out as GB/T 9704-2012 asks.

A4; margins 37/35/28/26 mm (top/bottom/left/right); title 2号 (22 pt) 小标宋; body 3号
(16 pt) 仿宋 at a fixed 28.95 pt line spacing (22 lines a page); "一、" in 黑体, "（一）" in
楷体, "1." in 仿宋; page numbers "— 1 —" in 4号 (14 pt) 宋体 on the outer side: right on
odd pages, left on even ones (different odd and even footers, each with a PAGE field).

The official fonts are named, not embedded: Word or WPS on an office computer renders them;
elsewhere a CJK fallback (such as Noto CJK) stands in. Every run names its East Asian font
(`w:rFonts/@w:eastAsia`), since Word ignores the Latin font name for Chinese characters.
"""

import os
import tempfile
import unicodedata
from itertools import pairwise
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt
from docx.text.paragraph import Paragraph

from flows.progress_notice_markup import Block, Kind

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGINS = {"top": Mm(37), "bottom": Mm(35), "left": Mm(28), "right": Mm(26)}
# The footer's distance from the page's bottom edge puts the page number's dash ~7 mm below
# the text block, where GB/T 9704 7.5 wants it.
HEADER_DISTANCE, FOOTER_DISTANCE = Mm(15), Mm(24.5)

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"

TITLE_SIZE = 22.0  # 2号
BODY_SIZE = 16.0  # 3号
PAGE_NUMBER_SIZE = 14.0  # 4号
LINE_SPACING = Pt(28.95)  # fixed; 22 lines fill the 225 mm text block
LINE_PITCH_TWIPS = 579  # the same 28.95 pt, for the document grid
# 16 pt characters set 28 to a 156 mm line only when condensed by 0.25 pt (in twentieths
# of a point); a character grid would do the same in Word but LibreOffice misreads it.
BODY_CONDENSE = -5

FONTS = {
    Kind.TITLE: (TITLE_FONT, TITLE_SIZE),
    Kind.HEADING1: (HEADING1_FONT, BODY_SIZE),
    Kind.HEADING2: (HEADING2_FONT, BODY_SIZE),
    Kind.HEADING3: (BODY_FONT, BODY_SIZE),
    Kind.PARA: (BODY_FONT, BODY_SIZE),
    Kind.SIGNATURE: (BODY_FONT, BODY_SIZE),
    Kind.DATE: (BODY_FONT, BODY_SIZE),
    Kind.BLANK: (BODY_FONT, BODY_SIZE),
}
INDENTED = (Kind.HEADING1, Kind.HEADING2, Kind.HEADING3, Kind.PARA)


def write_notice_docx(blocks: list[Block], path: Path) -> Path:
    """Write the blocks to `path` (replaced atomically, so a failed write leaves no half file)."""
    document = Document()
    _set_up_page(document)
    _set_up_defaults(document)
    _add_page_numbers(document)
    body = document.element.body
    for paragraph in list(body.iterchildren(qn("w:p"))):  # the template's empty paragraph
        body.remove(paragraph)
    for index, block in enumerate(blocks):
        previous = blocks[index - 1] if index > 0 else None
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        _add_block(document, block, previous, following)
    _set_properties(document, blocks)
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=".notice-", suffix=".docx", dir=path.parent)
    os.close(handle)
    try:
        document.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


# --- Page, defaults and page numbers ----------------------------------------------------


def _set_up_page(document: DocxDocument) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance, section.footer_distance = HEADER_DISTANCE, FOOTER_DISTANCE
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))


def _set_up_defaults(document: DocxDocument) -> None:
    """Normal style: 3号仿宋, Chinese language, fixed line spacing, no paragraph gaps."""
    normal = document.styles["Normal"]
    _set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)
    normal.font.size = Pt(BODY_SIZE)
    rpr = normal.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "zh-CN")
    lang.set(qn("w:eastAsia"), "zh-CN")
    _fixed_lines(normal.paragraph_format)


def _add_page_numbers(document: DocxDocument) -> None:
    """ "— 1 —" on the outer side: odd pages right, even pages left, each 空一字 from the edge."""
    document.settings.odd_and_even_pages_header_footer = True
    section = document.sections[0]
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph.alignment = alignment
        fmt = paragraph.paragraph_format
        fmt.space_before = fmt.space_after = Pt(0)
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
        indent = Pt(PAGE_NUMBER_SIZE)
        if alignment == WD_ALIGN_PARAGRAPH.RIGHT:
            fmt.right_indent = indent
        else:
            fmt.left_indent = indent
        _add_run(paragraph, "— ", PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        _add_page_field(paragraph)
        _add_run(paragraph, " —", PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)


def _add_page_field(paragraph: Paragraph) -> None:
    """A PAGE field (begin, instruction, separate, shown value, end), in the page number font."""
    parts: list[tuple[str, str | None]] = [
        ("begin", None),
        ("instr", " PAGE "),
        ("separate", None),
        ("text", "1"),
        ("end", None),
    ]
    for kind, text in parts:
        run = _add_run(paragraph, "", PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        if kind == "text":
            run.text = text or ""
        elif kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._element.append(instr)
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._element.append(char)


# --- Blocks -------------------------------------------------------------------------------


def _add_block(
    document: DocxDocument, block: Block, previous: Block | None, following: Block | None
) -> None:
    paragraph = document.add_paragraph()
    fmt = paragraph.paragraph_format
    _fixed_lines(fmt)
    font, size = FONTS[block.kind]
    if block.kind == Kind.TITLE:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    elif block.kind in INDENTED:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        fmt.first_line_indent = _chars(2)
        paragraph._p.get_or_add_pPr().get_or_add_ind().set(qn("w:firstLineChars"), "200")
    elif block.kind == Kind.SIGNATURE:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        date = following if following and following.kind == Kind.DATE else None
        fmt.right_indent = _chars(_signature_indent(block, date))
    elif block.kind == Kind.DATE:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        signature = previous if previous and previous.kind == Kind.SIGNATURE else None
        fmt.right_indent = _chars(_date_indent(block, signature))
    if block.kind == Kind.BLANK:
        _add_run(paragraph, "", font, size)
        return
    if block.text:
        _add_run(paragraph, block.text, font, size)
    if block.rest:
        _add_run(paragraph, block.rest, BODY_FONT, BODY_SIZE)


def _fixed_lines(fmt) -> None:
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_SPACING
    fmt.space_before = fmt.space_after = Pt(0)


def _chars(n: float) -> Length:
    """n characters of body text, the unit of indents ("空二字")."""
    return Pt(n * BODY_SIZE)


def _width(text: str) -> float:
    """Width in body characters: Chinese and full-width take one, digits and Latin half,
    plus the quarter character Word and LibreOffice put between Chinese and digits/Latin
    (autoSpaceDN/autoSpaceDE, on by default): "2026年9月14日" is 6.5 + 5 × 0.25."""

    def is_wide(char: str) -> bool:
        return unicodedata.east_asian_width(char) in "FW"

    gaps = sum(
        is_wide(a) != is_wide(b) and (b if is_wide(a) else a).isalnum() for a, b in pairwise(text)
    )
    return sum(1.0 if is_wide(c) else 0.5 for c in text) + 0.25 * gaps


# GB/T 9704 7.3.5.1: the signature stands 空二字 from the right; the date below it starts two
# characters right of the signature's first character, and stands at least 空二字 from the
# right (a date longer than that pushes the signature left instead).
def _signature_indent(signature: Block, date: Block | None) -> float:
    if date is None:
        return 2.0
    return max(2.0, 4.0 + _width(date.text) - _width(signature.text))


def _date_indent(date: Block, signature: Block | None) -> float:
    if signature is None:
        return 4.0
    return max(2.0, _width(signature.text) - _width(date.text))


def _set_properties(document: DocxDocument, blocks: list[Block]) -> None:
    properties = document.core_properties
    properties.title = "".join(b.text for b in blocks if b.kind == Kind.TITLE)
    properties.author = next((b.text for b in blocks if b.kind == Kind.SIGNATURE), "")
    properties.last_modified_by = properties.author
    properties.comments = ""
    properties.language = "zh-CN"


# --- Runs ---------------------------------------------------------------------------------


def _add_run(paragraph: Paragraph, text: str, font: str, size: float):
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    rpr = run._element.get_or_add_rPr()
    _set_fonts(rpr, font)
    if size == BODY_SIZE:
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), str(BODY_CONDENSE))
        rpr.insert_element_before(
            spacing, "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u"
        )
    return run


def _set_fonts(rpr, font: str) -> None:
    """Name the font for every script; `hint` makes quotes and dashes use the Chinese font."""
    fonts = rpr.get_or_add_rFonts()
    for script in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{script}"), font)
    fonts.set(qn("w:hint"), "eastAsia")
    for theme in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{theme}"), None)
