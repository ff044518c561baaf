"""Finding people and departments by what users type, and importing the staff list."""

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, select

from models.audit import append_event
from models.errors import BadInput, NotFound
from models.people import SYSTEM_NAME, Department, Person, PersonRole, Role

# What people write in the 角色 column, mapped to roles. 部门负责人 also marks the head of
# the person's department, who may give the first signature in two-signature mode.
ROLE_WORDS: dict[str, Role] = {
    "责任人": Role.OFFICER,
    "officer": Role.OFFICER,
    "责任领导": Role.LEADER,
    "分管领导": Role.LEADER,
    "部门负责人": Role.LEADER,
    "leader": Role.LEADER,
    "整改办": Role.OFFICE,
    "巡察办": Role.OFFICE,
    "巡视办": Role.OFFICE,
    "office": Role.OFFICE,
    "回头看": Role.REVIEWER,
    "回头看人员": Role.REVIEWER,
    "督导组": Role.REVIEWER,
    "reviewer": Role.REVIEWER,
    "领导小组": Role.LEADERSHIP,
    "整改工作领导小组": Role.LEADERSHIP,
    "leadership": Role.LEADERSHIP,
    "管理员": Role.ADMIN,
    "系统管理员": Role.ADMIN,
    "admin": Role.ADMIN,
}
HEAD_WORD = "部门负责人"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_SEPARATORS = re.compile(r"[、,，;；/\s]+")


def find_person(session: Session, ref: str) -> Person:
    """A person by id, e-mail or name; a name shared by several people must be disambiguated."""
    ref = ref.strip()
    if ref.isdigit():
        person = session.get(Person, int(ref))
    elif "@" in ref:
        person = session.exec(select(Person).where(Person.email == ref.lower())).first()
    else:
        matches = session.exec(select(Person).where(Person.name == ref)).all()
        if len(matches) > 1:
            raise BadInput(f"有 {len(matches)} 人名为“{ref}”，请改用邮箱或人员编号")
        person = matches[0] if matches else None
    if person is None or Role.SYSTEM in person.roles:
        raise NotFound(f"找不到人员“{ref}”")
    return person


def active_people_with(
    session: Session, role: Role, *, department_id: int | None = None, limit: int = 200
) -> list[tuple[str, str]]:
    """(e-mail or id, name) of active people holding a role, for a form's suggestions.

    Suggestions, not the only choice (the form takes any name or e-mail): those of one
    department when given, and never more than `limit`. A unit with 4,700 officers made
    every task page of the office load and send them all.
    """
    query = _PEOPLE_WITH_ROLE if department_id is None else _DEPARTMENT_PEOPLE_WITH_ROLE
    params = {"role": role.value, "department_id": department_id, "limit": limit}
    rows = session.exec(query, params=params)
    return [(email or str(person_id), name) for email, person_id, name in rows]


# Built once: the office's task page asks twice a page.
_PEOPLE_WITH_ROLE = (
    select(Person.email, Person.id, Person.name)
    .join(PersonRole, PersonRole.person_id == Person.id)
    .where(PersonRole.role == bindparam("role"), Person.active)
    .order_by(Person.name)
    .limit(bindparam("limit"))
)
_DEPARTMENT_PEOPLE_WITH_ROLE = _PEOPLE_WITH_ROLE.where(
    Person.department_id == bindparam("department_id")
)


def department_names(session: Session) -> list[str]:
    """Every department's name, in order: a form's menu."""
    return list(session.exec(_DEPARTMENT_NAMES))


_DEPARTMENT_NAMES = select(Department.name).order_by(Department.name)


def find_department(session: Session, name: str) -> Department:
    department = session.exec(select(Department).where(Department.name == name.strip())).first()
    if department is None:
        raise NotFound(f"找不到部门“{name.strip()}”")
    return department


def system_actor(session: Session, now: datetime) -> Person:
    """The built-in actor for the scheduler and importers, created on first use."""
    for person in session.exec(select(Person).where(Person.name == SYSTEM_NAME)):
        if Role.SYSTEM in person.roles:
            return person
    person = Person(name=SYSTEM_NAME, created_at=now)
    person.set_roles({Role.SYSTEM})
    session.add(person)
    session.flush()
    return person


@dataclass
class PersonRow:
    """One row of a staff list (姓名, 部门, 邮箱, 角色, 上级) as read from a file."""

    line: int
    name: str
    department: str
    email: str
    roles: str
    supervisor: str


