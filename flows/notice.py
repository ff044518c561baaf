"""Read a published rectification notice (整改通报) or feedback document into a ledger.

A notice is free prose exported from a word processor, copied from a portal or printed
to PDF, so the parser works line by line. Everything here is a pure function of the
file's bytes or text; nothing touches the database.

Input: .txt in UTF-8 (BOM or not), GB18030 or UTF-16 with a BOM; .docx read paragraph by
paragraph in order, tables row by row (a ledger table 序号|方面|问题|整改措施 becomes the
same outline as prose), Word's automatic list numbers written out, tracked insertions
kept and deletions dropped. Word leftovers ("[bookmark: …]"), a portal's furniture
("来源：… 发布时间：… 【字体：大 中 小】 打印"), page numbers and lines hard-wrapped at
one width (pdftotext) are cleaned away first.

How the outline is read (decided from published practice):

- Numbered lines form an outline: "一、" > "（一）" > "1." > "（1）" > "①", whatever
  brackets, dots and digit widths are used (（一）/(一), 1./1．/1、, （１）/(1)).
- The rectification part is the "一、" section whose heading speaks of 整改…情况 or of the
  problems found ("二、巡察整改落实情况", "一、巡察发现的主要问题"). Its "（一）"
  headings are the areas (方面). Without such a section, either the "一、" headings are
  the areas ("一、关于…方面", at least two), or there is no "一、" level at all and the
  "（一）" headings after the title and introduction are the areas. "（一）" headings
  that are themselves problems ("（一）关于…的问题。整改情况：…") become the tasks of one
  area, and "1.关于…方面" items holding problems as sub-items become the areas.
- A task is the finest numbered problem item under an area: "1." items, or their "（1）"
  sub-items when those are problems (four levels). Sub-items are problems when one of
  them reads like one: it has a title frame ("在…方面", "关于…的问题"), an "整改情况："
  label, its own "一是…" steps, or its first sentence ends like a finding ("…不到位",
  "…有差距", "…问题"). Otherwise — the usual practice — "（1）", "①" (and, under a
  "（一）" problem, "1.") lines under an item are its measures, one per line.
- A task's measures are its "一是/二是…" steps (inline or one per line; a step keeps its
  whole text, headline sentence included), else its "（1）…（2）…", "①…②…", "1.…2.…"
  (one per line) or "第一，…第二，…" steps, else the text after its title (after an
  "整改情况：" label), else the item itself. Ledger fields under an item ("责任单位：",
  "整改时限：") are not measures. Titles drop the numbering and the "在…方面" /
  "关于“…”的问题" frame; a line break also ends a title.
- Dates: the inspection period is the first date range in a sentence about the
  inspection; a second date may omit the year (and month), and one earlier than the first
  crosses into the next year. "截至2025年6月底" cut-offs are never taken for dates.
- Stated totals are read only outside the task items, from phrases about what was
  identified ("明确了9个方面36项整改任务", "反馈问题12个", "制定整改措施40条"), never from
  progress ("已完成整改10个"). A difference from what was found is a warning.
"""

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from models.errors import BadInput


class NotANotice(BadInput):
    """The text has no recognisable rectification structure; importing it would be empty."""


@dataclass
class ParsedTask:
    number: int
    title: str
    measures: list[str]


@dataclass
class ParsedArea:
    number: int
    title: str
    tasks: list[ParsedTask]


@dataclass
class ParsedNotice:
    issuer: str | None
    title: str | None
    group: str | None
    start: date | None
    end: date | None
    feedback: date | None
    publish_from: date | None
    publish_to: date | None
    areas: list[ParsedArea]
    stated_areas: int | None
    stated_tasks: int | None
    stated_measures: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def task_count(self) -> int:
        return sum(len(area.tasks) for area in self.areas)

    @property
    def measure_count(self) -> int:
        return sum(len(task.measures) for area in self.areas for task in area.tasks)


# --- Patterns -------------------------------------------------------------------------

CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
CN_NUMBER = "[零〇一二两三四五六七八九十百]+"
NUMBER = rf"(?:\d+|{CN_NUMBER})"
CN_ORDINAL = "[一二三四五六七八九十]+"

# Word-processor leftovers that survive a docx→text export: "[bookmark: OLE_LINK5]",
# pandoc's "[]{#_Hlk123 .anchor}".
WORD_LEFTOVER = re.compile(
    r"\[\s*(?:bookmark|footnoteRef|endnoteRef|commentRef)\s*:[^\]]*\]|\[\]\{#[^}]*\}",
    re.IGNORECASE,
)
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# A portal page's furniture around the text: metadata, breadcrumbs, print/close links.
PORTAL_LINE = re.compile(
    r"(?:^|\s)(?:来源|信息来源|发布时间|发布日期|发文日期|更新时间|浏览次数|阅读次数|访问次数|点击数|"
    r"点击量|浏览量|阅读量|责任编辑|编辑|作者|索引号|当前位置|您当前的位置|您的位置|字体|字号)"
    r"\s*[：:]"
    r"|【\s*(?:字体|字号|打印|关闭|大|中|小|分享|收藏)"
    r"|^(?:打印|关闭|打印本页|关闭窗口|分享到|上一篇|下一篇|扫一扫)\s*(?:[：:]|$)"
    r"|首页\s*[>＞»/]"
)
# Page numbers left by a PDF or print export: "- 2 -", "— 3 —", "第 4 页", "5/12".
PAGE_NUMBER = re.compile(
    r"^[-—–－\s]*(?:第\s*)?\d{1,3}\s*页?(?:\s*/\s*共?\s*\d{1,3}\s*页?)?[-—–－\s]*$"
)
# Where a line broken by a fixed-width export (pdftotext, a mail client) may be rejoined:
# lines ending like this are complete.
COMPLETE_LINE_END = re.compile(r"[。：:；;！!？?][”」』）)]?$")
STEP_START = re.compile(rf"^{CN_ORDINAL}是")

