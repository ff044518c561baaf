"""The audit trail notices every kind of tampering done with raw SQL behind the application."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, bindparam, text
from sqlmodel import Session

from models.audit import AuditEvent, AuditProblem, event_hash, task_chain, verify
from models.stages import Stage

AT_TYPE = AuditEvent.__table__.c.at.type  # UTCDateTime: binds the same way on both backends


@dataclass(frozen=True)
class Row:
    id: int
    seq: int
    task_id: int | None
    actor_id: int | None
    actor_name: str
    hash: str


def fresh_verify(engine: Engine) -> list[AuditProblem]:
    """Verify in a new session, so nothing the test session remembers hides the database."""
    with Session(engine) as session:
        return verify(session)


def chain_rows(connection: Connection, chain: str) -> list[Row]:
    result = connection.execute(
        text(
            "SELECT id, seq, task_id, actor_id, actor_name, hash FROM audit_event"
            " WHERE chain = :chain ORDER BY seq"
        ),
        {"chain": chain},
    )
    return [Row(*row) for row in result]


def insert_event(connection: Connection, chain: str, seq: int, row: Row, *, valid: bool) -> None:
    """A forged event; with `valid`, its hash is computed exactly as the application would."""
    forged = AuditEvent(
        chain=chain,
        seq=seq,
        task_id=row.task_id,
        action="approve",
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        at=datetime(2026, 9, 14, 2, 0, tzinfo=UTC),
        stage_from=Stage.EVIDENCE.value,
        stage_to=Stage.SIGNED_OFF.value,
        details='{"comment": "伪造的批准"}',
        prev_hash=row.hash,
        hash="f" * 64,
    )
    if valid:
        forged.hash = event_hash(forged)
    connection.execute(
        text(
            "INSERT INTO audit_event (chain, seq, task_id, action, actor_id, actor_name, at,"
            " stage_from, stage_to, details, prev_hash, hash) VALUES (:chain, :seq, :task_id,"
            " :action, :actor_id, :actor_name, :at, :stage_from, :stage_to, :details,"
            " :prev_hash, :hash)"
        ).bindparams(bindparam("at", type_=AT_TYPE)),
        forged.model_dump(exclude={"id"}),
    )


def shift_seqs(connection: Connection, chain: str, from_seq: int, by: int) -> None:
    """Renumber the events from `from_seq` on, in two steps so (chain, seq) stays unique."""
    params = {"chain": chain, "from_seq": from_seq}
    connection.execute(
        text("UPDATE audit_event SET seq = seq + 100000 WHERE chain = :chain AND seq >= :from_seq"),
        params,
    )
    connection.execute(
        text(
            "UPDATE audit_event SET seq = seq - 100000 + :by WHERE chain = :chain AND seq >= 100000"
        ),
        {"chain": chain, "by": by},
    )


def update_event(connection: Connection, row: Row, column: str, value: object) -> None:
    statement = text(f"UPDATE audit_event SET {column} = :value WHERE id = :id")
    if column == "at":
        statement = statement.bindparams(bindparam("value", type_=AT_TYPE))
    connection.execute(statement, {"value": value, "id": row.id})


def delete_event(connection: Connection, row: Row) -> None:
    connection.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": row.id})


# Each tampering changes the chain and returns the sequence numbers where the damage is, one
# of which a report must name. The chain has six events (create … approve); #3 is the middle.
Tampering = Callable[[Connection, str, list[Row]], set[int]]


def edit_details(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    update_event(connection, rows[2], "details", '{"note": "事后补写"}')
    return {3}


def edit_actor_name(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    update_event(connection, rows[2], "actor_name", "冒名顶替者")
    return {3}


def edit_at(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    update_event(connection, rows[2], "at", datetime(2026, 1, 5, 1, 0, tzinfo=UTC))
    return {3}


def edit_stage_to(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    update_event(connection, rows[2], "stage_to", Stage.CONSOLIDATED.value)
    return {3}


def delete_middle(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    delete_event(connection, rows[2])
    return {3, 4}


def delete_last(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    delete_event(connection, rows[-1])
    return {len(rows) - 1, len(rows)}


def forge_in_middle(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    shift_seqs(connection, chain, 3, by=1)
    insert_event(connection, chain, 3, rows[1], valid=False)
    return set(range(3, len(rows) + 2))


def forge_in_middle_with_valid_hash(
    connection: Connection, chain: str, rows: list[Row]
) -> set[int]:
    shift_seqs(connection, chain, 3, by=1)
    insert_event(connection, chain, 3, rows[1], valid=True)
    return set(range(3, len(rows) + 2))


def forge_at_end(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    insert_event(connection, chain, len(rows) + 1, rows[-1], valid=False)
    return {len(rows) + 1}


def forge_at_end_with_valid_hash(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    insert_event(connection, chain, len(rows) + 1, rows[-1], valid=True)
    return {len(rows), len(rows) + 1}


def swap_two(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    third, fourth = rows[2], rows[3]
    update_event(connection, third, "seq", -1)
    update_event(connection, fourth, "seq", third.seq)
    update_event(connection, third, "seq", fourth.seq)
    return {third.seq, fourth.seq}


def delete_whole_chain(connection: Connection, chain: str, rows: list[Row]) -> set[int]:
    connection.execute(text("DELETE FROM audit_event WHERE chain = :chain"), {"chain": chain})
    return {row.seq for row in rows}


TAMPERINGS: list[Tampering] = [
    edit_details,
    edit_actor_name,
    edit_at,
    edit_stage_to,
    delete_middle,
    delete_last,
    forge_in_middle,
    forge_in_middle_with_valid_hash,
    forge_at_end,
    forge_at_end_with_valid_hash,
    swap_two,
    delete_whole_chain,
]


def build_trail(world) -> tuple[int, list[int]]:
    """Three tasks with their events, committed; the middle one is the target."""
    tasks = [
        world.task_at(Stage.SIGNED_OFF),
        world.task_at(Stage.SIGNED_OFF),
        world.task_at(Stage.LOOKBACK),
    ]
    world.session.commit()
    ids = [task.id for task in tasks]
    return ids[1], [ids[0], ids[2]]


def seqs_named(problem: AuditProblem) -> set[int]:
    return {int(n) for n in re.findall(r"#(\d+)", str(problem))}


def test_an_intact_trail_verifies_clean(world, engine):
    build_trail(world)

    assert fresh_verify(engine) == []


def test_an_intact_trail_has_one_chain_per_task_numbered_from_one(world, engine):
    target, _ = build_trail(world)

    with engine.connect() as connection:
        rows = chain_rows(connection, task_chain(target))

    assert [row.seq for row in rows] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda t: t.__name__)
def test_verify_names_the_task_and_event_of_every_kind_of_tampering(world, engine, tamper):
    target, others = build_trail(world)
    chain = task_chain(target)
    with engine.begin() as connection:
        rows = chain_rows(connection, chain)
        assert len(rows) == 6
        damaged = tamper(connection, chain, rows)

    problems = fresh_verify(engine)

    assert problems, f"{tamper.__name__} went unnoticed"
    assert {problem.chain for problem in problems} == {chain}, "untouched chains must stay clean"
    assert all(f"任务 {target}" in str(problem) for problem in problems)
    assert any(seqs_named(problem) & damaged for problem in problems), (
        f"no report names one of events {sorted(damaged)}: {[str(p) for p in problems]}"
    )
    for other in others:
        assert not any(f"任务 {other} " in str(problem) for problem in problems)


def test_tampering_with_two_chains_reports_both_and_only_them(world, engine):
    target, others = build_trail(world)
    with engine.begin() as connection:
        edit_details(connection, task_chain(target), chain_rows(connection, task_chain(target)))
        delete_last(
            connection, task_chain(others[0]), chain_rows(connection, task_chain(others[0]))
        )

    problems = fresh_verify(engine)

    assert {problem.chain for problem in problems} == {task_chain(target), task_chain(others[0])}
