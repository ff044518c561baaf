"""Turning a parsed notice into an inspection with its areas, tasks and measures."""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from flows.notice import ParsedNotice, parse_notice, read_notice_text
from models.intake import add_area, add_task, create_inspection, find_inspection_by_source
from models.ledger import Inspection
from models.people import Person


@dataclass
class NoticeImport:
    inspection: Inspection
    created: bool
    notice: ParsedNotice


def import_notice_bytes(
    session: Session, data: bytes, actor: Person, now: datetime
) -> NoticeImport:
    """Import a notice once: the same file (by content hash) is never imported twice."""
    notice = parse_notice(read_notice_text(data))
    sha = hashlib.sha256(data).hexdigest()
    existing = find_inspection_by_source(session, sha)
    if existing is not None:
        return NoticeImport(existing, created=False, notice=notice)
    unit = _unit(notice.issuer)
    inspection = create_inspection(
        session,
        title=f"{notice.group or '巡察组'}对{unit or '被巡察单位'}的巡察",
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


def _unit(issuer: str | None) -> str | None:
    """ "中共青川市水务局党组" → "青川市水务局": the inspected unit named by the issuer."""
    if not issuer:
        return None
    unit = issuer.removeprefix("中共")
    for suffix in ("党组", "党委", "党工委", "党总支", "党支部"):
        unit = unit.removesuffix(suffix)
    return unit or issuer