# The outline levels: "一、" > "（一）" > "1." > "（1）" > "①".
TOP, AREA, ITEM, SUB, CIRCLED = range(5)
LEVEL_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (TOP, re.compile(rf"^(?P<num>{CN_ORDINAL})\s*[、.．，,]\s*(?P<text>.*)$")),
    (AREA, re.compile(rf"^[（(]\s*(?P<num>{CN_ORDINAL})\s*[）)]\s*[、.．]?\s*(?P<text>.*)$")),
    # "(?!\d)" keeps "1.5万元" out.
    (ITEM, re.compile(r"^(?P<num>\d{1,3})\s*[.．、](?!\d)\s*(?P<text>.*)$")),
    (SUB, re.compile(r"^[（(]\s*(?P<num>\d{1,3})\s*[）)]\s*[、.．]?\s*(?P<text>.*)$")),
    (CIRCLED, re.compile(r"^(?P<num>[\u2460-\u2473])\s*(?P<text>.*)$")),
]
# The "一、" section that reports the rectification, or the problems found.
SECTION_WORDS = re.compile(
    r"整改.{0,6}情况|问题整改|整改进展|反馈问题|主要问题|发现的问题|存在的问题|问题清单"
)
# A "一、" heading that names an area ("一、关于…方面的问题"), not a section of the notice.
AREA_LIKE_HEADING = re.compile(r"方面")
# "一、" sections that are never areas when the "一、" headings are the areas.
NOT_AREA_WORDS = re.compile(
    r"主体责任|组织领导|总体情况|基本情况|工作开展|下一步|打算|工作计划|意见建议|整改要求|"
    r"工作要求|思想认识|主要做法|工作成效|整改成效|有关要求"
)
# Words without which a document with no rectification section is not taken for a notice.
INSPECTION_WORDS = re.compile(r"巡察|巡视")
# The closing lines after the last section: invitation to comment, contacts, signature.
CLOSING_LINE = re.compile(
    r"^(?:欢迎|如有意见|公开期限|公示期|公示时间|公开时间|联系电话|联系方式|邮政信箱|"
    r"通信地址|通讯地址|电子邮箱|来信地址|举报电话|附件[：:])"
)
NEXT_STEPS = re.compile(r"^(?:下一步|下步|今后)|下一步工作|工作打算|工作计划")
SIGNATURE = re.compile(
    r"^(?:中共)?[\u4e00-\u9fff（）()]{2,40}(?:党组|党委|党工委|党总支|党支部|委员会|巡察组|巡视组)$"
)
BARE_DATE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")

# Title frames: "在…方面" (optionally "…的方面", "…方面存在的问题") and "关于“…”的问题".
IN_ASPECT_FRAME = re.compile(
    r"^在(?P<title>.+?)(?:的)?方面(?:存在的?问题|的问题)?(?=[。，,：:；;！!？?\s]|$)"
)
ABOUT_FRAME = re.compile(
    r"^(?:关于|针对)(?P<title>.+?)(?:方面)?(?:存在的?|的)?问题(?:的?整改(?:落实|进展)?情况)?$"
)
ABOUT_ASPECT_FRAME = re.compile(r"^关于(?P<title>.+?)方面$")
# "整改情况：" and its kin introduce the measures after a problem statement.
MEASURES_LABEL = re.compile(
    r"(?:整改落实情况|整改进展情况|整改完成情况|整改情况|整改措施|整改进展|落实情况|整改结果)\s*[：:]"
)
# Ledger fields written under an item: who answers for it and by when, not measures.
FIELD_LINE = re.compile(
    r"^(?:责任领导|分管领导|责任单位|责任部门|责任科室|牵头单位|牵头部门|配合单位|配合部门|"
    r"协办单位|责任人|整改时限|完成时限|整改期限|时限要求|整改目标)\s*[：:]"
)
# How a finding ends, as opposed to a measure ("…不到位", "…有差距", "…的问题").
FINDING_END = re.compile(
    r"(?:不到位|不够\w{0,6}|不足|不力|乏力|缺失|缺位|差距|滞后|薄弱|欠缺|短板|漏洞|偏差|"
    r"隐患|弱化|虚化|淡化|不\w{1,3}|问题)$"
)
SENTENCE_END = re.compile(r"[。：:；;！!？?\n]")
TRAILING_PUNCT = re.compile(r"[\s，,；;：:、]+$")
TITLE_MAX = 200

# Dates.
DATE = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
DATE_RANGE = re.compile(
    r"(?P<y1>\d{4})\s*年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*[日号]\s*(?:起)?\s*"
    r"(?:至|到|—+|–|－|-|~|～)\s*"
    r"(?:(?P<y2>\d{4})\s*年\s*)?(?:(?P<m2>\d{1,2})\s*月\s*)?(?P<d2>\d{1,2})\s*[日号]"
)
# "截至2025年6月底", "截止到6月30日": a cut-off, never a date of the inspection.
CUTOFF = re.compile(
    r"(?:截至|截止(?:到|至)?)\s*(?:目前|\d{4}\s*年)?\s*(?:\d{1,2}\s*月)?\s*"
    r"(?:\d{1,2}\s*[日号]|底|末|初|中旬|上旬|下旬)?"
)
PUBLICATION = re.compile(r"(?:公开|公示)(?:期限|期|时间|日期)\s*(?:为)?\s*[：:]?\s*(?:自|从)?")
PUBLICATION_WORDS = re.compile(r"公开|公示")

