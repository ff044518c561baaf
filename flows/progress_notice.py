"""The progress notice (整改进展情况的通报), written from the ledger through an editable template.

Three steps, each usable alone:

- `notice_context(session, inspection_id, today)` gathers the facts with a few queries: the
  inspection, its areas → tasks → measures, each task's status and latest progress, and the
  counts the notice states ("明确了4个方面14项整改任务，目前已完成整改9项…").
- `render_notice_blocks(context, template_text)` renders the Jinja2 template into the line
  markup of `flows.progress_notice_markup` (#title, #heading1, #para …) and parses it.
- `write_notice_docx(blocks, path)` (flows.progress_notice_docx) lays it out per GB/T 9704.

`export_progress_notice` ties them together. The template is the first of: the file the
caller names, RECTIFY_HOME/templates/progress_notice.txt.j2, the shipped one. A mistake in
a template is a BadInput naming its line, never a traceback.
"""

import re
import traceback
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlmodel import Session, select

from flows.progress_notice_docx import write_notice_docx
from flows.progress_notice_markup import Block, parse_blocks
from models.calendar import local_date
from models.errors import BadInput
from models.ledger import Area, Campaign, DeadlineClass, Inspection, Measure, Task
from models.queries import choose_inspection
from models.records import LookbackReview, ProgressReport, ReviewStatus
from models.stages import STAGE_LABELS, Stage

TEMPLATE_NAME = "progress_notice.txt.j2"
SHIPPED_TEMPLATE = Path(__file__).with_name("templates") / TEMPLATE_NAME
USER_TEMPLATE = Path("templates") / TEMPLATE_NAME  # under RECTIFY_HOME

COMPLETED_STAGES = (Stage.SIGNED_OFF, Stage.LOOKBACK, Stage.CONSOLIDATED)


class Status(StrEnum):
    """Where a task stands in the notice's words: done, under way, or a standing commitment."""

    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    LONG_TERM = "long_term"


STATUS_LABELS: dict[Status, str] = {
    Status.COMPLETED: "已完成整改",
    Status.IN_PROGRESS: "正在推进",
    Status.LONG_TERM: "需长期坚持",
}


def task_status(task: Task) -> Status:
    """Signed off (and later) is completed; an open long-term task is long-term; else in progress.

    A task not yet assigned counts as in progress: the notice reports every task, and the
    three counts always add up to the total.
    """
    if task.stage in COMPLETED_STAGES:
        return Status.COMPLETED
    if task.deadline_class == DeadlineClass.LONG_TERM:
        return Status.LONG_TERM
    return Status.IN_PROGRESS


# --- Facts --------------------------------------------------------------------------------


