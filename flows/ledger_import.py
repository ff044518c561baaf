"""Importing the 整改台账 filled in by hand: owners, leaders, departments and deadlines come back
as assignments (交办) and reassignments (调整交办), each through the workflow and the audit trail.

Every row is checked before anything changes, and every bad row is reported at once
("第 N 行 列名：原因"); nothing is written if any row is bad. Rows are matched to tasks by the
hidden 任务编号 column of an exported ledger, else by 序号 ("2.3"), else by the 问题 text.
Merged cells (方面 or a person merged down several rows) count for every row they cover.
"""

import posixpath
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from openpyxl import load_workbook
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.datetime import from_excel
from sqlalchemy import select
from sqlmodel import Session

from flows.ledger_xlsx import ID_COLUMN, LEDGER_SHEET, LONG_TERM_WORD
from models.audit import AuditHead, task_chain
from models.errors import BadInput, RectifyError
from models.ledger import DEADLINE_CLASS_LABELS, Area, DeadlineClass, Task, TaskSupport
from models.people import ROLE_LABELS, Department, Person, Role
from models.queries import choose_inspection
from models.stages import ACTION_LABELS, STAGE_LABELS, Action, Stage, rule_for
from models.workflow import apply, flush_batch

# What hand-made ledgers call the columns, mapped to the names of the exported layout.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    ID_COLUMN: (),
    "序号": ("编号",),
    "问题": ("具体问题", "存在问题", "反馈问题", "问题描述", "问题清单"),
    "责任领导": ("分管领导", "牵头领导"),
    "牵头部门": ("牵头单位", "责任部门", "责任单位"),
    "配合部门": ("配合单位", "协办部门", "协办单位"),
    "责任人": ("具体责任人",),
    "整改时限": ("完成时限", "时限"),
    "时限类别": ("时限类型", "整改类别", "整改类型"),
}
REQUIRED = ("责任领导", "牵头部门", "配合部门", "责任人", "整改时限", "时限类别")
HEADER_SEARCH_ROWS = 30
SEPARATORS = re.compile(r"[、,，;；/\s]+")
SPACES = re.compile(r"\s+")
TASK_NUMBER = re.compile(r"(\d+)\s*[.．、-]\s*(\d+)")
DATE_TEXT = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
)
LONG_TERM_TEXTS = (LONG_TERM_WORD, DEADLINE_CLASS_LABELS[DeadlineClass.LONG_TERM])
# Excel date serials from 2000-01-01 to 2099-12-31; other plain numbers are not dates.
SERIALS = range(36526, 73051)


@dataclass
class LedgerImportResult:
    assigned: int = 0
    reassigned: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.assigned + self.reassigned


@dataclass
class SheetRow:
    line: int  # the row number Excel shows
    cells: dict[str, Any]  # column name (of the exported layout) → value


@dataclass
class _Plan:
    line: int
    task: Task
    action: Action
    columns: list[str]
    data: dict[str, Any] = field(default_factory=dict)


FLUSH_EVERY = 500  # rows written per flush: few round trips, bounded memory