GROUP_NUMBERED = re.compile(
    rf"(?:中央|[省市县区州盟旗]委)?第{NUMBER}(?:巡察|巡视)组"
    rf"|(?:中央|[省市县区州盟旗]委)(?:巡察|巡视)第?{NUMBER}组"
)
GROUP_PLAIN = re.compile(r"(?:中央|[省市县区州盟旗]委)(?:巡察|巡视)组")

# Stated totals. The first matching phrase of each kind wins.
_COUNT = rf"(?P<n>{NUMBER})\s*[项条个]"
_TASK_NOUN = "(?:整改任务|整改事项|整改问题)"
STATED_AREAS_AND_TASKS = re.compile(
    rf"(?P<a>{NUMBER})\s*个\s*方面\s*(?:的|共)?\s*(?P<n>{NUMBER})\s*[项条个]\s*(?:具体)?\s*"
    rf"(?:{_TASK_NOUN}|问题)"
)
STATED_AREAS = [re.compile(rf"(?P<n>{NUMBER})\s*个\s*方面")]
STATED_TASKS = [
    re.compile(rf"{_COUNT}\s*(?:具体)?\s*{_TASK_NOUN}"),
    re.compile(rf"{_TASK_NOUN}\s*(?:共)?\s*{_COUNT}"),
    re.compile(rf"(?:反馈|指出|发现|交办|梳理出?)的?(?:具体)?问题\s*(?:共)?\s*{_COUNT}"),
    re.compile(
        rf"(?:反馈|指出|发现|交办|梳理出?)(?:了|的|出)?\s*(?:共)?\s*{_COUNT}\s*(?:具体)?问题"
    ),
    re.compile(rf"{_COUNT}\s*(?:具体)?问题"),
]
STATED_MEASURES = [
    re.compile(rf"{_COUNT}\s*(?:具体)?\s*整改措施"),
    re.compile(rf"整改措施\s*(?:共)?\s*{_COUNT}"),
]
# Words just before a count that make it a count of progress, not of what was identified.
PROGRESS_BEFORE = re.compile(r"已|完成|销号|剩余|未|尚|正在|到位|其中|达到|达")
STATED_CONTEXT = re.compile(r"整改|反馈|巡察|巡视")

# Step markers "一是", "二是" … "三十是", generated in order so they can be found in order.
_CN_ONES = "一二三四五六七八九"
CN_ORDINALS: list[str] = [
    *_CN_ONES,
    "十",
    *(f"十{c}" for c in _CN_ONES),
    "二十",
    *(f"二十{c}" for c in _CN_ONES),
    "三十",
]
# A step marker counts only at the start or right after punctuation/space, so "统一是"
# or "十一是" never pass for "一是".
STEP_BOUNDARY = set("。；;，,：:！!？?\n \t")
# Marker families for measures, tried in this order; the first that occurs often enough
# gives the measures. "1." steps count only at the start of a line.
LINE_START = set("\n")
STEP_FAMILIES: list[tuple[list[list[str]], int, set[str]]] = [
    ([[f"{ordinal}是"] for ordinal in CN_ORDINALS], 1, STEP_BOUNDARY),
    ([[f"（{i}）", f"({i})", f"（{i})", f"({i}）"] for i in range(1, 31)], 2, STEP_BOUNDARY),
    ([[chr(0x2460 + i)] for i in range(20)], 2, STEP_BOUNDARY),
    ([[f"{i}.", f"{i}．", f"{i}、"] for i in range(1, 31)], 2, LINE_START),
    ([[f"第{o}，", f"第{o},", f"第{o}、"] for o in CN_ORDINALS], 2, STEP_BOUNDARY),
]


# --- Reading files --------------------------------------------------------------------

SUPPORTED_SUFFIXES = (".txt", ".docx")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_notice_file(path: Path) -> str:
    """The text of a notice file: .txt (UTF-8 or GB18030) or .docx (Word)."""
    path = Path(path)
    return decode_notice(read_notice_bytes(path), path.suffix)


def read_notice_bytes(path: Path) -> bytes:
    """A notice file's bytes, refusing what cannot be a notice before reading it."""
    path = Path(path)
    if not path.exists():
        raise BadInput(f"找不到通报文件：{path}")
    if path.is_dir():
        raise BadInput(f"“{path}”是文件夹，请指定通报文件（.txt 或 .docx）")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        if suffix in (".doc", ".wps", ".rtf"):
            raise BadInput(f"不支持旧版 Word/WPS 文件（{suffix}）：请另存为 .docx 后重试")
        if suffix == ".pdf":
            raise BadInput("不支持 PDF 文件：请提供通报的 .docx 文件，或把正文另存为 .txt")
        shown = suffix or "无扩展名"
        raise BadInput(f"不支持的文件类型（{shown}）：请提供 .txt 或 .docx 格式的通报")
    try:
        return path.read_bytes()
    except OSError as error:
        raise BadInput(f"无法读取通报文件“{path}”：{error.strerror or error}") from error


def decode_notice(data: bytes, suffix: str) -> str:
    """The text of a notice file's bytes, by its suffix (and by what the bytes really are)."""
    if suffix.lower() == ".docx" or data.startswith(ZIP_MAGIC):
        return read_docx_text(data)
    return read_notice_text(data)