def notice_context(
    session: Session,
    inspection_id: int | None,
    today: date,
    *,
    publication: tuple[date, date] | None = None,
) -> dict[str, Any]:
    """Everything the template may use, as plain dicts, lists, strings, numbers and dates.

    `publication` is the window the notice is public; without it the inspection's stored
    window is used while it has not ended, else the template shows a blank to fill in.
    """
    inspection = choose_inspection(session, inspection_id)
    areas = list(
        session.exec(select(Area).where(Area.inspection_id == inspection.id).order_by(Area.number))
    )
    tasks = list(
        session.exec(
            select(Task)
            .join(Area)
            .where(Task.inspection_id == inspection.id)
            .order_by(Area.number, Task.number)
        )
    )
    measures: dict[int, list[str]] = {}
    for measure in session.exec(
        select(Measure)
        .join(Task)
        .where(Task.inspection_id == inspection.id)
        .order_by(Measure.task_id, Measure.number)
    ):
        measures.setdefault(measure.task_id, []).append(_one_line(measure.text))
    latest: dict[int, ProgressReport] = {}
    for report in session.exec(
        select(ProgressReport)
        .join(Task)
        .where(Task.inspection_id == inspection.id)
        .order_by(ProgressReport.task_id, ProgressReport.at, ProgressReport.id)
    ):
        latest[report.task_id] = report  # the last one of each task wins
    reviews = list(
        session.exec(
            select(LookbackReview.status).join(Task).where(Task.inspection_id == inspection.id)
        )
    )
    campaigns = list(
        session.exec(
            select(Campaign.name)
            .where(Campaign.inspection_id == inspection.id)
            .order_by(Campaign.id)
        )
    )

    task_facts: dict[int, list[dict[str, Any]]] = {}
    for task in tasks:
        status = task_status(task)
        report = latest.get(task.id)
        task_facts.setdefault(task.area_id, []).append(
            {
                "id": task.id,
                "number": task.number,
                "title": _one_line(task.title),
                "measures": measures.get(task.id, []),
                "status": status.value,
                "status_label": STATUS_LABELS[status],
                "stage": task.stage,
                "stage_label": STAGE_LABELS[Stage(task.stage)],
                "deadline": task.deadline,
                "deadline_class": task.deadline_class,
                "signed_off": _day(task.signed_off_at),
                "progress": _one_line(report.text) if report else None,
                "progress_date": _day(report.at) if report else None,
                "rebounds": task.rebound_count,
            }
        )
    area_facts = [
        {
            "number": area.number,
            "title": _one_line(area.title),
            "tasks": task_facts.get(area.id, []),
        }
        for area in areas
    ]
    statuses = [task_status(task) for task in tasks]
    counts = {
        "areas": len(areas),
        "tasks": len(tasks),
        "measures": sum(len(m) for m in measures.values()),
        "completed": statuses.count(Status.COMPLETED),
        "in_progress": statuses.count(Status.IN_PROGRESS),
        "long_term": statuses.count(Status.LONG_TERM),
        "signed_off": sum(task.stage == Stage.SIGNED_OFF for task in tasks),
        "consolidated": sum(task.stage == Stage.CONSOLIDATED for task in tasks),
        "lookbacks": len(reviews),
        "lookbacks_open": reviews.count(ReviewStatus.OPEN),
        "lookbacks_confirmed": reviews.count(ReviewStatus.CONFIRMED),
        "rebounds": sum(task.rebound_count for task in tasks),
        "campaigns": len(campaigns),
    }
    return {
        "today": today,
        "inspection": _inspection_facts(inspection),
        "publication": _publication(inspection, today, publication),
        "counts": counts,
        "areas": area_facts,
        "campaigns": campaigns,
    }


GROUP_COMMITTEE = re.compile(r"^(?P<committee>.+?)(?:第[一二三四五六七八九十\d]+)?(?:巡察|巡视)组")


def _inspection_facts(inspection: Inspection) -> dict[str, Any]:
    """The inspection, with the words the notice builds from its group ("市委第三巡察组")."""
    group = inspection.group or ""
    kind = "巡视" if "巡视" in group else "巡察"
    match = GROUP_COMMITTEE.match(group)
    return {
        "id": inspection.id,
        "title": inspection.title,
        "unit": inspection.unit or "（被巡察单位）",
        "group": group or f"{kind}组",
        "committee": match["committee"] if match else "上级党委",  # 市委, 省委, 中央 …
        "kind": kind,  # 巡察 or 巡视
        "start": inspection.start,
        "end": inspection.end,
        "feedback": inspection.feedback,
        "lookback_months": inspection.lookback_months,
    }


def _publication(
    inspection: Inspection, today: date, given: tuple[date, date] | None
) -> dict[str, date] | None:
    if given is not None:
        start, end = given
        if end < start:
            raise BadInput(f"公开期限的结束日期 {end} 早于开始日期 {start}")
        return {"start": start, "end": end}
    if inspection.publish_from and inspection.publish_to and inspection.publish_to >= today:
        return {"start": inspection.publish_from, "end": inspection.publish_to}
    return None


