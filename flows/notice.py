"""Read a published rectification notice (整改通报) into areas, tasks and measures.

A notice is free prose exported from a word processor, so the parser works line by line
on the section that reports the rectification ("二、巡察整改落实情况"): its "（一）"
headings are areas, its "1." items are tasks, and each item's "一是/二是…" steps are
measures. Everything here is a pure function of the text; nothing touches the database.
"""

import re
from dataclasses import dataclass, field
from datetime import date

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

CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
CN_NUMBER = "[零一二两三四五六七八九十百]+"
NUMBER = rf"(?:\d+|{CN_NUMBER})"

# Word-processor leftovers such as "[bookmark: OLE_LINK5]" that survive a docx→text export.
WORD_LEFTOVER = re.compile(r"\[\s*(?:bookmark|footnoteRef|endnoteRef)\s*:[^\]]*\]", re.IGNORECASE)
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
INVISIBLE = re.compile(r"[\u200b\u200c\u200d\ufeff]")

# "二、巡察整改落实情况" — a top-level heading; the rectification one is found by its words.
TOP_HEADING = re.compile(r"^[一二三四五六七八九十]+\s*[、.．，]\s*(?P<title>.*)$")
RECTIFICATION_WORDS = re.compile(r"整改落实情况|整改情况|问题整改")
# "（一）…" / "(一)…" — an area heading inside the rectification section.
AREA_HEADING = re.compile(r"^[（(]\s*(?P<num>[一二三四五六七八九十]+)\s*[）)]\s*(?P<title>.*)$")
# "1.…" / "1．…" / "1、…" — a task item; "(?!\d)" keeps "1.5万元" out.
TASK_ITEM = re.compile(r"^(?P<num>\d{1,3})\s*[.．、](?!\d)\s*(?P<text>.*)$")
# The closing lines after the last section: invitation to comment, contacts, signature.
CLOSING_LINE = re.compile(r"^(?:欢迎|如有意见|公开期限|公示期|联系电话|邮政信箱|电子邮箱)")

# Title frames: "在…方面" (optionally "…的方面") and "关于“…”的问题".
IN_ASPECT_FRAME = re.compile(r"^在(?P<title>.+?)(?:的)?方面(?=[。，,：:；;]|$)")
ABOUT_PROBLEM_FRAME = re.compile(r"^关于[“\"「]?(?P<title>.+?)[”\"」]?的?问题$")
SENTENCE_END = re.compile(r"[。：:；;！!？?]")
TRAILING_PUNCT = re.compile(r"[\s，,；;：:、]+$")

DATE = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]")
DATE_RANGE = re.compile(
    r"(?P<y1>\d{4})\s*年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*[日号]\s*"
    r"(?:至|到|—+|－|-|~|～)\s*"
    r"(?:(?P<y2>\d{4})\s*年\s*)?(?:(?P<m2>\d{1,2})\s*月\s*)?(?P<d2>\d{1,2})\s*[日号]"
)
PUBLICATION = re.compile(r"(?:公开|公示)(?:期限|期|时间)\s*[：:为]?\s*")
INSPECTION_WORDS = re.compile(r"巡察|巡视")
PUBLICATION_WORDS = re.compile(r"公开|公示")

GROUP = re.compile(
    r"(?:中央|[省市县区州盟旗]委)?第[一二三四五六七八九十\d]+(?:巡察|巡视)组"
    r"|(?:中央|[省市县区州盟旗]委)(?:巡察|巡视)组"
)

STATED_AREAS_AND_TASKS = re.compile(
    rf"(?P<areas>{NUMBER})\s*个\s*方面\s*(?:的)?\s*(?P<tasks>{NUMBER})\s*[项条个]\s*(?:具体)?\s*整改任务"
)
STATED_AREAS = re.compile(rf"(?P<n>{NUMBER})\s*个\s*方面")
STATED_TASKS = re.compile(
    rf"(?P<n>{NUMBER})\s*[项条个]\s*(?:具体)?\s*整改任务|整改任务\s*(?P<n2>{NUMBER})\s*[项条个]"
)
STATED_MEASURES = re.compile(
    rf"(?P<n>{NUMBER})\s*[项条个]\s*(?:具体)?\s*整改措施|整改措施\s*(?P<n2>{NUMBER})\s*[项条个]"
)

