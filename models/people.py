"""Departments, people and their roles."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, Relationship, SQLModel, String


class Role(StrEnum):
    """What a person may do; DESIGN.md "Roles" is the specification."""

    OFFICER = "officer"
    LEADER = "leader"
    OFFICE = "office"
    REVIEWER = "reviewer"
    LEADERSHIP = "leadership"
    ADMIN = "admin"
    SYSTEM = "system"  # the scheduler and importers acting on their own


ROLE_LABELS: dict[Role, str] = {
    Role.OFFICER: "责任人",
    Role.LEADER: "责任领导",
    Role.OFFICE: "整改办",
    Role.REVIEWER: "回头看人员",
    Role.LEADERSHIP: "领导小组",
    Role.ADMIN: "系统管理员",
    Role.SYSTEM: "系统",
}

SYSTEM_NAME = "系统"


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)


class PersonRole(SQLModel, table=True):
    __tablename__ = "person_role"

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    role: str = Field(sa_type=String(20), primary_key=True)


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, index=True)
    email: str | None = Field(default=None, max_length=200, unique=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    supervisor_id: int | None = Field(default=None, foreign_key="person.id")
    heads_department: bool = Field(default=False)
    active: bool = Field(default=True)
    created_at: datetime

    role_rows: list[PersonRole] = Relationship(
        sa_relationship_kwargs={"lazy": "selectin", "cascade": "all, delete-orphan"}
    )

    @property
    def roles(self) -> set[Role]:
        return {Role(row.role) for row in self.role_rows}

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def set_roles(self, roles: set[Role]) -> None:
        """Replace the person's roles, keeping rows that stay (no needless churn)."""
        self.role_rows = [r for r in self.role_rows if Role(r.role) in roles] + [
            PersonRole(role=role.value) for role in sorted(roles - self.roles)
        ]