def read_notice_text(data: bytes) -> str:
    """Decode a plain-text notice: UTF-8 (with or without BOM), then GB18030.

    Chinese government documents are still often saved in GBK/GB18030 by desktop tools;
    Notepad's "Unicode" (UTF-16 with a byte-order mark) is accepted too.
    """
    _refuse_binary_formats(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    candidates: list[tuple[bytes, str]] = [(data, "utf-8"), (data, "gb18030")]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates.insert(0, (data, "utf-16"))
    for raw, encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break  # a binary file that happened to decode
        return text
    raise BadInput(
        "无法读取通报文件：文件不是 UTF-8 或 GB18030 编码的纯文本，请另存为文本文件后重试"
    )


def _refuse_binary_formats(data: bytes) -> None:
    if data.startswith(ZIP_MAGIC):
        raise BadInput(_zip_complaint(data))
    if data.startswith(b"%PDF"):
        raise BadInput("这是 PDF 文件，不是文本：请提供通报的 .docx 文件，或把正文另存为 .txt")
    if data.startswith(OLE_MAGIC):
        raise BadInput("这是旧版 Office 文件（.doc/.xls/.wps）：请用 Word 另存为 .docx 后重试")


def _looks_binary(text: str) -> bool:
    if "\x00" in text or "\uffff" in text or "\ufffe" in text:
        return True
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f\v")
    return controls > max(2, len(text) // 100)


def _zip_complaint(data: bytes) -> str:
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
        raise BadInput(_zip_complaint(data))
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise BadInput("不是有效的 Word 文件（.docx）：文件已损坏，请用 Word 另存后重试") from error
    except Exception as error:  # lxml on a malformed part, and the like
        raise BadInput(f"无法读取 Word 文件（.docx）：{type(error).__name__}") from error
    return "\n".join(_DocxReader(document).lines())


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


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


_RUN_PATHS = ("w:r", "w:hyperlink/w:r", "w:ins/w:r", "w:smartTag/w:r", "w:fldSimple/w:r")


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
            lines.append(f"（{_int_to_cn(areas)}）{area}")
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
                found[2] if (found := _outline_match(line)) else line for line in cell(measures)
            )
    return lines


_LEADING_MARKER = re.compile(
    rf"^\s*(?:{CN_ORDINAL}是|[（(]\s*(?:\d{{1,3}}|{CN_ORDINAL})\s*[）)]|\d{{1,3}}\s*[.．、](?!\d)"
    rf"|[\u2460-\u2473]|{CN_ORDINAL}\s*、)\s*"
)


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
        return _int_to_cn(value)
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


# --- Small helpers --------------------------------------------------------------------


def _cn_to_int(token: str) -> int | None:
    """Turn "36" or "三十六"/"九"/"一百二十六" into an int; None when it is not a number."""
    if token.isdigit():
        return int(token)
    total, current = 0, 0
    for char in token:
        if char in CN_DIGITS:
            current = CN_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _int_to_cn(value: int) -> str:
    """1 → 一, 12 → 十二, 36 → 三十六 (up to 99, enough for headings)."""
    digits = "零一二三四五六七八九"
    if value < 10:
        return digits[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def _clean_lines(text: str) -> list[str]:
    """Trimmed non-empty lines without word-processor leftovers or portal furniture."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n")
    text = WORD_LEFTOVER.sub("", text)
    text = INVISIBLE.sub("", text).translate(FULLWIDTH_DIGITS)
    lines = (line.replace("\u3000", " ").replace("\xa0", " ").strip() for line in text.split("\n"))
    kept = [line for line in lines if line and not _is_portal_line(line)]
    return _unwrap([line for line in kept if not PAGE_NUMBER.match(line)])


def _unwrap(lines: list[str]) -> list[str]:
    """Rejoin paragraphs that a fixed-width export broke into lines of one width.

    Only when the text is clearly wrapped: the long lines nearly all stop at one width
    (the widest), mid-sentence. Then a line of about that width that does not end a
    sentence is joined to the next, unless the next starts a numbered item or a step.
    """
    widths = sorted(_display_width(line) for line in lines)
    long = [line for line in lines if _display_width(line) >= 30]
    if len(long) < 5:
        return lines
    width = widths[int(0.95 * (len(widths) - 1))]
    cut = [
        line
        for line in long
        if _display_width(line) >= 0.8 * width and not COMPLETE_LINE_END.search(line)
    ]
    if len(cut) < max(5, 0.4 * len(long)):
        return lines
    joined: list[str] = []
    for line in lines:
        previous = joined[-1] if joined else ""
        if (
            previous
            and _display_width(previous) >= 0.8 * width
            and not COMPLETE_LINE_END.search(previous)
            and not ("关于" in previous and TITLE_END.search(previous))
            and not _outline_match(line)
            and not STEP_START.match(line)
        ):
            joined[-1] = previous + line
        else:
            joined.append(line)
    return joined


def _display_width(line: str) -> int:
    """Columns a line takes in print: Chinese characters are two, Latin letters and digits one."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _is_portal_line(line: str) -> bool:
    return bool(PORTAL_LINE.search(line)) and not line.endswith("。") and len(line) < 200


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _range_dates(match: re.Match[str]) -> tuple[date | None, date | None]:
    """Both ends of a "2024年4月12日至7月12日" range; the second may omit year and month."""
    y1, m1, d1 = int(match["y1"]), int(match["m1"]), int(match["d1"])
    start = _make_date(y1, m1, d1)
    m2 = int(match["m2"]) if match["m2"] else m1
    d2 = int(match["d2"])
    if match["y2"]:
        return start, _make_date(int(match["y2"]), m2, d2)
    end = _make_date(y1, m2, d2)
    if start and end and end < start:  # "11月5日至1月20日" crosses the new year
        end = _make_date(y1 + 1, m2, d2)
    return start, end


def _mask_cutoffs(text: str) -> str:
    """Blank out "截至2025年6月30日" phrases so their dates are never read as facts."""
    return CUTOFF.sub(lambda m: " " * len(m[0]), text)


def _sentences(lines: list[str]) -> list[str]:
    return [s for line in lines for s in re.split(r"[。！？!?]", line) if s]


# --- Header facts: issuer, title, group, dates, stated totals -------------------------

TITLE_END = re.compile(r"(?:通报|公告|公示|报告|情况|反馈意见|说明)$")


def _is_short_heading(line: str) -> bool:
    return len(line) <= 40 and not SENTENCE_END.search(line) and not _outline_match(line)


def _issuer_and_title(lines: list[str]) -> tuple[str | None, str | None]:
    """The notice's title ("关于…的通报") and the Party organisation issuing it.

    The issuer is the line above the title, or the title's own opening ("中共…党组关于…"),
    or failing both the signature at the end.
    """
    issuer = title = None
    for index, line in enumerate(lines[:8]):
        if len(line) > 80 or re.search(r"[。；;！!？?]", line) or "关于" not in line:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if (
            not line.endswith(("通报", "公告"))
            and _is_short_heading(following)
            and "关于" not in following
            and following.endswith(("通报", "公告", "报告", "情况", "公示"))
        ):
            line += following  # a long title broken over two lines
        if not TITLE_END.search(line):
            continue
        prefix, _, rest = line.partition("关于")
        title = "关于" + rest
        if prefix.strip():
            issuer = prefix.strip()
        elif index > 0 and _is_short_heading(lines[index - 1]):
            issuer = lines[index - 1]
        break
    if title is None:  # no "关于…" title: the first line is the issuer, as printed
        first = lines[0]
        issuer = first if _is_short_heading(first) and not first.endswith("通报") else None
        second = lines[1] if len(lines) > 1 else ""
        title = second if second.endswith("通报") else (first if first.endswith("通报") else None)
    if issuer is None:
        issuer = next((line for line in reversed(lines[-4:]) if SIGNATURE.match(line)), None)
    return issuer, title


def _publication(lines: list[str]) -> tuple[date | None, date | None]:
    for line in lines:
        for label in PUBLICATION.finditer(line):
            match = DATE_RANGE.search(_mask_cutoffs(line), label.end())
            if match:
                return _range_dates(match)
    return None, None


def _inspection(sentences: list[str]) -> tuple[date | None, date | None]:
    """The period comes from the first sentence about the inspection carrying a date range."""
    for sentence in sentences:
        if not INSPECTION_WORDS.search(sentence) or PUBLICATION_WORDS.search(sentence):
            continue
        match = DATE_RANGE.search(_mask_cutoffs(sentence))
        if match:
            return _range_dates(match)
    return None, None


def _feedback(sentences: list[str], year_hint: int | None) -> date | None:
    """The date of the first sentence mentioning 反馈, taken next to that word.

    Ranges in the same sentence (the inspection period) and cut-offs ("截至…") are
    ignored; a date without a year borrows the year of the inspection.
    """
    for sentence in sentences:
        anchor = sentence.find("反馈")
        if anchor < 0:
            continue
        masked = DATE_RANGE.sub(lambda m: " " * len(m[0]), _mask_cutoffs(sentence))
        dates = list(DATE.finditer(masked))
        if not dates:
            continue
        before = [m for m in dates if m.start() < anchor]
        chosen = before[-1] if before else dates[0]
        year = int(chosen["y"]) if chosen["y"] else year_hint
        if year is None:
            continue
        return _make_date(year, int(chosen["m"]), int(chosen["d"]))
    return None


def _group(text: str) -> str | None:
    match = GROUP_NUMBERED.search(text) or GROUP_PLAIN.search(text)
    return match[0] if match else None


def _first_count(patterns: list[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        for match in pattern.finditer(text):
            if PROGRESS_BEFORE.search(text[max(0, match.start() - 4) : match.start()]):
                continue
            value = _cn_to_int(match["n"])
            if value:
                return value
    return None


def _stated_totals(sentences: list[str]) -> tuple[int | None, int | None, int | None]:
    """Totals the notice states about itself, e.g. "明确了9个方面36项整改任务".

    Only sentences about the inspection and its rectification are searched (and never
    the task items themselves), so an unrelated "两个方面" is not taken for the areas.
    """
    relevant = "。".join(s for s in sentences if STATED_CONTEXT.search(s))
    areas = tasks = None
    for combined in STATED_AREAS_AND_TASKS.finditer(relevant):
        if not PROGRESS_BEFORE.search(relevant[max(0, combined.start() - 4) : combined.start()]):
            areas, tasks = _cn_to_int(combined["a"]), _cn_to_int(combined["n"])
            break
    if areas is None:
        areas = _first_count(STATED_AREAS, relevant)
    if tasks is None:
        tasks = _first_count(STATED_TASKS, relevant)
    return areas, tasks, _first_count(STATED_MEASURES, relevant)


# --- The outline: numbered lines into a tree ------------------------------------------


@dataclass
class _Node:
    level: int
    number: int
    lines: list[str]  # its own line (number stripped) and continuation lines
    raw: list[str]  # the same lines as written, number included
    indices: list[int]
    children: list["_Node"] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def all_indices(self) -> list[int]:
        return self.indices + [i for child in self.children for i in child.all_indices()]

    def all_raw(self) -> list[str]:
        return self.raw + [line for child in self.children for line in child.all_raw()]


def _outline_match(line: str) -> tuple[int, int, str] | None:
    for level, pattern in LEVEL_PATTERNS:
        match = pattern.match(line)
        if match:
            token = match["num"]
            number = ord(token) - 0x2460 + 1 if level == CIRCLED else (_cn_to_int(token) or 0)
            return level, number, match["text"].strip()
    return None


def _outline(lines: list[tuple[int, str]], *, stop_at_next_steps: bool = False) -> list[_Node]:
    """Nest numbered lines by level; unnumbered lines continue the deepest open item.

    Lines before the first numbered one (a section's introduction) belong to no item.
    """
    roots: list[_Node] = []
    stack: list[_Node] = []
    for index, line in lines:
        found = _outline_match(line)
        if stop_at_next_steps and _ends_body(line, found):
            break
        if found is None or found[0] == TOP:
            if stack:
                stack[-1].lines.append(line)
                stack[-1].raw.append(line)
                stack[-1].indices.append(index)
            continue
        level, number, text = found
        node = _Node(level, number, [text], [line], [index])
        while stack and stack[-1].level >= level:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    return roots


def _ends_body(line: str, found: tuple[int, int, str] | None) -> bool:
    """Where a notice without "一、" sections turns to its next steps."""
    if found is None:
        return bool(re.match(r"^(?:下一步|下步|今后)", line))
    return found[0] <= AREA and bool(NEXT_STEPS.search(found[2]))


@dataclass
class _Section:
    heading: str
    number: int
    lines: list[tuple[int, str]]


def _split_sections(lines: list[str]) -> tuple[list[tuple[int, str]], list[_Section]]:
    """The preamble and the "一、" sections; closing lines and the signature end them."""
    preamble: list[tuple[int, str]] = []
    sections: list[_Section] = []
    closed = False
    tail = len(lines) - 4
    for index, line in enumerate(lines):
        found = _outline_match(line)
        if found and found[0] == TOP:
            sections.append(_Section(found[2], found[1], []))
            closed = False
        elif CLOSING_LINE.match(line) or (
            index >= tail and (SIGNATURE.match(line) or BARE_DATE.match(line))
        ):
            closed = True  # swallow the closing so no task absorbs it
        elif closed:
            continue
        elif sections:
            sections[-1].lines.append((index, line))
        else:
            preamble.append((index, line))
    return preamble, sections


@dataclass
class _Body:
    """The areas found, as nodes, and whether they were made up or taken from "一、"."""

    areas: list[_Node]
    implicit: bool = False
    flattened: bool = False  # the "（一）" headings were problems, not areas
    top_level: bool = False
    consumed: set[int] = field(default_factory=set)


def _areas_from_region(roots: list[_Node], title: str, *, drop_leading_empty: bool) -> _Body | None:
    """Group a region's roots into areas; None when the region holds no tasks.

    Areas are the "（一）" nodes. Items before any of them go into one made-up area,
    unless they are themselves areas ("1.关于…方面" holding its problems as sub-items).
    "（一）" headings with nothing under them that read like problems are tasks of one
    made-up area ("（一）关于…的问题。整改情况：…" straight under the section).
    """
    areas: list[_Node] = []
    loose: list[_Node] = []
    for node in roots:
        if node.level == AREA:
            areas.append(node)
        elif areas:
            areas[-1].children.append(node)
        else:
            loose.append(node)
    implicit = False
    if loose:
        if not areas and any(n.children and not _children_are_measures(n) for n in loose):
            areas = loose
        else:
            implicit = True
            areas.insert(0, _Node(AREA, 1, [title], [title], [], loose))
    if not any(area.children for area in areas):
        findings = [area for area in areas if _looks_like_finding(area)]
        if areas and 2 * len(findings) >= len(areas):
            made_up = _Node(AREA, 1, [title], [title], [], areas)
            return _Body([made_up], implicit=True, flattened=True)
        return None
    if drop_leading_empty:
        while areas and not areas[0].children:
            areas.pop(0)
    return _Body(areas, implicit=implicit)


def _find_body(lines: list[str]) -> _Body:
    """Where the ledger is: a rectification section, "一、" areas, or the whole text."""
    preamble, sections = _split_sections(lines)
    text = "\n".join(lines)
    looks_like_notice = "整改" in text and bool(INSPECTION_WORDS.search(text))
    fallback: _Body | None = None
    for section in sections:
        heading = section.heading
        if not SECTION_WORDS.search(heading) or AREA_LIKE_HEADING.search(heading):
            continue
        if "整改" not in heading and not looks_like_notice:
            continue
        body = _areas_from_region(_outline(section.lines), heading, drop_leading_empty=False)
        if body is not None and not body.implicit:
            return body
        fallback = fallback or body
    if fallback is not None:
        return fallback
    if looks_like_notice:
        candidates = [
            (section, roots)
            for section in sections
            if not NOT_AREA_WORDS.search(section.heading)
            and (roots := _outline(section.lines))
            and _holds_problems(section.heading, roots)
        ]
        if len(candidates) >= 2:
            areas = [
                _Node(TOP, section.number, [section.heading], [section.heading], [], roots)
                for section, roots in candidates
            ]
            return _Body(areas, top_level=True)
        if len(candidates) == 1:
            section, roots = candidates[0]
            body = _areas_from_region(roots, section.heading, drop_leading_empty=False)
            if body is not None:
                return body
        body = _areas_from_region(
            _outline(preamble, stop_at_next_steps=True), "整改任务", drop_leading_empty=True
        )
        if body is not None:
            return body
    named = [s.heading for s in sections if SECTION_WORDS.search(s.heading) and "整改" in s.heading]
    if named:
        raise NotANotice(f"这不是整改通报：“{named[0]}”部分中没有识别到“1.…”形式的整改任务")
    if not looks_like_notice:
        raise NotANotice(
            "这不是整改通报：全文没有同时出现“巡察/巡视”和“整改”，"
            "也没有“整改落实情况”一类的部分标题"
        )
    raise NotANotice(
        "这不是整改通报：没有找到“（一）…”方面和“1.…”整改任务，"
        "也没有“整改落实情况”一类的部分标题（如“二、巡察整改落实情况”）"
    )


def _holds_problems(heading: str, roots: list[_Node]) -> bool:
    """Whether a "一、" section is an area: named like one, or listing problems.

    Sections such as "一、提高政治站位，扛牢整改责任" list what was done, not problems.
    """
    if AREA_LIKE_HEADING.search(heading) or ABOUT_FRAME.match(heading):
        return True
    findings = [node for node in roots if _looks_like_finding(node)]
    return 2 * len(findings) >= len(roots)


# --- Tasks and measures ---------------------------------------------------------------


def _looks_like_finding(node: _Node) -> bool:
    """Whether a sub-item states a problem (so it is a task) rather than a measure."""
    if node.children:
        return True
    text = node.text
    first_line = node.lines[0]
    if IN_ASPECT_FRAME.match(first_line) or MEASURES_LABEL.search(text):
        return True
    if _step_positions(text):
        return True
    sentence = TRAILING_PUNCT.sub("", re.split(r"[。；;！!？?：:]", first_line)[0]).strip()
    return bool(ABOUT_FRAME.match(sentence)) or bool(FINDING_END.search(sentence))


def _children_are_measures(node: _Node) -> bool:
    if all(child.level == CIRCLED for child in node.children):
        return True
    return not any(_looks_like_finding(child) for child in node.children)


@dataclass
class _TaskNode:
    node: _Node
    direct: bool  # a child of its area, not a sub-item found deeper


def _task_nodes(
    area: _Node, gaps: list[tuple[_Node | None, list[int]]], continued_from: int
) -> list[_TaskNode]:
    """The finest numbered problem items under an area, in order.

    Items are numbered from 1 in each area, or on from the previous area's last one
    (some notices number their problems once through the whole text).
    """
    tasks: list[_TaskNode] = []

    def walk(nodes: list[_Node], parent: _Node | None, direct: bool) -> None:
        numbers = [node.number for node in nodes]
        firsts = (1, continued_from + 1) if parent is None else (1,)
        if not any(numbers == list(range(f, f + len(numbers))) for f in firsts):
            gaps.append((parent, numbers))
        for node in nodes:
            if not node.children:
                tasks.append(_TaskNode(node, direct))
            elif _children_are_measures(node):
                merged = node.all_raw()
                node.lines = [node.lines[0], *merged[1:]]
                node.children = []
                tasks.append(_TaskNode(node, direct))
            else:
                walk(node.children, node, direct=False)

    walk(area.children, None, direct=True)
    return tasks


def _step_positions(text: str) -> list[tuple[int, int]]:
    """(marker start, text start) of each step of the first marker family that applies."""
    for markers, minimum, boundary in STEP_FAMILIES:
        positions = _find_in_order(text, markers, boundary)
        if len(positions) >= minimum:
            return positions
    return []


def _find_in_order(
    text: str, markers: list[list[str]], boundary: set[str]
) -> list[tuple[int, int]]:
    """Markers found strictly in order, each at a boundary and not inside a number."""
    positions: list[tuple[int, int]] = []
    cursor = 0
    for alternatives in markers:
        best, best_marker = -1, ""
        for marker in alternatives:
            index = text.find(marker, cursor)
            while index >= 0:
                after = index + len(marker)
                at_boundary = index == 0 or text[index - 1] in boundary
                if at_boundary and not (marker[-1] == "." and text[after : after + 1].isdigit()):
                    break
                index = text.find(marker, index + 1)
            if index >= 0 and (best < 0 or index < best):
                best, best_marker = index, marker
        if best < 0:
            break
        positions.append((best, best + len(best_marker)))
        cursor = best + len(best_marker)
    return positions


def _tidy(fragment: str) -> str:
    """Join wrapped lines and drop separators left between steps, keeping a final 。."""
    return TRAILING_PUNCT.sub("", fragment.replace("\n", "").strip()).strip()


def _unquote(title: str) -> str:
    if title.startswith("“") and title.endswith("”") and title.count("“") == 1:
        return title[1:-1].strip()
    if title.startswith('"') and title.endswith('"') and title.count('"') == 2:
        return title[1:-1].strip()
    return title


def _strip_frame(sentence: str) -> str:
    framed = IN_ASPECT_FRAME.match(sentence)
    if framed and framed.end() == len(sentence):
        return framed["title"].strip()
    about = ABOUT_FRAME.match(sentence) or ABOUT_ASPECT_FRAME.match(sentence)
    if about:
        return _unquote(about["title"].strip())
    return sentence


def _task_title(head: str) -> tuple[str, str]:
    """Split an item's opening into (title without frame, remaining prose).

    The title is the "在…方面" frame's content, or the first sentence (a line break ends
    it too); an "整改情况：" label ends the problem statement and starts the prose.
    """
    label = MEASURES_LABEL.search(head)
    statement, after_label = (head[: label.start()], head[label.end() :]) if label else (head, None)
    statement = statement.strip()
    framed = IN_ASPECT_FRAME.match(statement)
    if framed:
        rest = statement[framed.end() :]
        title, rest = framed["title"].strip(), rest[1:] if rest else ""
    else:
        end = SENTENCE_END.search(statement)
        sentence, rest = (
            (statement[: end.start()], statement[end.end() :]) if end else (statement, "")
        )
        title = _strip_frame(TRAILING_PUNCT.sub("", sentence).strip())
    if after_label is not None:
        rest = after_label
    return title, rest


def _parse_task(node: _Node, number: int) -> tuple[ParsedTask, list[str]]:
    """A task's measures are its numbered steps, or its prose, or the item itself."""
    text = "\n".join(line for line in node.lines if not FIELD_LINE.match(line))
    steps = _step_positions(text)
    head = text[: steps[0][0]] if steps else text
    title, rest = _task_title(head.strip())
    notes: list[str] = []
    if steps:
        bounds = [*(start for start, _ in steps[1:]), len(text)]
        measures = [_tidy(text[begin:stop]) for (_, begin), stop in zip(steps, bounds, strict=True)]
    else:
        measures = [_tidy(rest)] if _tidy(rest) else [_tidy(text)]
    if len(title) > TITLE_MAX:
        short = re.split(r"[，,、]", title, maxsplit=1)[0]
        title = short if 4 <= len(short) <= TITLE_MAX else title[:TITLE_MAX]
        notes.append(f"第{number}项的标题过长，已截取为“{title}”")
    if not title:
        title = f"第{number}项整改任务"
        notes.append(f"第{number}项未识别到问题标题，已命名为“{title}”")
    return ParsedTask(number, title, [m for m in measures if m]), notes


def _area_title(text: str) -> str:
    """An area heading sometimes runs on into prose; keep its first sentence, unframed."""
    head = re.split(r"[。：:；;！!？?\n]", text, maxsplit=1)[0]
    head = re.sub(rf"[（(]\s*(?:共)?\s*{NUMBER}\s*[个项条]\s*(?:问题|任务)?\s*[）)]$", "", head)
    title = _strip_frame(TRAILING_PUNCT.sub("", head).strip())
    return title[:TITLE_MAX]


def _build_areas(body: _Body) -> tuple[list[ParsedArea], list[str]]:
    areas: list[ParsedArea] = []
    warnings: list[str] = []
    numbers = [node.number for node in body.areas]
    if not body.implicit and numbers:
        expected = list(range(numbers[0], numbers[0] + len(numbers)))
        if numbers != expected or (not body.top_level and numbers[0] != 1):
            listed = "、".join(_int_to_cn(n) if n else "?" for n in numbers)
            warnings.append(f"方面编号不连续：{listed}，可能有方面未识别")
    last_number = 0
    for position, node in enumerate(body.areas, start=1):
        title = _area_title(node.text)
        label = f"第{position}个方面“{title}”"
        gaps: list[tuple[_Node | None, list[int]]] = []
        body.consumed.update(i for child in node.children for i in child.all_indices())
        task_nodes = _task_nodes(node, gaps, continued_from=last_number)
        for parent, found in gaps:
            listed = "、".join(str(n) for n in found)
            where = label if parent is None else f"{label}第{parent.number}项下"
            noun = "任务" if parent is None else "子项"
            warnings.append(f"{where}的{noun}编号不连续：{listed}，可能有{noun}未识别")
        own_numbers = [t.node.number for t in task_nodes]
        keep = all(t.direct for t in task_nodes) and len(set(own_numbers)) == len(own_numbers)
        tasks: list[ParsedTask] = []
        for index, task_node in enumerate(task_nodes, start=1):
            number = task_node.node.number if keep else index
            task, notes = _parse_task(task_node.node, number)
            tasks.append(task)
            warnings.extend(f"{label}{note}" for note in notes)
            last_number = task.number
        if not tasks:
            warnings.append(f"{label}下未识别到整改任务")
        for task in tasks:
            if not task.measures:
                warnings.append(f"{label}第{task.number}项“{task.title}”未识别到整改措施")
        areas.append(ParsedArea(position, title, tasks))
    return areas, warnings


# --- Consistency checks ---------------------------------------------------------------


def _total_warnings(notice: ParsedNotice) -> list[str]:
    """Compare what the text says about itself with what was found."""
    checks = [
        (notice.stated_areas, len(notice.areas), "个方面", "个"),
        (notice.stated_tasks, notice.task_count, "项整改任务", "项"),
        (notice.stated_measures, notice.measure_count, "条整改措施", "条"),
    ]
    return [
        f"通报载明{stated}{noun}，实际识别{found}{unit}"
        for stated, found, noun, unit in checks
        if stated is not None and stated != found
    ]


# --- Entry points ---------------------------------------------------------------------


def parse_notice(text: str) -> ParsedNotice:
    """Parse a notice's text into its header facts and its area → task → measure ledger.

    Raises NotANotice when no area/task structure is found, so an import never creates
    an empty ledger.
    """
    lines = _clean_lines(text)
    if not lines:
        raise NotANotice("这不是整改通报：内容为空")
    body = _find_body(lines)
    areas, warnings = _build_areas(body)
    if body.flattened:
        warnings.insert(0, "“（一）…”各项均为具体问题，没有方面标题，已将全部整改任务归入一个方面")
    elif body.implicit:
        warnings.insert(0, "未识别到“（一）…”形式的方面标题，已将全部整改任务归入一个方面")
    outside = [line for index, line in enumerate(lines) if index not in body.consumed]
    sentences = _sentences(lines)
    issuer, title = _issuer_and_title(lines)
    start, end = _inspection(sentences)
    publish_from, publish_to = _publication(lines)
    stated_areas, stated_tasks, stated_measures = _stated_totals(_sentences(outside))
    year_hint = (end or start).year if (end or start) else None
    notice = ParsedNotice(
        issuer=issuer,
        title=title,
        group=_group("\n".join(lines)),
        start=start,
        end=end,
        feedback=_feedback(sentences, year_hint),
        publish_from=publish_from,
        publish_to=publish_to,
        areas=areas,
        stated_areas=stated_areas,
        stated_tasks=stated_tasks,
        stated_measures=stated_measures,
    )
    notice.warnings = warnings + _total_warnings(notice)
    return notice


def notice_summary(notice: ParsedNotice) -> dict[str, Any]:
    """The parsed notice as the JSON object `rectify import notice --dry-run --json` prints."""

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "inspection": {
            "group": notice.group,
            "start": iso(notice.start),
            "end": iso(notice.end),
            "feedback": iso(notice.feedback),
            "publish_from": iso(notice.publish_from),
            "publish_to": iso(notice.publish_to),
        },
        "areas": [
            {
                "title": area.title,
                "tasks": [
                    {"title": task.title, "measures": list(task.measures)} for task in area.tasks
                ],
            }
            for area in notice.areas
        ],
        "stated": {
            "areas": notice.stated_areas,
            "tasks": notice.stated_tasks,
            "measures": notice.stated_measures,
        },
        "warnings": list(notice.warnings),
    }