def import_ledger(
    session: Session,
    path: Path,
    actor: Person,
    now: datetime,
    inspection_id: int | None = None,
) -> LedgerImportResult:
    """Apply the owners and deadlines of a filled-in ledger, or nothing at all.

    Every row is checked first: BadInput lists every bad one and nothing is written. The
    changes are then applied inside a savepoint: should the workflow still refuse one (a
    rule the checks do not mirror, a task changed meanwhile), BadInput names that row and
    the savepoint is rolled back, so nothing is left behind either. Never commits.
    """
    path = Path(path)
    inspection = choose_inspection(session, inspection_id)
    assign_rule = rule_for(Stage.PENDING, Action.ASSIGN)
    if not actor.roles & assign_rule.who:
        needed = "、".join(ROLE_LABELS[r] for r in sorted(assign_rule.who) if r != Role.SYSTEM)
        raise BadInput(f"{actor.name} 无权通过台账交办任务：需要{needed}身份")
    rows = read_ledger_rows(path)
    if not rows:
        raise BadInput(f"{path.name} 中没有整改任务行")
    checker = _Checker(session, inspection.id, reason=f"按整改台账调整（{path.name}）")
    plans = [plan for row in rows if (plan := checker.plan(row)) is not None]
    if checker.problems:
        raise BadInput(_report(checker.problems))
    result = LedgerImportResult(unchanged=checker.unchanged)

    heads = _audit_heads(session, [plan.task.id for plan in plans])
    with session.begin_nested():  # undone if any row is refused, whatever the caller does
        for index, plan in enumerate(plans, start=1):
            try:
                apply(session, plan.task, plan.action, actor, now, flush=False, **plan.data)
            except RectifyError as error:
                where = f"第 {plan.line} 行 {'、'.join(plan.columns)}"
                raise BadInput(_report([f"{where}：{error}"])) from error
            if plan.action == Action.ASSIGN:
                result.assigned += 1
            else:
                result.reassigned += 1
            if index % FLUSH_EVERY == 0:
                flush_batch(session)
        flush_batch(session)
    heads.clear()  # they had to stay in the session only while the events were appended
    return result


def _audit_heads(session: Session, task_ids: list[int]) -> list[AuditHead]:
    """The audit chain heads of the tasks about to change, loaded in a few queries: appending
    each event then finds its head in the session instead of asking the database once more
    per task. The caller keeps the list, since the session holds unchanged objects weakly."""
    chains = [task_chain(task_id) for task_id in task_ids]
    heads: list[AuditHead] = []
    for start in range(0, len(chains), 1000):
        batch = chains[start : start + 1000]
        heads += session.execute(select(AuditHead).where(AuditHead.chain.in_(batch))).scalars()
    return heads


def _report(problems: list[str]) -> str:
    return f"整改台账有 {len(problems)} 处问题，未导入任何内容：\n" + "\n".join(problems)


# --- checking rows against the ledger --------------------------------------------------


@dataclass
class _Fields:
    """A row's assignment cells, parsed."""

    officer: Person | None
    leader: Person | None
    lead: Department | None
    supports: list[Department]
    deadline: date | None
    says_long_term: bool
    deadline_class: DeadlineClass | None

    @property
    def is_blank(self) -> bool:
        """Nothing filled in (a class alone, or "长期", does not make an assignment)."""
        cells = (self.officer, self.leader, self.lead, self.deadline)
        return all(cell is None for cell in cells) and not self.supports


class _RowProblems:
    def __init__(self, line: int) -> None:
        self.line = line
        self.items: list[str] = []

    def add(self, column: str, reason: str) -> None:
        self.items.append(f"第 {self.line} 行 {column}：{reason}")

    def __bool__(self) -> bool:
        return bool(self.items)


