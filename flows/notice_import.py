"""Turning a parsed notice into an inspection with its areas, tasks and measures.

Importing is all or nothing: the file is read and parsed completely before anything is
written, the writes happen inside a savepoint (so a failure half-way leaves no trace even
if the caller went on), and committing is left to the caller.

A notice is imported once. The same file is recognised by the SHA-256 of its bytes (kept
on the inspection); the same notice in another form — saved as .docx instead of .txt,
re-encoded, re-saved by a word processor — by its content: an inspection with the same
group, inspection period and feedback date whose areas and tasks carry the same titles.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from flows.notice import (
    GROUP_NUMBERED,
    GROUP_PLAIN,
    ParsedNotice,
    decode_notice,
    parse_notice,
    read_notice_bytes,
)
from models.intake import add_area, add_task, create_inspection, find_inspection_by_source
from models.ledger import Area, Inspection, Task
from models.people import Person

SAME_FILE = "same_file"
SAME_CONTENT = "same_content"


@dataclass
class NoticeImport:
    inspection: Inspection
    created: bool
    notice: ParsedNotice
    duplicate: str | None = None  # SAME_FILE or SAME_CONTENT when nothing was created

    @property
    def message(self) -> str:
        """One line for the user, in Chinese."""
        name = f"“{self.inspection.title}”（编号 {self.inspection.id}）"
        if self.created:
            return (
                f"已导入{name}：{len(self.notice.areas)}个方面、"
                f"{self.notice.task_count}项整改任务、{self.notice.measure_count}条整改措施"
            )
        how = "同一文件" if self.duplicate == SAME_FILE else "内容相同的通报"
        return f"已导入过：{how}已导入为{name}，未重复导入"


def import_notice_file(session: Session, path: Path, actor: Person, now: datetime) -> NoticeImport:
    """Import a notice file (.txt or .docx) once; never commits.

    Raises BadInput (NotANotice when the file is readable but not a notice) before
    writing anything.
    """
    path = Path(path)
    data = read_notice_bytes(path)
    return import_notice_bytes(session, data, actor, now, suffix=path.suffix)


def import_notice_bytes(
    session: Session, data: bytes, actor: Person, now: datetime, *, suffix: str = ".txt"
) -> NoticeImport:
    """Import a notice once: the same file, or the same content, is never imported twice."""
    notice = parse_notice(decode_notice(data, suffix))
    sha = hashlib.sha256(data).hexdigest()
    existing = find_inspection_by_source(session, sha)
    if existing is not None:
        return NoticeImport(existing, created=False, notice=notice, duplicate=SAME_FILE)
    same = find_same_notice(session, notice)
    if same is not None:
        return NoticeImport(same, created=False, notice=notice, duplicate=SAME_CONTENT)
    unit = _unit(notice)
    with session.begin_nested():
        inspection = create_inspection(
            session,
            title=f"{notice.group or '巡察组'}对{unit or '被巡察单位'}的巡察"[:300],
            unit=unit,
            group=notice.group,
            start=notice.start,
            end=notice.end,
            feedback=notice.feedback,
            publish_from=notice.publish_from,
            publish_to=notice.publish_to,
            source_sha256=sha,
            actor=actor,
            now=now,
        )
        for parsed_area in notice.areas:
            area = add_area(session, inspection, parsed_area.number, parsed_area.title, actor, now)
            for parsed_task in parsed_area.tasks:
                add_task(
                    session,
                    area,
                    parsed_task.number,
                    parsed_task.title,
                    parsed_task.measures,
                    actor,
                    now,
                )
    return NoticeImport(inspection, created=True, notice=notice)


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _fingerprint(notice: ParsedNotice) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (_key(area.title), tuple(_key(task.title) for task in area.tasks)) for area in notice.areas
    ]


def find_same_notice(session: Session, notice: ParsedNotice) -> Inspection | None:
    """An inspection already imported from this notice's content, whatever its file bytes.

    Candidates share the group and the inspection and feedback dates; among them, the
    one whose areas and tasks have the same titles in the same order is the same notice.
    """
    query = select(Inspection)
    for column, value in (
        (Inspection.group, notice.group),
        (Inspection.start, notice.start),
        (Inspection.end, notice.end),
        (Inspection.feedback, notice.feedback),
    ):
        query = query.where(column.is_(None) if value is None else column == value)
    wanted = _fingerprint(notice)
    for inspection in session.exec(query.order_by(Inspection.id)):
        rows = session.exec(
            select(Area.id, Area.title, Task.title)
            .join(Task, Task.area_id == Area.id, isouter=True)
            .where(Area.inspection_id == inspection.id)
            .order_by(Area.number, Task.number)
        ).all()
        found: dict[int, tuple[str, list[str]]] = {}
        for area_id, area_title, task_title in rows:
            _, titles = found.setdefault(area_id, (_key(area_title), []))
            if task_title is not None:
                titles.append(_key(task_title))
        if [(title, tuple(tasks)) for title, tasks in found.values()] == wanted:
            return inspection
    return None


PARTY_BODY = "(?:党组|党委|党工委|党总支|党支部|委员会)"


def _unit(notice: ParsedNotice) -> str | None:
    """ "中共青川市水务局党组" → "青川市水务局": the inspected unit named by the issuer.

    A feedback document is issued by the inspection group itself; its unit is the one
    its title names ("关于巡察市林业局党组的反馈意见").
    """
    issuer = notice.issuer
    if issuer and (GROUP_NUMBERED.fullmatch(issuer) or GROUP_PLAIN.fullmatch(issuer)):
        named = re.search(rf"关于(?:对)?巡[察视](?P<unit>.+?){PARTY_BODY}?的", notice.title or "")
        return named["unit"] if named else None
    if not issuer:
        return None
    unit = re.sub(rf"{PARTY_BODY}$", "", issuer.removeprefix("中共"))
    return unit or issuer
