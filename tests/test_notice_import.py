"""Importing a notice file into the ledger, on SQLite and PostgreSQL: once, whole or not at all."""

from pathlib import Path

import docx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import flows.notice_import
from flows.notice_import import SAME_CONTENT, SAME_FILE, import_notice_file
from models.audit import AuditEvent
from models.directory import system_actor
from models.errors import BadInput
from models.ledger import Area, Inspection, Measure, Task
from models.people import Person
from tests.paths import DANDONG_NOTICE, NOTICE_FIXTURES

DANDONG = DANDONG_NOTICE
NOTICES = NOTICE_FIXTURES
TABLES = (Inspection, Area, Task, Measure, AuditEvent)


@pytest.fixture
def actor(session: Session, now) -> Person:
    return system_actor(session, now)


def counts(session: Session) -> dict[str, int]:
    session.flush()
    return {
        table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
        for table in TABLES
    }


def as_docx(text: str, path: Path) -> Path:
    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(str(path))
    return path


def test_import_creates_the_inspection_with_exact_counts(session, actor, now) -> None:
    imported = import_notice_file(session, DANDONG, actor, now)

    assert imported.created is True
    assert imported.duplicate is None
    inspection = imported.inspection
    assert inspection.group == "市委第二巡察组"
    assert inspection.unit == "丹东市文化旅游和广播电视局"
    assert inspection.title == "市委第二巡察组对丹东市文化旅游和广播电视局的巡察"
    assert (inspection.start.isoformat(), inspection.end.isoformat()) == (
        "2024-04-12",
        "2024-07-12",
    )
    assert inspection.feedback.isoformat() == "2024-09-10"
    assert (inspection.publish_from.isoformat(), inspection.publish_to.isoformat()) == (
        "2025-07-21",
        "2025-08-08",
    )
    assert counts(session) == {
        "inspection": 1,
        "area": 9,
        "task": 36,
        "measure": 126,
        # one per task, plus the inspection's own chain: creation and nine areas
        "audit_event": 36 + 1 + 9,
    }
    areas = session.exec(
        select(Area).where(Area.inspection_id == inspection.id).order_by(Area.number)
    ).all()
    per_area = [
        len(session.exec(select(Task).where(Task.area_id == area.id)).all()) for area in areas
    ]
    assert per_area == [5, 5, 3, 4, 4, 5, 3, 4, 3]
    assert imported.message == (
        f"已导入“{inspection.title}”（编号 {inspection.id}）：9个方面、36项整改任务、126条整改措施"
    )


def test_every_task_gets_its_creation_event(session, actor, now) -> None:
    inspection = import_notice_file(session, DANDONG, actor, now).inspection
    tasks = session.exec(select(Task).where(Task.inspection_id == inspection.id)).all()
    for task in tasks:
        events = session.exec(select(AuditEvent).where(AuditEvent.task_id == task.id)).all()
        assert [(event.action, event.actor_id) for event in events] == [("create", actor.id)]
        measures = session.exec(
            select(Measure.text).where(Measure.task_id == task.id).order_by(Measure.number)
        ).all()
        assert events[0].data["measures"] == measures
        assert events[0].data["title"] == task.title


def test_importing_the_same_file_twice_changes_nothing(session, actor, now) -> None:
    first = import_notice_file(session, DANDONG, actor, now)
    before = counts(session)

    again = import_notice_file(session, DANDONG, actor, now)

    assert again.created is False
    assert again.duplicate == SAME_FILE
    assert again.inspection.id == first.inspection.id
    assert again.message.startswith("已导入过：同一文件已导入为")
    assert counts(session) == before