class _Checker:
    """Everything a row is checked against, loaded in a few queries; collects the problems."""

    def __init__(self, session: Session, inspection_id: int, reason: str) -> None:
        self.reason = reason
        self.problems: list[str] = []
        self.unchanged = 0
        self.seen: dict[int, int] = {}
        people = [
            p for p in session.execute(select(Person)).scalars() if Role.SYSTEM not in p.roles
        ]
        self.people_by_id = {p.id: p for p in people}
        self.people_by_email = {p.email.lower(): p for p in people if p.email}
        self.people_by_name: dict[str, list[Person]] = {}
        for person in people:
            self.people_by_name.setdefault(_squash(person.name), []).append(person)
        self.departments = {
            _squash(d.name): d for d in session.execute(select(Department)).scalars()
        }
        tasks = session.execute(
            select(Task, Area.number)
            .join(Area, Area.id == Task.area_id)
            .where(Task.inspection_id == inspection_id)
        ).all()
        self.tasks = {task.id: task for task, _ in tasks}
        self.by_number = {(area, task.number): task for task, area in tasks}
        self.by_title: dict[str, list[Task]] = {}
        for task, _ in tasks:
            self.by_title.setdefault(_squash(task.title), []).append(task)
        self.supports: dict[int, set[int]] = {}
        for task_id, department_id in session.execute(
            select(TaskSupport.task_id, TaskSupport.department_id)
            .join(Task, Task.id == TaskSupport.task_id)
            .where(Task.inspection_id == inspection_id)
        ):
            self.supports.setdefault(task_id, set()).add(department_id)

    def plan(self, row: SheetRow) -> _Plan | None:
        problems = _RowProblems(row.line)
        task = self._task(row, problems)
        officer = self._person(row, "责任人", problems)
        leader = self._person(row, "责任领导", problems)
        lead = self._department(row, "牵头部门", problems)
        supports = self._departments(row, "配合部门", problems)
        deadline, says_long_term = _deadline(row.cells.get("整改时限"), problems)
        chosen_class = _deadline_class(row.cells.get("时限类别"), problems)
        if task is None or problems:
            self.problems += problems.items
            return None
        fields = _Fields(officer, leader, lead, supports, deadline, says_long_term, chosen_class)
        if task.stage == Stage.PENDING:
            plan = self._assign(row.line, task, fields, problems)
        else:
            plan = self._reassign(row.line, task, fields, problems)
        self.problems += problems.items
        if plan is None and not problems:
            self.unchanged += 1
        return None if problems else plan

    # -- the two kinds of change

    def _assign(self, line: int, task: Task, f: _Fields, problems: _RowProblems) -> _Plan | None:
        if f.is_blank:
            return None  # not filled in yet
        for column, value in (("责任人", f.officer), ("责任领导", f.leader), ("牵头部门", f.lead)):
            if value is None:
                problems.add(column, f"交办须填写{column}")
        deadline_class = f.deadline_class or (
            DeadlineClass.LONG_TERM if f.says_long_term else DeadlineClass.DATED
        )
        _check_deadline(f, deadline_class, problems)
        _check_role(f.officer, Role.OFFICER, "责任人", problems)
        _check_role(f.leader, Role.LEADER, "责任领导", problems)
        _check_supports(f.lead, f.supports, problems)
        if problems:
            return None
        return _Plan(
            line,
            task,
            Action.ASSIGN,
            ["责任人", "责任领导", "牵头部门", "配合部门", "整改时限", "时限类别"],
            {
                "officer": f.officer,
                "leader": f.leader,
                "lead_department": f.lead,
                "support_departments": f.supports,
                "deadline": f.deadline,
                "deadline_class": deadline_class,
            },
        )

    def _reassign(self, line: int, task: Task, f: _Fields, problems: _RowProblems) -> _Plan | None:
        data: dict[str, Any] = {}
        for column, key, value, current in (
            ("责任人", "officer", f.officer, task.officer_id),
            ("责任领导", "leader", f.leader, task.leader_id),
            ("牵头部门", "lead_department", f.lead, task.lead_department_id),
        ):
            if value is None and current is not None:
                problems.add(column, f"不能清空已交办任务的{column}")
            elif value is not None and value.id != current:
                data[key] = value
        _check_role(data.get("officer"), Role.OFFICER, "责任人", problems)
        _check_role(data.get("leader"), Role.LEADER, "责任领导", problems)
        if {d.id for d in f.supports} != self.supports.get(task.id, set()):
            data["support_departments"] = f.supports
        deadline_class = f.deadline_class or DeadlineClass(task.deadline_class)
        _check_deadline(f, deadline_class, problems)
        if f.deadline is not None and f.deadline != task.deadline:
            data["deadline"] = f.deadline
        if deadline_class != task.deadline_class:
            data["deadline_class"] = deadline_class
        _check_supports(f.lead, f.supports, problems)
        columns = [_COLUMN_OF[key] for key in data]
        if problems or not data:
            return None
        stage = Stage(task.stage)
        if rule_for(stage, Action.REASSIGN) is None:
            problems.add(
                "、".join(columns),
                f"任务处于“{STAGE_LABELS[stage]}”阶段，不能{ACTION_LABELS[Action.REASSIGN]}",
            )
            return None
        return _Plan(line, task, Action.REASSIGN, columns, {**data, "reason": self.reason})

    # -- the cells

    def _task(self, row: SheetRow, problems: _RowProblems) -> Task | None:
        raw_id, number, title = (row.cells.get(c) for c in (ID_COLUMN, "序号", "问题"))
        task = None
        if not _blank(raw_id):
            task_id = _integer(raw_id)
            task = self.tasks.get(task_id) if task_id is not None else None
            if task is None:
                problems.add(ID_COLUMN, f"找不到任务“{_text(raw_id)}”（不属于本次巡察）")
                return None
        if task is None and (match := TASK_NUMBER.fullmatch(_text(number))):
            task = self.by_number.get((int(match[1]), int(match[2])))
        if task is None and _text(title):
            matches = self.by_title.get(_squash(_text(title)), [])
            if len(matches) > 1:
                problems.add(
                    "问题", f"有 {len(matches)} 项任务名为“{_text(title)}”，请保留任务编号列"
                )
                return None
            task = matches[0] if matches else None
        if task is None:
            where = "问题" if _text(title) else "序号"
            problems.add(where, f"找不到任务“{_text(title) or _text(number)}”")
            return None
        if task.id in self.seen:
            problems.add(ID_COLUMN, f"与第 {self.seen[task.id]} 行是同一项任务")
            return None
        self.seen[task.id] = row.line
        return task

    def _person(self, row: SheetRow, column: str, problems: _RowProblems) -> Person | None:
        text = _text(row.cells.get(column))
        if not text:
            return None
        if len(SEPARATORS.split(text)) > 1 and _squash(text) not in self.people_by_name:
            problems.add(column, f"只能填写一人：“{text}”")
            return None
        if text.isdigit():
            person = self.people_by_id.get(int(text))
        elif "@" in text:
            person = self.people_by_email.get(text.lower())
        else:
            matches = self.people_by_name.get(_squash(text), [])
            if len(matches) > 1:
                problems.add(column, f"有 {len(matches)} 人名为“{text}”，请改填邮箱或人员编号")
                return None
            person = matches[0] if matches else None
        if person is None:
            problems.add(column, f"找不到人员“{text}”")
        return person

    def _department(self, row: SheetRow, column: str, problems: _RowProblems) -> Department | None:
        text = _text(row.cells.get(column))
        if not text:
            return None
        department = self.departments.get(_squash(text))
        if department is None:
            if len(SEPARATORS.split(text)) > 1:
                problems.add(column, f"只能填写一个牵头部门：“{text}”")
            else:
                problems.add(column, f"找不到部门“{text}”")
        return department

    def _departments(self, row: SheetRow, column: str, problems: _RowProblems) -> list[Department]:
        found, unknown = [], []
        for name in filter(None, SEPARATORS.split(_text(row.cells.get(column)))):
            department = self.departments.get(_squash(name))
            if department is None:
                unknown.append(name)
            elif department not in found:
                found.append(department)
        if unknown:
            problems.add(column, f"找不到部门“{'、'.join(unknown)}”")
        return found