@dataclass
class PeopleImport:
    created: int = 0
    updated: int = 0
    problems: list[str] = field(default_factory=list)


def parse_roles(text: str) -> tuple[set[Role], bool, list[str]]:
    """Roles named in a cell, whether the person heads their department, unknown words."""
    roles, heads, unknown = set(), False, []
    for word in filter(None, ROLE_SEPARATORS.split(text.strip())):
        role = ROLE_WORDS.get(word.lower())
        if role is None:
            unknown.append(word)
            continue
        roles.add(role)
        heads = heads or word == HEAD_WORD
    return roles, heads, unknown


def _row_problems(row: PersonRow, names_in_file: dict[str, int], known: set[str]) -> list[str]:
    where = f"第 {row.line} 行"
    problems = []
    if not row.name:
        problems.append(f"{where} 姓名：不能为空")
    elif names_in_file[row.name] > 1:
        problems.append(f"{where} 姓名：“{row.name}”在文件中重复出现")
    if not row.department:
        problems.append(f"{where} 部门：不能为空")
    if row.email and not EMAIL.match(row.email):
        problems.append(f"{where} 邮箱：“{row.email}”格式不正确")
    roles, _, unknown = parse_roles(row.roles)
    if unknown:
        problems.append(f"{where} 角色：不认识“{'、'.join(unknown)}”")
    elif not roles:
        problems.append(f"{where} 角色：不能为空")
    if row.supervisor and row.supervisor not in known:
        problems.append(f"{where} 上级：找不到“{row.supervisor}”")
    if row.supervisor and row.supervisor == row.name:
        problems.append(f"{where} 上级：不能是本人")
    return problems


def import_people(
    session: Session, rows: list[PersonRow], actor: Person, now: datetime
) -> PeopleImport:
    """Create or update everyone in the list, or nobody: every bad row is reported."""
    result = PeopleImport()
    names_in_file: dict[str, int] = {}
    emails: dict[str, int] = {}
    for row in rows:
        names_in_file[row.name] = names_in_file.get(row.name, 0) + 1
        if row.email:
            emails[row.email.lower()] = emails.get(row.email.lower(), 0) + 1
    existing = {p.name for p in session.exec(select(Person)) if Role.SYSTEM not in p.roles}
    known = existing | set(names_in_file)
    for row in rows:
        result.problems += _row_problems(row, names_in_file, known)
        if row.email and emails[row.email.lower()] > 1:
            result.problems.append(f"第 {row.line} 行 邮箱：“{row.email}”在文件中重复出现")
    if not rows:
        result.problems.append("文件中没有人员数据")
    if result.problems:
        return result

    departments = {d.name: d for d in session.exec(select(Department))}
    people: dict[str, Person] = {}
    before: dict[str, tuple] = {}
    for row in rows:
        department = departments.get(row.department)
        if department is None:
            department = departments[row.department] = Department(name=row.department)
            session.add(department)
            session.flush()
        person = _match_person(session, row)
        if person is None:
            person = Person(name=row.name, created_at=now)
            session.add(person)
            result.created += 1
        else:
            before[row.name] = _snapshot(person)
        roles, heads, _ = parse_roles(row.roles)
        person.name, person.email = row.name, row.email.lower() or None
        person.department_id, person.heads_department = department.id, heads
        person.set_roles(roles)
        person.active = True
        people[row.name] = person
    session.flush()
    for row in rows:
        supervisor = people.get(row.supervisor) or (
            find_person(session, row.supervisor) if row.supervisor else None
        )
        people[row.name].supervisor_id = supervisor.id if supervisor else None
    session.flush()
    result.updated = sum(before[name] != _snapshot(people[name]) for name in before)
    if result.created or result.updated:
        append_event(
            session,
            chain="people",
            action="import_people",
            actor=actor,
            now=now,
            details={"created": result.created, "updated": result.updated, "names": sorted(people)},
        )
    return result


def _snapshot(person: Person) -> tuple:
    """The fields an import may change, to tell a real update from a re-import."""
    return (
        person.name,
        person.email,
        person.department_id,
        person.supervisor_id,
        person.heads_department,
        frozenset(person.roles),
        person.active,
    )


def _match_person(session: Session, row: PersonRow) -> Person | None:
    """The same person as before: by e-mail when given, otherwise by name."""
    if row.email:
        person = session.exec(select(Person).where(Person.email == row.email.lower())).first()
        if person is not None:
            return person
    return session.exec(
        select(Person).where(Person.name == row.name, Person.email.is_(None))
    ).first()
