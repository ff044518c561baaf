"""The 整改台账 and 销号台账 as Excel files: export, fill in by hand, import back."""

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Border, Side
from sqlalchemy import func
from sqlmodel import Session, select

from flows import ledger_import
from flows.demo import load_demo
from flows.ledger_export import export_closed, export_ledger
from flows.ledger_import import import_ledger
from flows.ledger_xlsx import (
    CLOSED_COLUMNS,
    ID_COLUMN,
    LEDGER_COLUMNS,
    LIGHT_FILLS,
    display_width,
)
from models import audit
from models.audit import AuditEvent
from models.calendar import local_date
from models.directory import find_department, find_person, system_actor
from models.errors import BadInput, NotFound, Refused
from models.intake import create_inspection
from models.ledger import Area, DeadlineClass, Measure, Task, TaskSupport
from models.lights import Light, light
from models.records import DeadlineChange, ProgressReport
from models.stages import STAGE_LABELS, Action, Stage
from tests.factories import POLICY, World
from tests.office import convert

HEADER = [c.name for c in LEDGER_COLUMNS]


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def demo(session, now, tmp_path) -> Session:
    load_demo(session, tmp_path / "home", now, POLICY)
    session.flush()
    return session


@pytest.fixture
def today(now) -> date:
    return local_date(now)