_COLUMN_OF = {
    "officer": "责任人",
    "leader": "责任领导",
    "lead_department": "牵头部门",
    "support_departments": "配合部门",
    "deadline": "整改时限",
    "deadline_class": "时限类别",
}


def _check_deadline(f: _Fields, deadline_class: DeadlineClass, problems: _RowProblems) -> None:
    label = DEADLINE_CLASS_LABELS[deadline_class]
    if f.says_long_term and deadline_class != DeadlineClass.LONG_TERM:
        problems.add("整改时限", f"“{LONG_TERM_WORD}”只适用于长期坚持的任务，本行时限类别为{label}")
    elif f.deadline is None and deadline_class != DeadlineClass.LONG_TERM:
        problems.add("整改时限", f"{label}的任务须填写整改时限")


def _check_role(person: Person | None, role: Role, column: str, problems: _RowProblems) -> None:
    if person is None:
        return
    if not person.active:
        problems.add(column, f"{person.name} 已停用，不能担任{column}")
    elif not person.has_role(role):
        problems.add(column, f"{person.name} 没有{ROLE_LABELS[role]}身份，不能担任{column}")


def _check_supports(
    lead: Department | None, supports: list[Department], problems: _RowProblems
) -> None:
    if lead is not None and any(d.id == lead.id for d in supports):
        problems.add("配合部门", f"{lead.name} 已是牵头部门，不能同时作为配合部门")


