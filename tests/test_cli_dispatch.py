"""Answering a dispatch round from the command line, with evidence, and what is refused."""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from flows.dispatch import open_due_rounds
from models.db import make_engine
from models.dispatch_tables import DispatchRequest
from models.settings import Settings
from models.stages import Stage
from tests.cli_harness import assert_one_line_error, write
from tests.test_cli import PDF

OPENING = datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Asia/Shanghai"))  # Monday, 2027 Q1


def open_round(demo) -> None:
    engine = make_engine(demo.url)
    try:
        assert open_due_rounds(engine, OPENING, Settings(home=demo.home)).opened
    finally:
        engine.dispose()


def answers(demo) -> dict[int, bool]:
    engine = make_engine(demo.url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(DispatchRequest.task_id, DispatchRequest.answered_at))
            return {task_id: answered is not None for task_id, answered in rows}
    finally:
        engine.dispose()


def test_an_officer_answers_the_round_with_a_report_and_its_evidence(demo, tmp_path):
    open_round(demo)
    task = demo.tasks(Stage.ACTING)[0]
    photo = write(tmp_path / "files" / "现场照片.pdf", PDF)

    result = demo.ok("task", "report", task["id"], "--as", task["officer"], "--status", "基本完成",
                     "--text", "主体工程已完工，正在验收", "--file", photo)  # fmt: skip

    assert "报送进展，附佐证材料 1 份（已计入本轮调度）" in result.out
    assert answers(demo)[task["id"]] is True
    shown = demo.show(task["id"])
    assert [e["name"] for e in shown["evidence"]] == ["现场照片.pdf"]
    assert shown["progress"][-1]["text"] == "主体工程已完工，正在验收"


def test_a_report_for_a_signed_off_task_is_refused_in_one_line_and_changes_nothing(demo, tmp_path):
    open_round(demo)
    task = demo.tasks(Stage.SIGNED_OFF)[0]
    photo = write(tmp_path / "files" / "照片.pdf", PDF)
    before, files = demo.counts(), demo.evidence_files()

    result = demo("task", "report", task["id"], "--as", task["officer"], "--status", "已完成",
                  "--text", "已完成", "--file", photo)  # fmt: skip

    assert_one_line_error(result, "已销号", "不能")
    assert demo.counts() == before
    assert demo.evidence_files() == files  # the upload was taken back


def test_a_report_by_someone_who_is_not_the_officer_is_refused_and_answers_nothing(demo):
    open_round(demo)
    task = demo.tasks(Stage.ACTING)[0]

    result = demo("task", "report", task["id"], "--as", "许文博", "--status", "已完成",
                  "--text", "代为报送")  # fmt: skip

    assert_one_line_error(result, "无权")
    assert answers(demo)[task["id"]] is False