# Step markers "一是", "二是" … "二十是", generated in order so they can be found in order.
_CN_ONES = "一二三四五六七八九"
STEP_ORDINALS: list[str] = [
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


# --- Decoding -------------------------------------------------------------------------


def read_notice_text(data: bytes) -> str:
    """Decode an uploaded notice: UTF-8 (with or without BOM) first, then GB18030.

    Chinese government documents are still often saved in GBK/GB18030 by desktop tools.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break  # a binary file (docx, pdf, UTF-16) that happened to decode
        return text
    raise BadInput(
        "无法读取通报文件：文件不是 UTF-8 或 GB18030 编码的纯文本，请另存为文本文件后重试"
    )


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


def _clean_lines(text: str) -> list[str]:
    """Normalise the text into trimmed non-empty lines without word-processor leftovers."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = WORD_LEFTOVER.sub("", text)
    text = INVISIBLE.sub("", text).translate(FULLWIDTH_DIGITS)
    lines = (line.replace("\u3000", " ").replace("\xa0", " ").strip() for line in text.split("\n"))
    return [line for line in lines if line]


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
    if start and end and end < start:  # "11月1日至1月30日" crosses the new year
        end = _make_date(y1 + 1, m2, d2)
    return start, end


def _sentences(lines: list[str]) -> list[str]:
    return [s for line in lines for s in re.split(r"[。！？!?]", line) if s]


# --- Header facts: issuer, title, group, dates, stated totals -------------------------


def _issuer_and_title(lines: list[str]) -> tuple[str | None, str | None]:
    """The first line is the issuing Party organisation, the second the notice's title.

    Some notices put both on one line ("中共…党组关于…的通报"); split it at "关于".
    """
    first = lines[0]
    if "关于" in first and first.endswith("通报"):
        issuer, _, rest = first.partition("关于")
        return (issuer.strip() or None), "关于" + rest
    issuer = first if len(first) <= 40 and not SENTENCE_END.search(first) else None
    second = lines[1] if len(lines) > 1 else ""
    title = second if second.startswith("关于") or second.endswith("通报") else None
    return issuer, title


def _publication(lines: list[str]) -> tuple[date | None, date | None]:
    for line in lines:
        for label in PUBLICATION.finditer(line):
            match = DATE_RANGE.match(line, label.end())
            if match:
                return _range_dates(match)
    return None, None


def _inspection(sentences: list[str]) -> tuple[date | None, date | None]:
    """The period comes from the first sentence about the inspection carrying a date range."""
    for sentence in sentences:
        if not INSPECTION_WORDS.search(sentence) or PUBLICATION_WORDS.search(sentence):
            continue
        match = DATE_RANGE.search(sentence)
        if match:
            return _range_dates(match)
    return None, None


def _feedback(sentences: list[str], year_hint: int | None) -> date | None:
    """The date of the first sentence mentioning 反馈, taken next to that word.

    Ranges in the same sentence (the inspection period) are ignored; a date without a
    year borrows the year of the inspection.
    """
    for sentence in sentences:
        anchor = sentence.find("反馈")
        if anchor < 0:
            continue
        masked = DATE_RANGE.sub(lambda m: " " * len(m[0]), sentence)
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
    match = GROUP.search(text)
    return match[0] if match else None


def _first_number(pattern: re.Pattern[str], text: str, *groups: str) -> int | None:
    for match in pattern.finditer(text):
        for name in groups:
            if match[name]:
                value = _cn_to_int(match[name])
                if value is not None:
                    return value
    return None


def _stated_totals(sentences: list[str]) -> tuple[int | None, int | None, int | None]:
    """Totals the notice states about itself, e.g. "明确了9个方面36项整改任务".

    Only sentences that talk about rectification are searched, so an unrelated
    "两个方面" elsewhere is not mistaken for the count of areas.
    """
    relevant = "。".join(s for s in sentences if "整改" in s)
    areas = tasks = None
    combined = STATED_AREAS_AND_TASKS.search(relevant)
    if combined:
        areas, tasks = _cn_to_int(combined["areas"]), _cn_to_int(combined["tasks"])
    if areas is None:
        areas = _first_number(STATED_AREAS, relevant, "n")
    if tasks is None:
        tasks = _first_number(STATED_TASKS, relevant, "n", "n2")
    measures = _first_number(STATED_MEASURES, relevant, "n", "n2")
    return areas, tasks, measures


# --- The rectification section: areas, tasks, measures --------------------------------


@dataclass
class _Section:
    heading: str
    lines: list[str]


def _top_sections(lines: list[str]) -> list[_Section]:
    """Split the body at top-level "X、" headings; closing lines end the last section."""
    sections: list[_Section] = []
    for line in lines:
        heading = TOP_HEADING.match(line)
        if heading:
            sections.append(_Section(heading["title"].strip(), []))
        elif CLOSING_LINE.match(line):
            sections.append(_Section("", []))  # swallow the closing so no task absorbs it
        elif sections:
            sections[-1].lines.append(line)
    return sections


@dataclass
class _RawTask:
    number: int
    text: str


@dataclass
class _RawArea:
    number: int
    title: str
    tasks: list[_RawTask] = field(default_factory=list)
    implicit: bool = False  # made up for items that had no "（一）" heading above them


def _raw_areas(section: _Section) -> list[_RawArea]:
    """Group the section's lines under "（一）" areas and "1." items.

    Lines that start neither an area nor an item continue the current item; items that
    come before any area heading go into an implicit area named after the section.
    """
    areas: list[_RawArea] = []
    for line in section.lines:
        area = AREA_HEADING.match(line)
        if area:
            number = _cn_to_int(area["num"]) or len(areas) + 1
            areas.append(_RawArea(number, _area_title(area["title"])))
            continue
        item = TASK_ITEM.match(line)
        if item:
            if not areas:
                areas.append(_RawArea(1, section.heading, implicit=True))
            areas[-1].tasks.append(_RawTask(int(item["num"]), item["text"]))
        elif areas and areas[-1].tasks:
            areas[-1].tasks[-1].text += "\n" + line
    return areas


def _area_title(text: str) -> str:
    """An area heading sometimes runs on into prose; keep its first sentence."""
    head = SENTENCE_END.split(text, maxsplit=1)[0]
    return TRAILING_PUNCT.sub("", head).strip()


def _step_positions(text: str) -> list[tuple[int, int]]:
    """(marker start, text start) for each "一是", "二是"… step, found strictly in order."""
    positions: list[tuple[int, int]] = []
    cursor = 0
    for ordinal in STEP_ORDINALS:
        marker = ordinal + "是"
        found = -1
        index = text.find(marker, cursor)
        while index >= 0:
            if index == 0 or text[index - 1] in STEP_BOUNDARY:
                found = index
                break
            index = text.find(marker, index + 1)
        if found < 0:
            break
        positions.append((found, found + len(marker)))
        cursor = found + len(marker)
    return positions


def _tidy(fragment: str) -> str:
    """Join wrapped lines and drop separators left between steps, keeping a final 。."""
    return TRAILING_PUNCT.sub("", fragment.replace("\n", "").strip()).strip()


def _task_title(head: str) -> tuple[str, str]:
    """Split an item's opening into (title without frame, remaining prose)."""
    framed = IN_ASPECT_FRAME.match(head)
    if framed:
        rest = head[framed.end() :]
        return framed["title"].strip(), rest[1:] if rest else ""
    end = SENTENCE_END.search(head)
    sentence, rest = (head[: end.start()], head[end.end() :]) if end else (head, "")
    sentence = TRAILING_PUNCT.sub("", sentence.replace("\n", "")).strip()
    about = ABOUT_PROBLEM_FRAME.match(sentence)
    return (about["title"].strip() if about else sentence), rest


def _parse_task(raw: _RawTask) -> ParsedTask:
    """A task's measures are its numbered steps, or its whole body when it has none."""
    steps = _step_positions(raw.text)
    head = raw.text[: steps[0][0]] if steps else raw.text
    title, rest = _task_title(head.strip())
    if steps:
        bounds = [*(start for start, _ in steps[1:]), len(raw.text)]
        measures = [
            _tidy(raw.text[begin:stop]) for (_, begin), stop in zip(steps, bounds, strict=True)
        ]
    else:
        measures = [_tidy(rest)]
    return ParsedTask(raw.number, title, [m for m in measures if m])


def _find_rectification(sections: list[_Section]) -> list[_RawArea]:
    """The rectification section is the heading with 整改…情况 words that holds items.

    Headings are matched by their words, not their number, because notices differ in
    how many sections come first.
    """
    candidates = [s for s in sections if RECTIFICATION_WORDS.search(s.heading)]
    if not candidates:
        raise NotANotice(
            "这不是整改通报：没有找到“整改落实情况”一类的部分标题（如“二、巡察整改落实情况”）"
        )
    for section in candidates:
        areas = _raw_areas(section)
        if any(area.tasks for area in areas):
            return areas
    raise NotANotice(
        f"这不是整改通报：“{candidates[0].heading}”部分中没有识别到“1.…”形式的整改任务"
    )


# --- Consistency checks ---------------------------------------------------------------


def _structure_warnings(areas: list[ParsedArea], implicit_area: bool) -> list[str]:
    warnings: list[str] = []
    if implicit_area:
        warnings.append("未识别到“（一）…”形式的方面标题，已将全部整改任务归入一个方面")
    for area in areas:
        label = f"第{area.number}个方面“{area.title}”"
        if not area.tasks:
            warnings.append(f"{label}下未识别到整改任务")
            continue
        numbers = [task.number for task in area.tasks]
        if numbers != list(range(1, len(numbers) + 1)):
            listed = "、".join(str(n) for n in numbers)
            warnings.append(f"{label}的任务编号不连续：{listed}，可能有任务未识别")
        for task in area.tasks:
            if not task.measures:
                warnings.append(f"{label}第{task.number}项“{task.title}”未识别到整改措施")
    return warnings


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


# --- Entry point ----------------------------------------------------------------------


def parse_notice(text: str) -> ParsedNotice:
    """Parse a notice's text into its header facts and its area → task → measure ledger.

    Raises NotANotice when no area/task structure is found, so an import never creates
    an empty ledger.
    """
    lines = _clean_lines(text)
    if not lines:
        raise NotANotice("这不是整改通报：内容为空")
    raw_areas = _find_rectification(_top_sections(lines))
    areas = [
        ParsedArea(raw.number, raw.title, [_parse_task(task) for task in raw.tasks])
        for raw in raw_areas
    ]
    sentences = _sentences(lines)
    issuer, title = _issuer_and_title(lines)
    start, end = _inspection(sentences)
    publish_from, publish_to = _publication(lines)
    stated_areas, stated_tasks, stated_measures = _stated_totals(sentences)
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
    implicit = any(raw.implicit for raw in raw_areas)
    notice.warnings = _structure_warnings(areas, implicit) + _total_warnings(notice)
    return notice