class Sheet:
    """An exported ledger opened with openpyxl, addressed by task and column name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.book = load_workbook(path)
        self.ws = self.book.worksheets[0]
        header = [cell.value for cell in self.ws[2]]
        self.column = {name: index + 1 for index, name in enumerate(header) if name}
        self.line_of = {
            self.ws.cell(row, self.column[ID_COLUMN]).value: row
            for row in range(3, self.ws.max_row + 1)
            if self.ws.cell(row, self.column[ID_COLUMN]).value is not None
        }

    def cell(self, task: Task | int, name: str):
        task_id = task if isinstance(task, int) else task.id
        return self.ws.cell(self.line_of[task_id], self.column[name])

    def set(self, task: Task | int, **values) -> None:
        for name, value in values.items():
            self.cell(task, name).value = value

    def save(self, name: str = "filled.xlsx") -> Path:
        path = self.path.with_name(name)
        self.book.save(path)
        return path


def export(session: Session, tmp_path: Path, today: date, **kwargs) -> Sheet:
    path = tmp_path / "ledger.xlsx"
    export_ledger(session, path, today, **kwargs)
    return Sheet(path)


def task_titled(session: Session, title: str) -> Task:
    return session.exec(select(Task).where(Task.title == title)).one()


def events(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def import_as_system(session: Session, path: Path, now: datetime, **kwargs):
    return import_ledger(session, path, system_actor(session, now), now, **kwargs)


PENDING = "水利专项资金使用绩效不高"  # 3.4 in the demo, 待交办
ASSIGNED = "落实水资源刚性约束制度不严格"  # 1.2, 已交办
ACTING = "农村饮水安全保障不到位"  # 2.1, 整改中, red
IMMEDIATE = "城乡供水服务质量不高"  # 2.2, 已交办, 立行立改
SIGNED_OFF = "群众涉水诉求回应不够及时"  # 2.3, 已销号


# --- export ----------------------------------------------------------------------------


def test_export_has_the_familiar_ledger_layout(demo, tmp_path, today):
    path = tmp_path / "ledger.xlsx"
    written = export_ledger(demo, path, today)
    tasks = demo.exec(select(Task)).all()
    assert written == len(tasks) == 14
    sheet = Sheet(path)
    ws = sheet.ws

    assert ws.title == "整改台账"
    assert "整改台账" in ws["A1"].value and "市委第三巡察组" in ws["A1"].value
    assert [cell.value for cell in ws[2]] == HEADER
    assert HEADER[:13] == [
        *("序号", "方面", "问题", "整改措施", "责任领导", "牵头部门", "配合部门"),
        *("责任人", "整改时限", "时限类别", "进展情况", "状态", "红黄绿灯"),
    ]
    assert ws.freeze_panes == "D3"
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert "A1:M1" in merged
    # Each 方面 heads its tasks in a row of its own, merged across the table.
    areas = demo.exec(select(Area).order_by(Area.number)).all()
    area_lines = [row for row in range(3, ws.max_row + 1) if ws.cell(row, 1).value.startswith("（")]
    assert [ws.cell(row, 1).value for row in area_lines] == [
        f"（{numeral}）{area.title}" for numeral, area in zip("一二三四", areas, strict=True)
    ]
    assert all(f"A{row}:M{row}" in merged for row in area_lines)
    assert ws.max_row == 2 + len(areas) + len(tasks)

    # Column widths fit the Chinese headers; the task id column is there but hidden.
    for index, column in enumerate(LEDGER_COLUMNS, start=1):
        dimension = ws.column_dimensions[ws.cell(2, index).column_letter]
        assert dimension.width >= display_width(column.name) + 2
        assert dimension.width == max(column.width, display_width(column.name) + 2)
        assert bool(dimension.hidden) == (column.name == ID_COLUMN)

    # Lights as fill colours, stage labels, measures numbered and wrapped, latest progress.
    lamps = set()
    for task in tasks:
        lamp = light(task, today)
        lamps.add(lamp)
        cell = sheet.cell(task, "红黄绿灯")
        if lamp in LIGHT_FILLS:
            assert cell.fill.fill_type == "solid"
            assert cell.fill.fgColor.rgb == LIGHT_FILLS[lamp]
        else:
            assert cell.fill.fill_type is None
        assert sheet.cell(task, "状态").value == STAGE_LABELS[Stage(task.stage)]
        measures = demo.exec(
            select(Measure.text).where(Measure.task_id == task.id).order_by(Measure.number)
        ).all()
        text = sheet.cell(task, "整改措施")
        assert text.value == "\n".join(f"{n}. {m}" for n, m in enumerate(measures, start=1))
        assert text.alignment.wrap_text
        reports = demo.exec(
            select(ProgressReport.text)
            .where(ProgressReport.task_id == task.id)
            .order_by(ProgressReport.at.desc())
        ).all()
        assert sheet.cell(task, "进展情况").value == (reports[0] if reports else None)
    assert {Light.RED, Light.YELLOW, Light.GREEN, Light.DONE, Light.NONE} <= lamps

    acting = task_titled(demo, ACTING)
    assert sheet.cell(acting, "责任人").value == "马俊峰"
    assert sheet.cell(acting, "牵头部门").value == "农村水利科"
    assert sheet.cell(acting, "配合部门").value == "财务审计科"
    assert sheet.cell(acting, "整改时限").value.date() == acting.deadline
    assert sheet.cell(acting, "整改时限").number_format == "yyyy-mm-dd"
    assert sheet.cell(acting, "时限类别").value == "限期整改"
    assert sheet.cell(acting, "红黄绿灯").value == "红灯"
    long_term = task_titled(demo, "全面从严治党主体责任传导不够")
    assert sheet.cell(long_term, "整改时限").value == "长期"
    pending = task_titled(demo, PENDING)
    assert sheet.cell(pending, "责任人").value is None
    assert sheet.cell(pending, "状态").value == "待交办"


def test_export_of_an_empty_database_asks_for_an_inspection_first(session, tmp_path, today):
    with pytest.raises(BadInput, match="还没有任何巡察"):
        export_ledger(session, tmp_path / "ledger.xlsx", today)
    assert not (tmp_path / "ledger.xlsx").exists()


def test_export_needs_an_xlsx_name_in_an_existing_folder(world, session, tmp_path, today):
    world.new_task()
    with pytest.raises(BadInput, match=r"\.xlsx"):
        export_ledger(session, tmp_path / "ledger.xls", today)
    with pytest.raises(BadInput, match="找不到目录"):
        export_closed(session, tmp_path / "missing" / "closed.xlsx")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("ledger")]


def test_several_inspections_need_to_be_told_apart(world, session, tmp_path, today, now):
    world.task_at(Stage.ASSIGNED)
    other = create_inspection(session, title="第二轮巡察", actor=world.system, now=now)
    path = tmp_path / "ledger.xlsx"
    with pytest.raises(BadInput, match="--inspection"):
        export_ledger(session, path, today)
    with pytest.raises(BadInput, match="--inspection"):
        export_closed(session, path)
    assert export_ledger(session, path, today, inspection_id=world.inspection.id) == 1
    with pytest.raises(BadInput, match="--inspection"):
        import_as_system(session, path, now)
    assert import_as_system(session, path, now, inspection_id=world.inspection.id).unchanged == 1
    assert export_ledger(session, path, today, inspection_id=other.id) == 0
    with pytest.raises(NotFound):
        export_ledger(session, path, today, inspection_id=other.id + 100)


# --- import: the round trip ------------------------------------------------------------


def test_filled_in_ledger_comes_back_as_assignments_and_reassignments(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    pending, assigned = task_titled(demo, PENDING), task_titled(demo, ASSIGNED)
    old_deadline = assigned.deadline
    sheet.set(
        pending,
        责任领导="陈立群",
        牵头部门="财务审计科",
        配合部门="水利工程建设科、农村水利科",
        责任人="谢宏宇",
        整改时限="2026年12月31日",
        时限类别="限期整改",
    )
    sheet.set(assigned, 整改时限=datetime(2026, 12, 15))
    filled = sheet.save()
    before = events(demo)

    result = import_as_system(demo, filled, now)

    assert (result.assigned, result.reassigned, result.unchanged) == (1, 1, 12)
    assert pending.stage == Stage.ASSIGNED
    assert pending.officer_id == find_person(demo, "谢宏宇").id
    assert pending.leader_id == find_person(demo, "陈立群").id
    assert pending.lead_department_id == find_department(demo, "财务审计科").id
    supports = demo.exec(
        select(TaskSupport.department_id).where(TaskSupport.task_id == pending.id)
    ).all()
    assert set(supports) == {
        find_department(demo, "水利工程建设科").id,
        find_department(demo, "农村水利科").id,
    }
    assert pending.deadline == date(2026, 12, 31)
    assert pending.deadline_class == DeadlineClass.DATED
    assert assigned.deadline == date(2026, 12, 15)

    new = demo.exec(select(AuditEvent).order_by(AuditEvent.id)).all()[before:]
    assert {(e.task_id, e.action, e.actor_name) for e in new} == {
        (pending.id, Action.ASSIGN, "系统"),
        (assigned.id, Action.REASSIGN, "系统"),
    }
    reassigned = next(e for e in new if e.action == Action.REASSIGN)
    assert reassigned.data["deadline"] == {"from": str(old_deadline), "to": "2026-12-15"}
    changes = {
        c.task_id: c
        for c in demo.exec(select(DeadlineChange).where(DeadlineChange.at == now)).all()
    }
    assert changes[pending.id].new_deadline == date(2026, 12, 31)
    assert changes[pending.id].via == Action.ASSIGN
    assert (changes[assigned.id].old_deadline, changes[assigned.id].new_deadline) == (
        old_deadline,
        date(2026, 12, 15),
    )
    assert changes[assigned.id].via == Action.REASSIGN
    assert audit.verify(demo) == []

    # The same file again: everything already matches, nothing happens.
    again = import_as_system(demo, filled, now)
    assert (again.assigned, again.reassigned, again.unchanged) == (0, 0, 14)
    assert events(demo) == before + 2


def test_a_reexported_ledger_imports_unchanged(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    before = events(demo)
    result = import_as_system(demo, sheet.path, now)
    assert (result.assigned, result.reassigned, result.unchanged) == (0, 0, 14)
    assert events(demo) == before


def test_reassignment_changes_only_what_the_file_changes(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    task = task_titled(demo, IMMEDIATE)
    deadline = task.deadline
    sheet.set(task, 责任人="何静怡", 配合部门="农村水利科、办公室", 时限类别="限期整改")
    result = import_as_system(demo, sheet.save(), now)
    assert result.reassigned == 1
    event = demo.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event.action == Action.REASSIGN
    assert set(event.data) == {"officer", "support_departments", "deadline_class", "reason"}
    assert "整改台账" in event.data["reason"]
    assert task.officer_id == find_person(demo, "何静怡").id
    assert task.deadline == deadline
    assert task.deadline_class == DeadlineClass.DATED


def test_titles_edited_in_the_file_still_match_by_the_hidden_id(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    assigned = task_titled(demo, ASSIGNED)
    sheet.set(assigned, 问题="（改过的标题）", 序号="9.9", 整改时限="2026-12-20")
    import_as_system(demo, sheet.save(), now)
    assert assigned.deadline == date(2026, 12, 20)
    assert assigned.title == ASSIGNED


# --- import: bad rows ------------------------------------------------------------------


def test_every_bad_row_is_reported_and_nothing_is_written(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    pending, assigned = task_titled(demo, PENDING), task_titled(demo, ASSIGNED)
    immediate, acting = task_titled(demo, IMMEDIATE), task_titled(demo, ACTING)
    signed_off = task_titled(demo, SIGNED_OFF)
    sheet.set(
        pending,
        责任领导="陈立群",
        牵头部门="不存在科",
        责任人="查无此人",
        整改时限="2026-12-31",
        时限类别="限期整改",
    )
    sheet.set(assigned, 整改时限="下个月")
    sheet.set(immediate, 时限类别="尽快整改")
    sheet.set(acting, 配合部门="财务审计科、外星办", 整改时限="2026-12-01")
    sheet.set(signed_off, 责任人="何静怡")
    good = task_titled(demo, "水利工程质量监管不严格")
    good_deadline = good.deadline
    sheet.set(good, 整改时限=date(2027, 1, 29))  # a valid change, held back with the rest
    filled = sheet.save()
    before = events(demo)
    versions = {t.id: t.version for t in demo.exec(select(Task)).all()}

    with pytest.raises(BadInput) as caught:
        import_as_system(demo, filled, now)

    message = str(caught.value)
    line = sheet.line_of
    expected = [
        f"第 {line[pending.id]} 行 责任人：找不到人员“查无此人”",
        f"第 {line[pending.id]} 行 牵头部门：找不到部门“不存在科”",
        f"第 {line[assigned.id]} 行 整改时限：“下个月”不是日期",
        f"第 {line[immediate.id]} 行 时限类别：不认识“尽快整改”",
        f"第 {line[acting.id]} 行 配合部门：找不到部门“外星办”",
        f"第 {line[signed_off.id]} 行 责任人：任务处于“已销号”阶段，不能调整交办",
    ]
    for problem in expected:
        assert problem in message
    assert message.startswith("整改台账有 6 处问题，未导入任何内容")
    demo.expire_all()
    assert events(demo) == before
    assert {t.id: t.version for t in demo.exec(select(Task)).all()} == versions
    assert task_titled(demo, PENDING).stage == Stage.PENDING
    assert task_titled(demo, "水利工程质量监管不严格").deadline == good_deadline


def test_incomplete_assignments_and_inconsistent_deadlines_are_bad_rows(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    pending, assigned = task_titled(demo, PENDING), task_titled(demo, ASSIGNED)
    sheet.set(pending, 责任人="谢宏宇", 整改时限="2026-12-31")
    sheet.set(assigned, 责任人=None, 整改时限="长期")
    with pytest.raises(BadInput) as caught:
        import_as_system(demo, sheet.save(), now)
    message = str(caught.value)
    assert f"第 {sheet.line_of[pending.id]} 行 责任领导：交办须填写责任领导" in message
    assert f"第 {sheet.line_of[pending.id]} 行 牵头部门：交办须填写牵头部门" in message
    assert f"第 {sheet.line_of[assigned.id]} 行 责任人：不能清空已交办任务的责任人" in message
    assert f"第 {sheet.line_of[assigned.id]} 行 整改时限：“长期”只适用于长期坚持" in message


def test_people_without_the_role_and_unknown_tasks_are_bad_rows(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    assigned = task_titled(demo, ASSIGNED)
    sheet.set(assigned, 责任领导="何静怡")  # an officer, not a leader
    last = sheet.ws.max_row + 1
    sheet.ws.cell(last, sheet.column[ID_COLUMN]).value = 99999
    sheet.ws.cell(last + 1, sheet.column["问题"]).value = "台账里没有的问题"
    with pytest.raises(BadInput) as caught:
        import_as_system(demo, sheet.save(), now)
    message = str(caught.value)
    line = sheet.line_of[assigned.id]
    assert f"第 {line} 行 责任领导：何静怡 没有责任领导身份" in message
    assert f"第 {last} 行 任务编号：找不到任务“99999”" in message
    assert f"第 {last + 1} 行 问题：找不到任务“台账里没有的问题”" in message


def test_a_change_the_workflow_refuses_rolls_everything_back(world, session, tmp_path, now):
    """Checked rows can still be refused by `apply` (here: a deactivated importer)."""
    first, second = world.new_task(), world.task_at(Stage.ASSIGNED)
    path = tmp_path / "ledger.xlsx"
    export_ledger(session, path, local_date(now))
    sheet = Sheet(path)
    sheet.set(first, 责任领导="张伟", 牵头部门="河湖管理科", 责任人="李明", 整改时限="2026-11-30")
    sheet.set(second, 整改时限="2026-12-31")
    filled = sheet.save()
    world.office.active = False
    session.flush()
    before = events(session)
    with pytest.raises(BadInput) as caught:
        import_ledger(session, filled, world.office, now)
    message = str(caught.value)
    assert f"第 {sheet.line_of[first.id]} 行" in message and "已停用" in message
    assert "未导入任何内容" in message
    assert events(session) == before
    assert first.stage == Stage.PENDING and first.officer_id is None
    assert second.deadline == world.deadline


def test_a_refusal_after_earlier_rows_were_applied_undoes_them(
    world, session, tmp_path, now, monkeypatch
):
    first, second = world.new_task(), world.task_at(Stage.ASSIGNED)
    sheet = export(session, tmp_path, local_date(now))
    sheet.set(first, 责任领导="张伟", 牵头部门="河湖管理科", 责任人="李明", 整改时限="2026-11-30")
    sheet.set(second, 整改时限="2026-12-31")
    filled = sheet.save()
    before = events(session)
    real_apply = ledger_import.apply

    def refusing_apply(session, task, action, actor, now, **data):
        if task.id == second.id:
            raise Refused("任务已被他人调整")
        return real_apply(session, task, action, actor, now, **data)

    monkeypatch.setattr(ledger_import, "apply", refusing_apply)
    with pytest.raises(BadInput) as caught:
        import_as_system(session, filled, now)
    assert f"第 {sheet.line_of[second.id]} 行 整改时限：任务已被他人调整" in str(caught.value)
    assert events(session) == before
    assert first.stage == Stage.PENDING and first.officer_id is None
    assert not session.exec(select(DeadlineChange).where(DeadlineChange.task_id == first.id)).all()


def test_an_officer_may_not_import_the_ledger(world, session, tmp_path, now):
    world.new_task()
    path = tmp_path / "ledger.xlsx"
    export_ledger(session, path, local_date(now))
    with pytest.raises(BadInput, match="无权通过台账交办"):
        import_ledger(session, path, world.officer, now)


# --- import: what people do to spreadsheets --------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [datetime(2026, 12, 31), "2026-12-31", "2026/12/31", "2026年12月31日", 46387],
    ids=["excel-date", "iso", "slashes", "chinese", "serial"],
)
def test_deadlines_in_the_forms_people_type_them(world, session, tmp_path, now, cell):
    task = world.new_task()
    sheet = export(session, tmp_path, local_date(now))
    sheet.set(task, 责任领导="张伟", 牵头部门="河湖管理科", 责任人="李明", 整改时限=cell)
    assert import_as_system(session, sheet.save(), now).assigned == 1
    assert task.deadline == date(2026, 12, 31)
    assert task.deadline_class == DeadlineClass.DATED


@pytest.mark.parametrize("cell", [None, "长期"])
def test_long_term_tasks_need_no_date(world, session, tmp_path, now, cell):
    task = world.new_task()
    sheet = export(session, tmp_path, local_date(now))
    sheet.set(task, 责任领导="张伟", 牵头部门="河湖管理科", 责任人="李明")
    sheet.set(task, 整改时限=cell, 时限类别="长期坚持")
    assert import_as_system(session, sheet.save(), now).assigned == 1
    assert task.deadline is None
    assert task.deadline_class == DeadlineClass.LONG_TERM
    # Exported again, it reads 长期, and comes back unchanged.
    sheet = export(session, tmp_path, local_date(now))
    assert sheet.cell(task, "整改时限").value == "长期"
    assert import_as_system(session, sheet.path, now).unchanged == 1


def test_merged_cells_and_blank_trailing_rows(demo, tmp_path, today, now):
    sheet = export(demo, tmp_path, today)
    ws = sheet.ws
    # 方面 merged down over the tasks of area 1, as hand-kept ledgers do.
    area_one = sorted(
        sheet.line_of[t.id]
        for t in demo.exec(select(Task).join(Area).where(Area.number == 1)).all()
    )
    column = sheet.column["方面"]
    for row in area_one[1:]:
        ws.cell(row, column).value = None
    ws.merge_cells(
        start_row=area_one[0], end_row=area_one[-1], start_column=column, end_column=column
    )
    # One new officer written once, merged down over two tasks.
    acting, immediate = task_titled(demo, ACTING), task_titled(demo, IMMEDIATE)
    top, below = sheet.line_of[acting.id], sheet.line_of[immediate.id]
    assert below == top + 1
    officer = sheet.column["责任人"]
    ws.cell(top, officer).value = "高若兰"
    ws.cell(below, officer).value = None
    ws.merge_cells(start_row=top, end_row=below, start_column=officer, end_column=officer)
    # Blank rows (some only formatted or holding spaces) and a note below the table.
    end = ws.max_row
    for row in range(end + 1, end + 6):
        ws.cell(row, 3).border = Border(bottom=Side(style="thin"))
    ws.cell(end + 3, 5).value = "   "
    ws.cell(end + 7, 1).value = "注：请于每月25日前更新本台账。"
    filled = sheet.save()

    result = import_as_system(demo, filled, now)

    assert (result.assigned, result.reassigned, result.unchanged) == (0, 2, 12)
    gao = find_person(demo, "高若兰").id
    assert acting.officer_id == gao and immediate.officer_id == gao


def test_a_hand_made_ledger_without_ids_matches_by_title(world, session, tmp_path, now):
    first, second = world.new_task(), world.new_task()
    book = Workbook()
    ws = book.active
    ws.append(
        ["编号", "具体问题", "分管领导", "牵头单位", "配合单位", "责任人", "完成时限", "时限类别"]
    )
    ws.append([1, first.title, "张  伟", "河湖管理科", "", "李 明", "2026.11.30", "立行立改"])
    ws.append([2, second.title, "张伟", "河湖管理科", "水资源科", "李明", "", "长期坚持"])
    ws.append([None, None, None, None, None, None, None, None])
    path = tmp_path / "hand-made.xlsx"
    book.save(path)
    result = import_as_system(session, path, now)
    assert result.assigned == 2
    assert (first.deadline, first.deadline_class) == (date(2026, 11, 30), DeadlineClass.IMMEDIATE)
    assert (second.deadline, second.deadline_class) == (None, DeadlineClass.LONG_TERM)
    assert first.officer_id == second.officer_id == world.officer.id


def test_files_that_are_not_ledgers_are_refused(world, session, tmp_path, now):
    world.new_task()
    with pytest.raises(BadInput, match="找不到文件"):
        import_as_system(session, tmp_path / "missing.xlsx", now)
    text = tmp_path / "ledger.csv"
    text.write_text("序号,问题\n")
    with pytest.raises(BadInput, match=r"\.xlsx"):
        import_as_system(session, text, now)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(BadInput, match="无法读取"):
        import_as_system(session, broken, now)
    book = Workbook()
    book.active.append(["姓名", "部门"])
    other = tmp_path / "people.xlsx"
    book.save(other)
    with pytest.raises(BadInput, match="找不到表头"):
        import_as_system(session, other, now)


# --- the closed ledger (销号台账) -------------------------------------------------------


def test_closed_ledger_lists_the_signed_off_tasks(demo, tmp_path):
    path = tmp_path / "closed.xlsx"
    written = export_closed(demo, path)
    closed = demo.exec(
        select(Task).where(Task.stage.in_([Stage.SIGNED_OFF, Stage.LOOKBACK, Stage.CONSOLIDATED]))
    ).all()
    assert written == len(closed) == 4
    ws = load_workbook(path).worksheets[0]
    assert [c.value for c in ws[2]] == [c.name for c in CLOSED_COLUMNS]
    assert ws.freeze_panes == "D3"
    rows = {
        row[-1]: dict(zip([c.name for c in CLOSED_COLUMNS], row, strict=True))
        for row in ws.iter_rows(min_row=3, values_only=True)
        if row[-1] is not None
    }
    assert set(rows) == {t.id for t in closed}
    for task in closed:
        row = rows[task.id]
        assert row["问题"] == task.title
        assert row["审批人"] == "邓佳琪"
        assert row["佐证材料（份）"] == 1
        assert row["销号日期"].date() == local_date(task.signed_off_at)
        assert row["销号申请日期"].date() == local_date(task.submitted_at)
    labels = {demo.get(Task, task_id).stage: row["回头看情况"] for task_id, row in rows.items()}
    assert labels == {
        Stage.SIGNED_OFF: "待回头看",
        Stage.LOOKBACK: "回头看中",
        Stage.CONSOLIDATED: "已巩固",
    }


def test_closed_ledger_names_both_signers_and_counts_rebounds(world: World, session, tmp_path):
    world.two_signatures()
    task = world.new_task()
    for action in (Action.ASSIGN, Action.START, Action.ATTACH_EVIDENCE):
        world.do(task, action)
    world.do(task, Action.ATTACH_EVIDENCE, file=world.evidence(b"%PDF-1.4\n% second\n"))
    world.do(task, Action.SUBMIT)
    world.do(task, Action.ENDORSE)
    world.do(task, Action.APPROVE)
    world.do(task, Action.OPEN_LOOKBACK)
    world.do(task, Action.REBOUND)
    world.do(task, Action.SUBMIT)
    world.do(task, Action.ENDORSE)
    world.do(task, Action.APPROVE, actor=world.leadership)
    untouched = world.task_at(Stage.ACTING)

    path = tmp_path / "closed.xlsx"
    assert export_closed(session, path) == 1
    ws = load_workbook(path).worksheets[0]
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True) if r[-1] is not None]
    assert [r[-1] for r in rows] == [task.id]
    row = dict(zip([c.name for c in CLOSED_COLUMNS], rows[0], strict=True))
    assert row["审批人"] == "张伟、周明"  # this round's endorsement, then its approval
    assert row["佐证材料（份）"] == 2
    assert row["回头看情况"] == "待回头看（反弹1次）"
    assert untouched.id not in [r[-1] for r in rows]


def test_exports_stream_large_text_safely(world, session, tmp_path, now):
    task = world.new_task()
    task.title = "含有<尖括号>&符号\x07和控制字符 "
    world.do(task, Action.ASSIGN)
    world.do(task, Action.START)
    world.do(task, Action.REPORT_PROGRESS, text="第一行\r\n第二行" + "很长" * 400)
    sheet = export(session, tmp_path, local_date(now))
    assert sheet.cell(task, "问题").value == "含有<尖括号>&符号和控制字符 "
    assert sheet.cell(task, "进展情况").value.startswith("第一行\n第二行很长")
    height = sheet.ws.row_dimensions[sheet.line_of[task.id]].height
    assert height > 100  # a tall cell gets a tall row, in every spreadsheet program
    assert sheet.ws.row_dimensions[sheet.line_of[task.id] - 1].height < 30  # the area row


def test_libreoffice_opens_the_exported_ledgers(demo, tmp_path, today):
    """LibreOffice Calc reads both workbooks: headers, area rows and task titles survive."""
    ledger, closed = tmp_path / "台账.xlsx", tmp_path / "销号台账.xlsx"
    export_ledger(demo, ledger, today)
    export_closed(demo, closed)

    for workbook in (ledger, closed):
        csv_file = convert(
            workbook, "csv:Text - txt - csv (StarCalc):44,34,76", tmp_path, tmp_path / "lo"
        )
        text = csv_file.read_text(encoding="utf-8")
        assert "序号" in text and "问题" in text, text[:300]
    ledger_text = (tmp_path / "台账.csv").read_text(encoding="utf-8")
    assert "（一）" in ledger_text
    for task in demo.exec(select(Task)):
        assert task.title in ledger_text
