"""From a posted form to the keyword data of a workflow action (models.workflow.apply).

Each action names the fields it reads; anything else in the form is ignored. Parsing
errors are BadInput with the field's Chinese name, raised before anything is written.
"""

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData

from models.directory import find_department, find_person
from models.errors import BadInput
from models.ledger import DEADLINE_CLASS_LABELS
from models.records import PROGRESS_STATUS_LABELS
from models.stages import Action
from web.desk import field_text


def _date(form: FormData, name: str, label: str, *, required: bool) -> date | None:
    text = field_text(form, name, limit=20)
    if not text:
        if required:
            raise BadInput(f"请填写{label}")
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{label}格式不正确：“{text}”（例如 2026-12-31）") from None


def _text(form: FormData, name: str) -> str | None:
    return field_text(form, name) or None


def _choice(form: FormData, name: str, labels: dict, label: str) -> Any:
    text = field_text(form, name, limit=40)
    for value in labels:
        if text == value.value:
            return value
    raise BadInput(f"请选择{label}")


def _person(session: Session, form: FormData, name: str) -> Any:
    text = field_text(form, name, limit=200)
    return find_person(session, text) if text else None


def _required_person(session: Session, form: FormData, name: str, label: str) -> Any:
    person = _person(session, form, name)
    if person is None:
        raise BadInput(f"请选择{label}")
    return person


ASSIGNMENT_LABELS = {"officer": "责任人", "leader": "责任领导", "lead_department": "牵头部门"}


def _assignment(session: Session, form: FormData, *, required: bool = True) -> dict[str, Any]:
    department = field_text(form, "lead_department", limit=100)
    data = {
        "officer": _person(session, form, "officer"),
        "leader": _person(session, form, "leader"),
        "lead_department": find_department(session, department) if department else None,
    }
    for name, label in ASSIGNMENT_LABELS.items():
        if required and data[name] is None:
            raise BadInput(f"请填写{label}")
    if required or field_text(form, "deadline_class", limit=40):
        data["deadline_class"] = _choice(form, "deadline_class", DEADLINE_CLASS_LABELS, "整改类型")
    data["deadline"] = _date(form, "deadline", "整改时限", required=False)
    return data


def _reassignment(session: Session, form: FormData) -> dict[str, Any]:
    data = {k: v for k, v in _assignment(session, form, required=False).items() if v is not None}
    data["reason"] = _text(form, "reason")
    return data


FormReader = Callable[[Session, FormData], dict[str, Any]]

READERS: dict[Action, FormReader] = {
    Action.ASSIGN: _assignment,
    Action.REASSIGN: _reassignment,
    Action.START: lambda s, f: {},
    Action.SUBMIT: lambda s, f: {"summary": _text(f, "summary")},
    Action.ENDORSE: lambda s, f: {"comment": _text(f, "comment")},
    Action.APPROVE: lambda s, f: {"comment": _text(f, "comment")},
    Action.APPROVE_PHASE: lambda s, f: {"comment": _text(f, "comment")},
    Action.REJECT: lambda s, f: {"reason": _text(f, "reason")},
    Action.OPEN_LOOKBACK: lambda s, f: {
        "reviewer": _required_person(s, f, "reviewer", "核查人"),
        "due": _date(f, "due", "回头看时限", required=False),
    },
    Action.CONFIRM: lambda s, f: {"comment": _text(f, "comment")},
    Action.REBOUND: lambda s, f: {
        "finding": _text(f, "finding"),
        "deadline": _date(f, "deadline", "新的整改时限", required=False),
    },
    Action.REPORT_PROGRESS: lambda s, f: {
        "status": _choice(f, "status", PROGRESS_STATUS_LABELS, "进展状态"),
        "text": _text(f, "text"),
    },
    Action.REQUEST_EXTENSION: lambda s, f: {
        "deadline": _date(f, "deadline", "申请延期至", required=True),
        "reason": _text(f, "reason"),
    },
    Action.GRANT_EXTENSION: lambda s, f: {"comment": _text(f, "comment")},
    Action.REFUSE_EXTENSION: lambda s, f: {"reason": _text(f, "reason")},
}

# Actions whose form carries files; they go through the upload route.
WITH_FILES = frozenset({Action.ATTACH_EVIDENCE, Action.REPORT_PROGRESS})
DEADLINE_CLASSES = [(c.value, label) for c, label in DEADLINE_CLASS_LABELS.items()]
PROGRESS_STATUSES = [(s.value, label) for s, label in PROGRESS_STATUS_LABELS.items()]