def test_the_same_notice_as_docx_or_re_encoded_is_not_imported_again(
    session, actor, now, tmp_path
) -> None:
    first = import_notice_file(session, DANDONG, actor, now)
    before = counts(session)
    text = DANDONG.read_text(encoding="utf-8")
    gbk = tmp_path / "丹东-gbk.txt"
    gbk.write_bytes(text.replace("\n", "\r\n").encode("gb18030"))

    for path in (as_docx(text, tmp_path / "丹东.docx"), gbk):
        again = import_notice_file(session, path, actor, now)
        assert again.created is False
        assert again.duplicate == SAME_CONTENT
        assert again.inspection.id == first.inspection.id
        assert again.message.startswith("已导入过：内容相同的通报已导入为")
    assert counts(session) == before


def test_a_different_notice_is_imported_beside_the_first(session, actor, now, tmp_path) -> None:
    import_notice_file(session, DANDONG, actor, now)
    path = as_docx(
        (NOTICES / "four-levels.txt").read_text(encoding="utf-8"), tmp_path / "松岭.docx"
    )

    second = import_notice_file(session, path, actor, now)

    assert second.created is True
    assert second.inspection.unit == "松岭区教育局"
    assert counts(session)["inspection"] == 2
    tasks = session.exec(
        select(Area.number, Task.number, Task.title)
        .join(Task, Task.area_id == Area.id)
        .where(Area.inspection_id == second.inspection.id)
        .order_by(Area.number, Task.number)
    ).all()
    assert [(a, t) for a, t, _ in tasks] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (2, 3)]
    assert tasks[2][2] == "课后服务质量不高"


def test_same_tasks_after_another_inspection_round_are_a_new_notice(
    session, actor, now, tmp_path
) -> None:
    """Content duplicates need the same group and dates, not only the same titles."""
    text = (NOTICES / "portal-halfwidth.txt").read_text(encoding="utf-8")
    import_notice_file(session, NOTICES / "portal-halfwidth.txt", actor, now)
    later = tmp_path / "后一轮.txt"
    later.write_text(text.replace("2025年3月18日", "2025年9月18日"), encoding="utf-8")

    assert import_notice_file(session, later, actor, now).created is True
    assert counts(session)["inspection"] == 2


def test_feedback_document_names_the_inspected_unit(session, actor, now) -> None:
    imported = import_notice_file(session, NOTICES / "feedback-opinion.txt", actor, now)
    assert imported.inspection.unit == "市林业局"
    assert imported.inspection.title == "市委第五巡察组对市林业局的巡察"
    assert counts(session)["task"] == 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("news-article.txt", None, "这不是整改通报"),
        ("ledger-export.txt", None, "这不是整改通报"),
        ("empty.txt", b"", "这不是整改通报：内容为空"),
        ("binary.txt", bytes(range(256)) * 8, "无法读取通报文件"),
        ("fake.docx", "二、巡察整改落实情况".encode(), "不是有效的 Word 文件"),
        ("notice.pdf", b"%PDF-1.4\n", "不支持 PDF 文件"),
    ],
)
def test_a_file_that_is_not_a_notice_writes_nothing(
    session, actor, now, tmp_path, name, content, message
) -> None:
    path = NOTICES / name if content is None else tmp_path / name
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(BadInput, match=message):
        import_notice_file(session, path, actor, now)

    assert counts(session) == {table.__tablename__: 0 for table in TABLES}


def test_a_failure_half_way_leaves_no_trace(session, actor, now, monkeypatch) -> None:
    real_add_task = flows.notice_import.add_task
    calls = []

    def failing_add_task(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise BadInput("模拟的写入失败")
        return real_add_task(*args, **kwargs)

    monkeypatch.setattr(flows.notice_import, "add_task", failing_add_task)

    with pytest.raises(BadInput, match="模拟的写入失败"):
        import_notice_file(session, DANDONG, actor, now)

    assert len(calls) == 7
    assert counts(session) == {table.__tablename__: 0 for table in TABLES}
    monkeypatch.setattr(flows.notice_import, "add_task", real_add_task)
    assert import_notice_file(session, DANDONG, actor, now).created is True
    assert counts(session)["task"] == 36
