"""What parsing a notice yields: the area → task → measure ledger with its header facts.

Also the refusal for text that is no notice, and the JSON form the dry run prints. Kept
apart so every stage can build these without importing the parser itself.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from models.errors import BadInput


class NotANotice(BadInput):
    """The text has no recognisable rectification structure; importing it would be empty."""


@dataclass
class ParsedTask:
    number: int
    title: str
    measures: list[str]


@dataclass
class ParsedArea:
    number: int
    title: str
    tasks: list[ParsedTask]


@dataclass
class ParsedNotice:
    issuer: str | None
    title: str | None
    group: str | None
    start: date | None
    end: date | None
    feedback: date | None
    publish_from: date | None
    publish_to: date | None
    areas: list[ParsedArea]
    stated_areas: int | None
    stated_tasks: int | None
    stated_measures: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def task_count(self) -> int:
        return sum(len(area.tasks) for area in self.areas)

    @property
    def measure_count(self) -> int:
        return sum(len(task.measures) for area in self.areas for task in area.tasks)


def notice_summary(notice: ParsedNotice) -> dict[str, Any]:
    """The parsed notice as the JSON object `rectify import notice --dry-run --json` prints."""

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "inspection": {
            "group": notice.group,
            "start": iso(notice.start),
            "end": iso(notice.end),
            "feedback": iso(notice.feedback),
            "publish_from": iso(notice.publish_from),
            "publish_to": iso(notice.publish_to),
        },
        "areas": [
            {
                "title": area.title,
                "tasks": [
                    {"title": task.title, "measures": list(task.measures)} for task in area.tasks
                ],
            }
            for area in notice.areas
        ],
        "stated": {
            "areas": notice.stated_areas,
            "tasks": notice.stated_tasks,
            "measures": notice.stated_measures,
        },
        "warnings": list(notice.warnings),
    }
