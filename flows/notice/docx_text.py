"""A Word document (.docx) as the lines a notice parser reads.

Paragraphs in order, tables row by row (a ledger table becomes the same outline as
prose), Word's automatic list numbers written out, tracked insertions kept and deletions
dropped.
"""

import io
import re
import zipfile
from typing import Any

from flows.notice.lines import CN_ORDINAL, int_to_cn, outline_match
from models.errors import BadInput

ZIP_MAGIC = b"PK\x03\x04"

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

_RUN_PATHS = ("w:r", "w:hyperlink/w:r", "w:ins/w:r", "w:smartTag/w:r", "w:fldSimple/w:r")

_LEADING_MARKER = re.compile(
    rf"^\s*(?:{CN_ORDINAL}是|[（(]\s*(?:\d{{1,3}}|{CN_ORDINAL})\s*[）)]|\d{{1,3}}\s*[.．、](?!\d)"
    rf"|[\u2460-\u2473]|{CN_ORDINAL}\s*、)\s*"
)


def zip_complaint(data: bytes) -> str:
    """What a zip archive that is not a Word document is, in the user's words."""
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        names = []
    if any(name.startswith("xl/") for name in names):
        return "这是 Excel 表格，不是通报正文：请提供通报的 .txt 或 .docx 文件"
    if any(name.startswith("ppt/") for name in names):
        return "这是 PowerPoint 演示文稿，不是通报正文：请提供通报的 .txt 或 .docx 文件"
    return "这是压缩文件，不是通报正文：请提供通报的 .txt 或 .docx 文件"


def read_docx_text(data: bytes) -> str:
    """A Word document's text, one line per paragraph, tables row by row, in order.

    Empty paragraphs are skipped; automatic list numbering ("1." produced by Word rather
    than typed) is written out, because the outline depends on it.
    """
    import docx  # imported here: only .docx input needs it
    from docx.opc.exceptions import PackageNotFoundError

    if not data.startswith(ZIP_MAGIC):
        raise BadInput(
            "不是有效的 Word 文件（.docx）：文件内容不是 Word 文档，请用 Word 另存后重试"
        )
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BadInput("不是有效的 Word 文件（.docx）：文件已损坏，请用 Word 另存后重试") from error
    if "word/document.xml" not in names:
        raise BadInput(zip_complaint(data))
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise BadInput("不是有效的 Word 文件（.docx）：文件已损坏，请用 Word 另存后重试") from error
    except Exception as error:  # lxml on a malformed part, and the like
        raise BadInput(f"无法读取 Word 文件（.docx）：{type(error).__name__}") from error
    return "\n".join(_DocxReader(document).lines())


class _DocxReader:
    """Walks a document body in order: paragraphs, tables (row by row) and content controls."""

    def __init__(self, document: Any) -> None:
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        self.document = document
        self.Paragraph, self.Table = Paragraph, Table
        self.numbering = _Numbering(document)

    def lines(self) -> list[str]:
        body = self.document.element.body
        return [line for line in self._block(body, self.document._body) if line.strip()]

    def _block(self, element: Any, parent: Any) -> list[str]:
        lines: list[str] = []
        for child in element.iterchildren():
            if child.tag == f"{_W}p":
                text = _paragraph_text(child)
                if text.strip():
                    lines.append(self.numbering.label(self.Paragraph(child, parent)) + text)
            elif child.tag == f"{_W}tbl":
                lines.extend(self._table(self.Table(child, parent)))
            elif child.tag == f"{_W}sdt":
                content = child.find(f"{_W}sdtContent")
                if content is not None:
                    lines.extend(self._block(content, parent))
        return lines

    def _rows(self, table: Any) -> list[list[list[str]]]:
        """Each row's distinct cells, each cell as its non-empty lines."""
        rows: list[list[list[str]]] = []
        for row in table.rows:
            cells: list[list[str]] = []
            seen: set[int] = set()
            for cell in row.cells:
                if id(cell._tc) in seen:  # a merged cell is returned once per grid column
                    continue
                seen.add(id(cell._tc))
                cells.append([line for line in self._block(cell._tc, cell) if line.strip()])
            rows.append(cells)
        return rows

    def _table(self, table: Any) -> list[str]:
        rows = self._rows(table)
        ledger = _ledger_table_lines(rows)
        if ledger is not None:
            return ledger
        return [line for row in rows for cell in row for line in cell]


def _paragraph_text(p: Any) -> str:
    """A paragraph's text, tracked insertions and hyperlinks included, deletions left out."""
    parts: list[str] = []
    for run in p.xpath(" | ".join(f"./{path}" for path in _RUN_PATHS)):
        for child in run.iterchildren():
            if child.tag == f"{_W}t":
                parts.append(child.text or "")
            elif child.tag == f"{_W}tab":
                parts.append("\t")
            elif child.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
    return "".join(parts)


