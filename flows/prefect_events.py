"""Stage changes as Prefect events (`rectify.task.approved`, …), for operators' automations.

Read from the audit trail behind a persisted cursor, like the event messages, and posted to
the Prefect API in batches (POST /events). The cursor moves in the same transaction, after
the API accepted the batch: a crash or an unreachable API means the batch is posted again
later, never skipped. Each event's id is derived from its audit event, and Prefect stores an
id once, so a batch posted twice is kept once.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Engine

from models.audit import AuditEvent
from models.audit_feed import mark_read, unread
from models.db import transaction
from models.stages import Action

log = logging.getLogger(__name__)

CURSOR = "prefect_events"
BATCH = 500
NAMESPACE = uuid.UUID("5d3c1f0e-7a8b-4c2d-9e6f-112233445566")  # ids: uuid5(NAMESPACE, …)
EVENT_NAMES: dict[Action, str] = {
    Action.ASSIGN: "assigned",
    Action.REASSIGN: "reassigned",
    Action.START: "started",
    Action.ATTACH_EVIDENCE: "evidence_attached",
    Action.SUBMIT: "submitted",
    Action.ENDORSE: "endorsed",
    Action.APPROVE: "approved",
    Action.APPROVE_PHASE: "phase_approved",
    Action.REJECT: "rejected",
    Action.OPEN_LOOKBACK: "lookback_opened",
    Action.CONFIRM: "consolidated",
    Action.REBOUND: "rebounded",
    Action.REPORT_PROGRESS: "progress_reported",
    Action.REQUEST_EXTENSION: "extension_requested",
    Action.GRANT_EXTENSION: "extension_granted",
    Action.REFUSE_EXTENSION: "extension_refused",
}


@dataclass
class EventsReport:
    posted: int = 0
    problem: str | None = None  # why a batch waits for the next run


def event_name(action: str) -> str | None:
    """`rectify.task.approved` for an approval; None for what is not a workflow action."""
    try:
        return f"rectify.task.{EVENT_NAMES[Action(action)]}"
    except ValueError:
        return None


def prefect_event(event: AuditEvent) -> dict | None:
    """The Prefect event of one audit event (the task is the resource, the actor related)."""
    name = event_name(event.action)
    if name is None or event.task_id is None:
        return None
    resource = {
        "prefect.resource.id": f"rectify.task.{event.task_id}",
        "prefect.resource.name": f"整改任务 {event.task_id}",
    }
    if event.stage_to:
        resource["rectify.stage"] = event.stage_to
    related = []
    if event.actor_id is not None:
        related.append({
            "prefect.resource.id": f"rectify.person.{event.actor_id}",
            "prefect.resource.role": "actor",
            "prefect.resource.name": event.actor_name,
        })  # fmt: skip
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"audit:{event.id}")),
        "occurred": event.at.isoformat(),
        "event": name,
        "resource": resource,
        "related": related,
        "payload": {
            "audit_event_id": event.id,
            "action": event.action,
            "stage_from": event.stage_from,
            "stage_to": event.stage_to,
        },
    }


def post_stage_events(
    engine: Engine, now: datetime, api_url: str | None, api_key: str | None = None
) -> EventsReport:
    """Post the audit trail's new workflow actions to Prefect; nothing without an API."""
    report = EventsReport()
    if not api_url:
        return report
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=api_url.rstrip("/"), headers=headers, timeout=30) as client:
        while True:
            with transaction(engine) as session:
                cursor, events = unread(session, CURSOR, now, BATCH)
                if not events:
                    return report
                batch = [e for e in map(prefect_event, events) if e is not None]
                problem = _post(client, batch) if batch else None
                if problem:
                    report.problem = problem
                    log.warning("Prefect 事件未能发出，下次再发：%s", problem)
                    return report
                mark_read(session, cursor, events, now)
                report.posted += len(batch)


def _post(client: httpx.Client, batch: list[dict]) -> str | None:
    try:
        answer = client.post("/events", json=batch)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if answer.status_code >= 300:
        return f"HTTP {answer.status_code}: {answer.text[:300]}"
    return None
