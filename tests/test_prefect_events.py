"""Stage changes as Prefect events: every workflow action has an event name; an event is
built from its audit event alone (same id every time); an unreachable API leaves the cursor
where it was, so nothing is skipped. Posting to a real Prefect server, and reading the
events back, is in test_scaled_path.py."""

from sqlmodel import Session, select

from flows.prefect_events import CURSOR, EVENT_NAMES, event_name, post_stage_events, prefect_event
from models.audit import AuditEvent
from models.mail import EventCursor
from models.stages import Action, Stage
from tests.test_delivery import free_port


def test_every_workflow_action_has_an_event_name_of_its_own():
    assert set(EVENT_NAMES) == set(Action)
    assert len(set(EVENT_NAMES.values())) == len(Action)
    assert event_name("approve") == "rectify.task.approved"
    assert event_name("people_import") is None  # not a workflow action: no event


def test_an_approval_becomes_one_event_on_the_task_with_its_actor(world, session):
    task = world.task_at(Stage.SIGNED_OFF)
    session.commit()
    approval = session.exec(
        select(AuditEvent).where(AuditEvent.task_id == task.id, AuditEvent.action == "approve")
    ).one()
    event = prefect_event(approval)
    assert event["event"] == "rectify.task.approved"
    assert event["resource"]["prefect.resource.id"] == f"rectify.task.{task.id}"
    assert event["resource"]["rectify.stage"] == Stage.SIGNED_OFF
    assert event["related"][0]["prefect.resource.id"] == f"rectify.person.{world.office.id}"
    assert event["payload"]["stage_from"] == Stage.EVIDENCE
    assert prefect_event(approval)["id"] == event["id"]  # posted twice, kept once


def test_an_unreachable_api_leaves_every_event_for_the_next_run(world, session, engine, now):
    world.task_at(Stage.SIGNED_OFF)
    session.commit()
    report = post_stage_events(engine, now, f"http://127.0.0.1:{free_port()}/api")
    assert report.posted == 0 and "ConnectError" in report.problem
    with Session(engine) as check:
        cursor = check.get(EventCursor, CURSOR)
        assert cursor is None or cursor.last_event_id == 0


def test_without_a_prefect_api_nothing_is_posted_and_the_cursor_is_not_made(world, engine, now):
    world.task_at(Stage.ASSIGNED)
    world.session.commit()
    assert post_stage_events(engine, now, None).posted == 0
    with Session(engine) as check:
        assert check.get(EventCursor, CURSOR) is None