def _ledger_table_lines(rows: list[list[list[str]]]) -> list[str] | None:
    """A ledger table (序号 | 方面 | 问题 | 整改措施 | …) written out as an outline.

    Each row becomes "N.problem" followed by its measures, and a change in the area
    column opens a "（一）area" heading. Tables that are not ledgers return None.
    """
    if len(rows) < 2:
        return None
    header = ["".join(cell) for cell in rows[0]]

    def column(pattern: str, avoid: str = "$^") -> int | None:
        for index, name in enumerate(header):
            if re.search(pattern, name) and not re.search(avoid, name):
                return index
        return None

    problem = column(r"问题|整改任务|反馈意见", avoid=r"类别|类型|方面|序号")
    measures = column(r"措施|整改情况|落实情况|整改进展|完成情况")
    if problem is None or measures is None:
        return None
    area_column = column(r"方面|类别|类型|领域")
    lines: list[str] = []
    current_area: str | None = None
    areas = items = 0
    for row in rows[1:]:

        def cell(index: int | None, row: list[list[str]] = row) -> list[str]:
            return row[index] if index is not None and index < len(row) else []

        problem_lines = cell(problem)
        if not problem_lines:
            continue
        area = "".join(cell(area_column)).strip()
        if area and area != current_area:
            current_area, areas, items = area, areas + 1, 0
            area = _strip_marker(area)
            lines.append(f"（{int_to_cn(areas)}）{area}")
        items += 1
        statement = _strip_marker("".join(problem_lines).strip())
        if not re.search(r"[。：:；;！!？?]$", statement):
            statement += "。"
        lines.append(f"{items}.{statement}")
        steps = [_strip_marker(line) for line in cell(measures)]
        if len(steps) > 1:
            lines.extend(f"（{i}）{step}" for i, step in enumerate(steps, start=1))
        else:  # one paragraph: keep its inline "一是…二是…", drop a leading "1."
            lines.extend(
                found[2] if (found := outline_match(line)) else line for line in cell(measures)
            )
    return lines


def _strip_marker(text: str) -> str:
    return _LEADING_MARKER.sub("", text, count=1).strip()


class _Numbering:
    """Word's automatic list numbers ("%1." / "（%1）"), counted the way Word counts them."""

    def __init__(self, document: Any) -> None:
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}
        self.abstract_of: dict[str, str] = {}
        self.overrides: dict[str, dict[int, int]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        self.started: set[str] = set()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for abstract in root.iterchildren(f"{_W}abstractNum"):
            levels: dict[int, tuple[str, str, int]] = {}
            for lvl in abstract.iterchildren(f"{_W}lvl"):
                levels[int(lvl.get(f"{_W}ilvl", "0"))] = (
                    _val(lvl, "numFmt") or "decimal",
                    _val(lvl, "lvlText") or "",
                    int(_val(lvl, "start") or "1"),
                )
            self.levels[abstract.get(f"{_W}abstractNumId", "")] = levels
        for num in root.iterchildren(f"{_W}num"):
            num_id = num.get(f"{_W}numId", "")
            self.abstract_of[num_id] = _val(num, "abstractNumId") or ""
            for override in num.iterchildren(f"{_W}lvlOverride"):
                start = _val(override, "startOverride")
                if start is not None:
                    level = int(override.get(f"{_W}ilvl", "0"))
                    self.overrides.setdefault(num_id, {})[level] = int(start)

    def label(self, paragraph: Any) -> str:
        num_id, level = self._num_pr(paragraph)
        if num_id is None or num_id == "0" or num_id not in self.abstract_of:
            return ""
        abstract = self.abstract_of[num_id]
        levels = self.levels.get(abstract, {})
        if level not in levels:
            return ""
        counters = self.counters.setdefault(abstract, {})
        starts = {lvl: start for lvl, (_, _, start) in levels.items()}
        if num_id not in self.started:  # a restarted list (startOverride) begins afresh
            self.started.add(num_id)
            for lvl, start in self.overrides.get(num_id, {}).items():
                starts[lvl] = start
                counters.pop(lvl, None)
        counters[level] = counters.get(level, starts.get(level, 1) - 1) + 1
        for deeper in [lvl for lvl in counters if lvl > level]:
            del counters[deeper]
        fmt, text, _ = levels[level]
        if fmt in ("bullet", "none"):
            return ""

        def number(match: re.Match[str]) -> str:
            lvl = int(match[1]) - 1
            value = counters.get(lvl, starts.get(lvl, 1))
            return _format_number(value, levels.get(lvl, ("decimal", "", 1))[0])

        return re.sub(r"%(\d)", number, text).replace("\t", "")

    @staticmethod
    def _num_pr(paragraph: Any) -> tuple[str | None, int]:
        for ppr in (paragraph._p.pPr, _style_ppr(paragraph)):
            num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
            if num_pr is None:
                continue
            num_id = _val(num_pr, "numId")
            level = _val(num_pr, "ilvl")
            return num_id, int(level) if level else 0
        return None, 0


def _style_ppr(paragraph: Any) -> Any:
    try:
        style = paragraph.style
    except (KeyError, ValueError):
        return None
    return style.element.pPr if style is not None else None


def _val(element: Any, tag: str) -> str | None:
    child = element.find(f"{_W}{tag}")
    return child.get(f"{_W}val") if child is not None else None


def _format_number(value: int, fmt: str) -> str:
    if fmt.startswith(("chinese", "japaneseCounting", "taiwaneseCounting", "ideographLegal")):
        return int_to_cn(value)
    if fmt == "ideographTraditional" and 1 <= value <= 10:
        return "甲乙丙丁戊己庚辛壬癸"[value - 1]
    if fmt.startswith("decimalEnclosedCircle") and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    if fmt == "decimalFullWidth":
        return str(value).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if fmt in ("lowerLetter", "upperLetter") and 1 <= value <= 26:
        letter = chr(ord("a") + value - 1)
        return letter if fmt == "lowerLetter" else letter.upper()
    return str(value)