def _deadline(raw: Any, problems: _RowProblems) -> tuple[date | None, bool]:
    """A deadline cell: (the date, whether it says 长期)."""
    if _blank(raw):
        return None, False
    if isinstance(raw, datetime):
        return raw.date(), False
    if isinstance(raw, date):
        return raw, False
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if raw == int(raw) and int(raw) in SERIALS:
            return from_excel(raw).date(), False
        problems.add("整改时限", f"“{_text(raw)}”不是日期（例如 2026-12-31）")
        return None, False
    text = _text(raw)
    if text in LONG_TERM_TEXTS:
        return None, True
    match = DATE_TEXT.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups())), False
    except ValueError:
        problems.add("整改时限", f"“{text}”不是日期（例如 2026-12-31）")
        return None, False


def _deadline_class(raw: Any, problems: _RowProblems) -> DeadlineClass | None:
    text = _squash(_text(raw))
    if not text:
        return None
    for value, label in DEADLINE_CLASS_LABELS.items():
        if text in (label, value.value):
            return value
    choices = "、".join(DEADLINE_CLASS_LABELS.values())
    problems.add("时限类别", f"不认识“{_text(raw)}”（可选：{choices}）")
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _squash(text: str) -> str:
    """Names as people type them: "王  芳" (padded to two characters' width) is 王芳."""
    return SPACES.sub("", text)