def _day(moment: datetime | None) -> date | None:
    """The day in China of a stored moment (a database may hand it back without its UTC zone)."""
    if moment is None:
        return None
    return local_date(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _one_line(text: str) -> str:
    """Ledger text on one line, so it cannot break the template's line markup."""
    text = re.sub(r"\s*[\r\n]+\s*", "", text.strip())
    return re.sub(r"[ \t]+", " ", text)


# --- Template -----------------------------------------------------------------------------

CN_DIGITS = "零一二三四五六七八九"


def cn_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 36 → 三十六, 105 → 一百零五 (for "（一）" and "一是")."""
    n = int(n)
    if n < 0:
        raise ValueError(f"cn_number: {n} is negative")
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    hundreds, rest = divmod(n, 100)
    if rest == 0:
        return CN_DIGITS[hundreds] + "百"
    tail = ("零" + cn_number(rest)) if rest < 10 else cn_number(rest)
    if 10 <= rest < 20:
        tail = "一" + tail
    return CN_DIGITS[hundreds] + "百" + tail


def cn_date(day: date | None) -> str:
    """2025年3月10日 (Arabic numerals, as GB/T 9704 writes dates); empty for no date."""
    if day is None:
        return ""
    if not isinstance(day, date):
        raise TypeError(f"cn_date 只能用于日期，这里得到的是 {day!r}")
    return f"{day.year}年{day.month}月{day.day}日"


def cn_period(start: date | None, end: date | None) -> str:
    """2025年3月10日至5月30日; the end's year is written only when it differs."""
    if not start or not end:
        return cn_date(start or end)
    if end.year != start.year:
        return f"{cn_date(start)}至{cn_date(end)}"
    return f"{cn_date(start)}至{end.month}月{end.day}日"


def sentence(text: str | None) -> str:
    """The text ending as a sentence: a final "。" is added unless it already has an end."""
    text = (text or "").strip().rstrip("，,；;、：: ")
    if not text or text[-1] in "。！？!?”）)":
        return text
    return text + "。"


def _environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=False,  # a line ending in {% endif %} must stay its own line
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        cn_number=cn_number, cn_date=cn_date, cn_period=cn_period, sentence=sentence
    )
    return environment


def render_notice_blocks(
    context: dict[str, Any], template_text: str, name: str = TEMPLATE_NAME
) -> list[Block]:
    """Render the template with the facts and read its output as notice blocks."""
    environment = _environment()
    try:
        template = environment.from_string(template_text)
    except TemplateSyntaxError as error:
        raise BadInput(f"通报模板 {name} 第{error.lineno}行有语法错误：{error.message}") from None
    try:
        rendered = template.render(context)
    except Exception as error:  # a user's template may fail in any way; say where
        line = _template_line(error)
        where = f"第{line}行" if line else ""
        what = "用到了不存在的变量" if isinstance(error, UndefinedError) else "出错"
        raise BadInput(f"通报模板 {name} {where}{what}：{error}") from None
    try:
        return parse_blocks(rendered)
    except BadInput as error:
        raise BadInput(f"通报模板 {name}：{error}") from None


def _template_line(error: BaseException) -> int | None:
    """The template line where rendering failed (Jinja puts template frames in the traceback)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == "<template>"]
    return frames[-1].lineno if frames else None


def read_template(home: Path | None = None, template_path: Path | None = None) -> tuple[str, str]:
    """The template's text and a name for messages: the given file, the user's, or ours."""
    if template_path is not None:
        path = Path(template_path)
        if not path.is_file():
            raise BadInput(f"找不到通报模板：{path}")
    elif home is not None and (Path(home) / USER_TEMPLATE).is_file():
        path = Path(home) / USER_TEMPLATE
    else:
        path = SHIPPED_TEMPLATE
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"通报模板 {path} 不是 UTF-8 编码的文本文件") from None
    return text, str(path)


# --- Export -------------------------------------------------------------------------------


def export_progress_notice(
    session: Session,
    path: Path,
    today: date,
    inspection_id: int | None = None,
    template_path: Path | None = None,
    *,
    home: Path | None = None,
    publication: tuple[date, date] | None = None,
) -> Path:
    """Write the notice for an inspection (the only one when not named) to a .docx file."""
    path = Path(path)
    if path.suffix.lower() != ".docx":
        raise BadInput(f"通报只能导出为 .docx 文件：{path}")
    if not path.parent.is_dir():
        raise BadInput(f"目录不存在：{path.parent}")
    text, name = read_template(home, template_path)
    context = notice_context(session, inspection_id, today, publication=publication)
    blocks = render_notice_blocks(context, text, name)
    if not blocks:
        raise BadInput(f"通报模板 {name} 没有输出任何内容")
    return write_notice_docx(blocks, path)