def _integer(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    return int(text) if text.isdigit() else None


# --- reading the sheet -----------------------------------------------------------------


def read_ledger_rows(path: Path) -> list[SheetRow]:
    """The task rows of a ledger file, merged cells filled in, other rows left out."""
    if not path.is_file():
        raise BadInput(f"找不到文件：{path}")
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise BadInput(f"不支持的台账格式“{path.suffix or path.name}”：请使用 .xlsx 文件")
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a damaged file
        raise BadInput(f"无法读取 Excel 文件 {path.name}：{error}") from error
    try:
        names = workbook.sheetnames
        title = LEDGER_SHEET if LEDGER_SHEET in names else names[0]
        sheet = workbook[title]
        sheet.reset_dimensions()  # trust the cells, not the size some programs record
        table = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    merges = merged_ranges(path, title)
    _fill_merged(table, merges)
    return _task_rows(table, merges, path.name)


def _fill_merged(table: list[list[Any]], merges: list[tuple[int, int, int, int]]) -> None:
    """A cell merged down several rows holds its value for each of them (per column)."""
    for min_col, min_row, max_col, max_row in merges:
        if max_row == min_row or min_row > len(table):
            continue
        top = table[min_row - 1]
        for col in range(min_col, max_col + 1):
            value = top[col - 1] if col <= len(top) else None
            if value is None:
                continue
            for line in range(min_row + 1, min(max_row, len(table)) + 1):
                row = table[line - 1]
                if len(row) < col:
                    row.extend([None] * (col - len(row)))
                row[col - 1] = value


def _header_name(value: Any) -> str:
    name = re.sub(r"[（(][^）)]*[）)]$", "", _squash(_text(value)))
    for canonical, aliases in HEADER_ALIASES.items():
        if name == canonical or name in aliases:
            return canonical
    return name


def _task_rows(
    table: list[list[Any]], merges: list[tuple[int, int, int, int]], filename: str
) -> list[SheetRow]:
    header_line = next(
        (
            line
            for line, row in enumerate(table[:HEADER_SEARCH_ROWS], start=1)
            if {"责任人", "问题"} <= {_header_name(v) for v in row}
            or {"责任人", ID_COLUMN} <= {_header_name(v) for v in row}
        ),
        None,
    )
    if header_line is None:
        raise BadInput(
            f"{filename} 中找不到表头（须有“问题”“责任人”等列）：请在导出的整改台账中填写"
        )
    # A header may take two rows (a cell merged down over its sub-headings).
    header_end = max(
        [r2 for _, r1, _, r2 in merges if r1 == header_line and r2 > r1], default=header_line
    )
    width = max(len(row) for row in table[header_line - 1 : header_end])
    position: dict[str, int] = {}
    for col in range(width):
        names = [
            _header_name(row[col])
            for row in table[header_line - 1 : header_end]
            if col < len(row) and not _blank(row[col])
        ]
        if names and names[-1] not in position:
            position[names[-1]] = col
    missing = [name for name in REQUIRED if name not in position]
    if missing:
        raise BadInput(f"{filename} 缺少列：{'、'.join(missing)}")
    rows = []
    for line in range(header_end + 1, len(table) + 1):
        row = table[line - 1]
        cells = {name: row[col] if col < len(row) else None for name, col in position.items()}
        if _is_task_row(cells):
            rows.append(SheetRow(line, cells))
    return rows


def _is_task_row(cells: dict[str, Any]) -> bool:
    """Task rows carry a task: its id, its 问题 or a number like 2.3. Blank rows, 方面 rows
    and notes below the table do not."""
    number = _text(cells.get("序号"))
    return (
        not _blank(cells.get(ID_COLUMN))
        or not _blank(cells.get("问题"))
        or bool(number and (number.isdigit() or TASK_NUMBER.fullmatch(number)))
    )


# Merged ranges: openpyxl's read-only worksheets do not expose them, so they are read from
# the worksheet's XML (<mergeCell ref="B3:B9"/>, after the rows) in a streaming pass.
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"
_MERGE_CELL = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([A-Za-z]+\d+:[A-Za-z]+\d+)"')
_CHUNK = 1 << 20


def merged_ranges(path: Path, sheet_title: str) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of every merged range of a worksheet."""
    with zipfile.ZipFile(path) as archive:
        part = _sheet_part(archive, sheet_title)
        ranges = []
        with archive.open(part) as stream:
            for ref in _scan(stream):
                ranges.append(range_boundaries(ref.decode()))
    return ranges


def _scan(stream) -> Iterable[bytes]:
    tail = b""
    while chunk := stream.read(_CHUNK):
        data = tail + chunk
        cut = data.rfind(b"<")  # an element cut in two is completed by the next chunk
        cut = cut if cut > 0 else len(data)
        for match in _MERGE_CELL.finditer(data, 0, cut):
            yield match[1]
        tail = data[cut:]
    for match in _MERGE_CELL.finditer(tail):
        yield match[1]


def _sheet_part(archive: zipfile.ZipFile, sheet_title: str) -> str:
    """The zip member holding a worksheet, found through the package relationships."""
    workbook = next(
        _target("", rel.get("Target"))
        for rel in _relationships(archive, "_rels/.rels")
        if rel.get("Type", "").endswith(_OFFICE_DOCUMENT)
    )
    directory, name = posixpath.split(workbook)
    targets = {
        rel.get("Id"): _target(directory, rel.get("Target"))
        for rel in _relationships(archive, posixpath.join(directory, "_rels", name + ".rels"))
    }
    root = ElementTree.fromstring(archive.read(workbook))
    for sheet in root.iter(f"{_MAIN}sheet"):
        if sheet.get("name") == sheet_title:
            return targets[sheet.get(f"{_REL}id")]
    raise BadInput(f"找不到工作表“{sheet_title}”")


def _relationships(archive: zipfile.ZipFile, part: str) -> list[ElementTree.Element]:
    return list(ElementTree.fromstring(archive.read(part)).iter(f"{_PACKAGE_REL}Relationship"))


def _target(directory: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(directory, target))
