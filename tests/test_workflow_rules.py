"""Workflow behaviour beyond the table: separation of duties, signatures, deadlines, locking."""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlmodel import Session, func, select

from models.audit import AuditEvent, verify
from models.errors import BadInput, ChangedMeanwhile, Refused
from models.ledger import DeadlineClass, FirstSigner, Task, TaskSupport
from models.people import Person, Role
from models.queries import records_of
from models.records import (
    DeadlineChange,
    Decision,
    Evidence,
    ExtensionRequest,
    LookbackReview,
    ProgressReport,
    RequestStatus,
    ReviewStatus,
    SignOff,
)
from models.stages import TRANSITIONS, Action, Stage
from models.workflow import apply
from tests.factories import PDF

# --- helpers ----------------------------------------------------------------------------


def sign_offs(session, task: Task) -> list[SignOff]:
    return records_of(session, SignOff, task.id)


def deadline_changes(session, task: Task) -> list[DeadlineChange]:
    return records_of(session, DeadlineChange, task.id)


def extension_requests(session, task: Task) -> list[ExtensionRequest]:
    return records_of(session, ExtensionRequest, task.id)


def event_count(session, task: Task) -> int:
    return session.exec(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.task_id == task.id)
    ).one()


def last_event(session, task: Task) -> AuditEvent:
    return session.exec(
        select(AuditEvent).where(AuditEvent.task_id == task.id).order_by(AuditEvent.seq.desc())
    ).first()


def reviews(session, task: Task) -> list[LookbackReview]:
    return records_of(session, LookbackReview, task.id)


def submitted_by(world, officer: Person, **assignment) -> Task:
    """A task assigned to `officer`, who starts it, attaches evidence and submits it."""
    task = world.new_task()
    world.do(task, Action.ASSIGN, officer=officer, **assignment)
    for action in (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT):
        world.do(task, action, actor=officer)
    assert task.stage == Stage.EVIDENCE
    return task


def as_officer(world, task: Task, person: Person, action: Action) -> None:
    """Hand the task to `person` for one officer's step, then back to the usual officer."""
    world.do(task, Action.REASSIGN, officer=person)
    world.do(task, action, actor=person)
    world.do(task, Action.REASSIGN, officer=world.officer)


def signed_off_task_involving(world, person: Person, involvement: Action) -> Task:
    """A signed-off task in which `person` took exactly one step and is not its officer."""
    task = world.task_at(Stage.ASSIGNED)
    for action in (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT):
        if action == involvement:
            as_officer(world, task, person, action)
        else:
            world.do(task, action)
    world.do(task, Action.APPROVE, actor=person if involvement == Action.APPROVE else None)
    assert task.stage == Stage.SIGNED_OFF
    assert task.officer_id == world.officer.id
    return task


# --- separation of duties ---------------------------------------------------------------

OWN_SUBMISSION_CASES = {
    Action.APPROVE: (Role.OFFICER, Role.OFFICE),
    Action.REJECT: (Role.OFFICER, Role.OFFICE),
    Action.ENDORSE: (Role.OFFICER, Role.LEADER),
}


@pytest.mark.parametrize("action", list(OWN_SUBMISSION_CASES))
def test_a_submitter_cannot_decide_on_their_own_submission(world, action):
    if action == Action.ENDORSE:
        world.two_signatures(FirstSigner.LEADER)
    both = world.person("钱进", *OWN_SUBMISSION_CASES[action])
    leader = both if Role.LEADER in both.roles else world.leader
    task = submitted_by(world, both, leader=leader)

    with pytest.raises(Refused, match="钱进 提交了本次销号申请，不能"):
        world.do(task, action, actor=both)
    assert task.stage == Stage.EVIDENCE
    assert sign_offs(world.session, task) == []


@pytest.mark.parametrize("action", [Action.APPROVE, Action.APPROVE_PHASE])
def test_the_endorser_cannot_also_give_the_final_approval(world, action):
    world.two_signatures(FirstSigner.LEADER)
    both = world.person("褚红", Role.LEADER, Role.OFFICE)
    task = world.new_task(long_term=action == Action.APPROVE_PHASE)
    world.do(task, Action.ASSIGN, leader=both)
    for step in (Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT):
        world.do(task, step)
    world.do(task, Action.ENDORSE, actor=both)

    with pytest.raises(Refused, match="褚红 已作初审签批，终审须由另一人完成"):
        world.do(task, action, actor=both)
    assert task.stage == Stage.EVIDENCE

    world.do(task, action, actor=world.office)
    assert [s.signer_id for s in sign_offs(world.session, task)] == [both.id, world.office.id]


INVOLVEMENTS = [Action.START, Action.ATTACH_EVIDENCE, Action.SUBMIT, Action.APPROVE]


@pytest.mark.parametrize("involvement", INVOLVEMENTS)
def test_a_reviewer_who_acted_on_or_approved_the_task_cannot_be_chosen_for_its_lookback(
    world, involvement
):
    insider = world.person("冯雪", Role.OFFICER, Role.OFFICE, Role.REVIEWER)
    task = signed_off_task_involving(world, insider, involvement)

    with pytest.raises(Refused, match=r"冯雪 曾参与整改或审批任务 \d+，不能担任回头看人员"):
        world.do(task, Action.OPEN_LOOKBACK, reviewer=insider)
    assert task.stage == Stage.SIGNED_OFF
    assert reviews(world.session, task) == []

    world.do(task, Action.OPEN_LOOKBACK, reviewer=world.reviewer)
    assert task.stage == Stage.LOOKBACK


@pytest.mark.parametrize("decision", [Action.CONFIRM, Action.REBOUND])
@pytest.mark.parametrize("involvement", INVOLVEMENTS)
def test_a_reviewer_who_acted_on_or_approved_the_task_cannot_conclude_its_lookback(
    world, involvement, decision
):
    insider = world.person("冯雪", Role.OFFICER, Role.OFFICE, Role.REVIEWER)
    task = signed_off_task_involving(world, insider, involvement)
    world.do(task, Action.OPEN_LOOKBACK, reviewer=world.reviewer)
    # the review reaches the insider some other way than open_lookback (e.g. handed over)
    (review,) = reviews(world.session, task)
    review.reviewer_id = insider.id
    world.session.flush()

    with pytest.raises(Refused, match=r"冯雪 曾参与整改或审批任务 \d+，不能担任回头看人员"):
        world.do(task, decision, actor=insider)
    assert task.stage == Stage.LOOKBACK
    assert review.status == ReviewStatus.OPEN


def test_a_reviewer_who_was_not_involved_may_conclude_the_lookback(world):
    bystander = world.person("冯雪", Role.OFFICER, Role.OFFICE, Role.REVIEWER)
    task = world.task_at(Stage.SIGNED_OFF)
    world.do(task, Action.OPEN_LOOKBACK, reviewer=bystander)
    world.do(task, Action.CONFIRM, actor=bystander)
    assert task.stage == Stage.CONSOLIDATED


@pytest.mark.parametrize("decision", [Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION])
def test_an_officer_who_is_also_office_cannot_decide_their_own_extension_request(world, decision):
    both = world.person("卫东", Role.OFFICER, Role.OFFICE)
    task = world.new_task()
    world.do(task, Action.ASSIGN, officer=both)
    world.do(task, Action.REQUEST_EXTENSION, actor=both)

    with pytest.raises(Refused, match="卫东 不能审批本人提出的延期申请"):
        world.do(task, decision, actor=both)
    (request,) = extension_requests(world.session, task)
    assert request.status == RequestStatus.PENDING
    assert task.deadline == world.deadline

    world.do(task, decision, actor=world.office)
    assert request.status != RequestStatus.PENDING


# --- two-signature sign-off -------------------------------------------------------------


def test_with_two_signatures_the_office_approves_only_after_the_leader_endorses(world):
    world.two_signatures(FirstSigner.LEADER)
    task = world.task_at(Stage.EVIDENCE)

    with pytest.raises(Refused, match="须先由初审签批人同意，再由整改办终审"):
        world.do(task, Action.APPROVE)
    assert sign_offs(world.session, task) == []

    world.do(task, Action.ENDORSE, actor=world.leader)
    assert task.stage == Stage.EVIDENCE
    world.do(task, Action.APPROVE, actor=world.office)

    assert task.stage == Stage.SIGNED_OFF
    rows = sign_offs(world.session, task)
    assert [(s.decision, s.signer_id) for s in rows] == [
        (Decision.ENDORSED, world.leader.id),
        (Decision.APPROVED, world.office.id),
    ]
    assert {s.round for s in rows} == {task.round}


def test_with_department_head_signing_first_only_the_lead_departments_head_endorses(world):
    world.two_signatures(FirstSigner.DEPARTMENT_HEAD)
    task = world.task_at(Stage.EVIDENCE)
    assert task.lead_department_id == world.department.id and world.head.heads_department

    with pytest.raises(Refused, match=f"张伟 不是任务 {task.id} 的初审签批人"):
        world.do(task, Action.ENDORSE, actor=world.leader)
    with pytest.raises(Refused, match="须先由初审签批人同意"):
        world.do(task, Action.APPROVE)

    world.do(task, Action.ENDORSE, actor=world.head)
    world.do(task, Action.APPROVE)

    assert task.stage == Stage.SIGNED_OFF
    assert [(s.decision, s.signer_id) for s in sign_offs(world.session, task)] == [
        (Decision.ENDORSED, world.head.id),
        (Decision.APPROVED, world.office.id),
    ]


def test_an_endorsement_is_given_once_per_submission(world):
    world.two_signatures(FirstSigner.LEADER)
    task = world.task_at(Stage.EVIDENCE)
    world.do(task, Action.ENDORSE)
    with pytest.raises(Refused, match="已有初审签批"):
        world.do(task, Action.ENDORSE)


def test_endorsing_is_refused_when_the_office_signs_alone(world):
    task = world.task_at(Stage.EVIDENCE)
    with pytest.raises(Refused):
        world.do(task, Action.ENDORSE)
    assert sign_offs(world.session, task) == []


def test_a_sign_off_records_the_hashes_of_the_evidence_it_saw(world):
    world.two_signatures(FirstSigner.LEADER)
    first, second = PDF, b"%PDF-1.4\n% second evidence\n"
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.ATTACH_EVIDENCE, file=world.evidence(first, "整改前.pdf"))
    world.do(task, Action.ATTACH_EVIDENCE, file=world.evidence(second, "整改后.pdf"))
    world.do(task, Action.SUBMIT)
    world.do(task, Action.ENDORSE)
    world.do(task, Action.APPROVE)

    stored = list(
        world.session.exec(
            select(Evidence.sha256).where(Evidence.task_id == task.id).order_by(Evidence.id)
        )
    )
    assert stored == [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]
    rows = sign_offs(world.session, task)
    assert [s.evidence_hashes for s in rows] == [stored, stored]
    assert last_event(world.session, task).data["evidence"] == stored


# --- rejection and resubmission ---------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_rejection_needs_a_reason(world, reason):
    task = world.task_at(Stage.EVIDENCE)
    with pytest.raises(BadInput, match="退回理由"):
        world.do(task, Action.REJECT, reason=reason)
    assert task.stage == Stage.EVIDENCE
    assert sign_offs(world.session, task) == []


def test_a_rejection_returns_the_task_to_acting_and_keeps_the_reason(world):
    task = world.task_at(Stage.EVIDENCE)
    world.do(task, Action.REJECT, reason="佐证材料不能证明整改到位")

    assert task.stage == Stage.ACTING
    (rejection,) = sign_offs(world.session, task)
    assert rejection.decision == Decision.REJECTED
    assert rejection.comment == "佐证材料不能证明整改到位"
    assert rejection.signer_id == world.office.id


def test_resubmitting_after_a_rejection_starts_a_new_round(world):
    task = world.task_at(Stage.EVIDENCE)
    assert task.round == 1
    world.do(task, Action.REJECT)
    world.do(task, Action.ATTACH_EVIDENCE)
    world.do(task, Action.SUBMIT, summary="补充材料后再次提交")
    assert (task.stage, task.round) == (Stage.EVIDENCE, 2)

    world.do(task, Action.APPROVE)
    assert [(s.decision, s.round) for s in sign_offs(world.session, task)] == [
        (Decision.REJECTED, 1),
        (Decision.APPROVED, 2),
    ]


def test_after_a_rejection_the_new_round_needs_a_new_endorsement(world):
    world.two_signatures(FirstSigner.LEADER)
    task = world.task_at(Stage.EVIDENCE)
    world.do(task, Action.ENDORSE)
    world.do(task, Action.REJECT)
    world.do(task, Action.SUBMIT)
    with pytest.raises(Refused, match="须先由初审签批人同意"):
        world.do(task, Action.APPROVE)


# --- submission -------------------------------------------------------------------------


def test_submitting_without_evidence_is_refused(world):
    task = world.task_at(Stage.ACTING)
    with pytest.raises(Refused, match="尚无佐证材料"):
        world.do(task, Action.SUBMIT)
    assert (task.stage, task.round, task.submitted_by_id) == (Stage.ACTING, 0, None)


@pytest.mark.parametrize("summary", ["", "  \n ", None])
def test_submitting_without_a_summary_is_bad_input(world, summary):
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.ATTACH_EVIDENCE)
    with pytest.raises(BadInput, match="整改情况说明"):
        world.do(task, Action.SUBMIT, summary=summary)
    assert task.stage == Stage.ACTING


# --- look-back rebound ------------------------------------------------------------------


def rebound(world, task: Task, deadline: date, finding: str = "问题出现反弹") -> None:
    world.do(task, Action.REBOUND, finding=finding, deadline=deadline)


def test_a_rebound_reopens_the_task_with_a_new_deadline(world):
    task = world.task_at(Stage.LOOKBACK)
    rebound(world, task, date(2026, 12, 31), "河道再次出现垃圾堆积")

    assert task.stage == Stage.ACTING
    assert task.rebound_count == 1
    assert task.signed_off_at is None
    assert task.deadline == date(2026, 12, 31)
    change = deadline_changes(world.session, task)[-1]
    assert (change.via, change.old_deadline, change.new_deadline) == (
        Action.REBOUND,
        world.deadline,
        date(2026, 12, 31),
    )
    (review,) = reviews(world.session, task)
    assert review.status == ReviewStatus.REBOUNDED
    assert review.finding == "河道再次出现垃圾堆积"
    assert review.closed_at == world.now


def test_a_second_rebound_after_a_full_cycle_counts_two(world):
    task = world.task_at(Stage.LOOKBACK)
    rebound(world, task, date(2026, 12, 31))
    for action in (Action.SUBMIT, Action.APPROVE, Action.OPEN_LOOKBACK):
        world.do(task, action)
    assert task.stage == Stage.LOOKBACK
    rebound(world, task, date(2027, 3, 31))

    assert (task.stage, task.rebound_count) == (Stage.ACTING, 2)
    assert [c.via for c in deadline_changes(world.session, task)] == [
        Action.ASSIGN,
        Action.REBOUND,
        Action.REBOUND,
    ]
    assert [r.status for r in reviews(world.session, task)] == [ReviewStatus.REBOUNDED] * 2


@pytest.mark.parametrize("finding", ["", "   ", None])
def test_a_rebound_needs_a_finding(world, finding):
    task = world.task_at(Stage.LOOKBACK)
    with pytest.raises(BadInput, match="反弹问题的核查情况"):
        rebound(world, task, date(2026, 12, 31), finding)
    assert (task.stage, task.rebound_count) == (Stage.LOOKBACK, 0)
    (review,) = reviews(world.session, task)
    assert review.status == ReviewStatus.OPEN


def test_a_rebound_of_a_dated_task_needs_a_new_deadline(world):
    task = world.task_at(Stage.LOOKBACK)
    with pytest.raises(BadInput, match="重新明确整改时限"):
        world.do(task, Action.REBOUND, deadline=None)
    assert task.stage == Stage.LOOKBACK


# --- deadline extensions ----------------------------------------------------------------


@pytest.mark.parametrize("requested", [date(2026, 10, 30), date(2026, 10, 1)])
def test_an_extension_must_be_later_than_the_current_deadline(world, requested):
    task = world.task_at(Stage.ACTING)
    assert task.deadline == date(2026, 10, 30)
    with pytest.raises(BadInput, match="须晚于现时限"):
        world.do(task, Action.REQUEST_EXTENSION, deadline=requested)
    assert extension_requests(world.session, task) == []


def test_an_extension_request_needs_a_reason(world):
    task = world.task_at(Stage.ACTING)
    with pytest.raises(BadInput, match="延期理由"):
        world.do(task, Action.REQUEST_EXTENSION, reason="  ")
    assert extension_requests(world.session, task) == []


def test_only_one_extension_request_may_be_pending(world):
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.REQUEST_EXTENSION)
    with pytest.raises(Refused, match="已有待审批的延期申请"):
        world.do(task, Action.REQUEST_EXTENSION, deadline=date(2026, 12, 31))
    assert len(extension_requests(world.session, task)) == 1


def test_granted_extensions_move_the_deadline_and_keep_the_whole_history(world):
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.REQUEST_EXTENSION, deadline=date(2026, 11, 30), reason="工程未完工")
    world.do(task, Action.GRANT_EXTENSION, comment="同意")
    assert task.deadline == date(2026, 11, 30)
    world.do(task, Action.REQUEST_EXTENSION, deadline=date(2026, 12, 31), reason="汛期停工")
    world.do(task, Action.GRANT_EXTENSION, actor=world.leadership)

    assert task.deadline == date(2026, 12, 31)
    history = [
        (c.via, c.old_deadline, c.new_deadline, c.reason, c.by_id)
        for c in deadline_changes(world.session, task)
    ]
    assert history == [
        (Action.ASSIGN, None, date(2026, 10, 30), None, world.office.id),
        (
            Action.GRANT_EXTENSION,
            date(2026, 10, 30),
            date(2026, 11, 30),
            "工程未完工",
            world.office.id,
        ),
        (
            Action.GRANT_EXTENSION,
            date(2026, 11, 30),
            date(2026, 12, 31),
            "汛期停工",
            world.leadership.id,
        ),
    ]
    requests = extension_requests(world.session, task)
    assert [(r.status, r.decided_by_id) for r in requests] == [
        (RequestStatus.GRANTED, world.office.id),
        (RequestStatus.GRANTED, world.leadership.id),
    ]


def test_a_refused_extension_leaves_the_deadline_unchanged(world):
    task = world.task_at(Stage.ACTING)
    world.do(task, Action.REQUEST_EXTENSION)
    world.do(task, Action.REFUSE_EXTENSION, reason="理由不充分")

    assert task.deadline == world.deadline
    (request,) = extension_requests(world.session, task)
    assert (request.status, request.decision_comment) == (RequestStatus.REFUSED, "理由不充分")
    assert [c.via for c in deadline_changes(world.session, task)] == [Action.ASSIGN]


@pytest.mark.parametrize("decision", [Action.GRANT_EXTENSION, Action.REFUSE_EXTENSION])
def test_deciding_an_extension_needs_a_pending_request(world, decision):
    task = world.task_at(Stage.ACTING)
    with pytest.raises(Refused, match="没有待审批的延期申请"):
        world.do(task, decision)


# --- long-term tasks --------------------------------------------------------------------


def test_a_long_term_task_may_be_assigned_without_a_deadline(world):
    task = world.task_at(Stage.ASSIGNED, long_term=True)
    assert task.deadline is None
    assert task.deadline_class == DeadlineClass.LONG_TERM


def test_a_dated_task_cannot_be_assigned_without_a_deadline(world):
    task = world.task_at(Stage.PENDING)
    with pytest.raises(BadInput, match="须填写整改时限"):
        world.do(task, Action.ASSIGN, deadline=None)
    assert (task.stage, task.officer_id) == (Stage.PENDING, None)


def test_approving_a_phase_returns_a_long_term_task_to_acting_in_the_next_phase(world):
    task = world.task_at(Stage.EVIDENCE, long_term=True)
    assert task.phase == 1
    world.do(task, Action.APPROVE_PHASE)

    assert (task.stage, task.phase) == (Stage.ACTING, 2)
    (phase_sign_off,) = sign_offs(world.session, task)
    assert (phase_sign_off.decision, phase_sign_off.phase) == (Decision.PHASE_APPROVED, 1)

    world.do(task, Action.SUBMIT, summary="第二阶段整改情况")
    world.do(task, Action.APPROVE_PHASE)
    assert (task.stage, task.phase) == (Stage.ACTING, 3)


def test_a_dated_task_cannot_be_signed_off_by_phase(world):
    task = world.task_at(Stage.EVIDENCE)
    with pytest.raises(Refused, match="不是长期坚持类任务"):
        world.do(task, Action.APPROVE_PHASE)
    assert (task.stage, task.phase) == (Stage.EVIDENCE, 1)
    assert sign_offs(world.session, task) == []


# --- progress reports -------------------------------------------------------------------

REPORTING_STAGES = [s for (s, a) in TRANSITIONS if a == Action.REPORT_PROGRESS]


@pytest.mark.parametrize("stage", REPORTING_STAGES)
def test_a_progress_report_is_recorded_without_changing_the_stage(world, stage):
    task = world.task_at(stage)
    world.do(task, Action.REPORT_PROGRESS, status="mostly_done", text="已完成河道清理八成")

    assert task.stage == stage
    (report,) = world.session.exec(select(ProgressReport).where(ProgressReport.task_id == task.id))
    assert (report.reporter_id, report.status, report.text) == (
        world.officer.id,
        "mostly_done",
        "已完成河道清理八成",
    )
    event = last_event(world.session, task)
    assert (event.action, event.stage_from, event.stage_to) == (
        Action.REPORT_PROGRESS,
        stage,
        stage,
    )


def test_a_progress_report_needs_text(world):
    task = world.task_at(Stage.ACTING)
    with pytest.raises(BadInput, match="进展情况"):
        world.do(task, Action.REPORT_PROGRESS, text=" ")


# --- optimistic locking -----------------------------------------------------------------


def test_acting_on_a_stale_version_is_refused_as_changed_meanwhile(world, engine):
    task = world.task_at(Stage.EVIDENCE)
    world.session.commit()
    read = task.version  # the page was loaded

    with Session(engine) as other:  # meanwhile someone else rejects it and commits
        apply(
            other,
            other.get(Task, task.id),
            Action.REJECT,
            other.get(Person, world.leadership.id),
            world.now,
            reason="佐证不足",
        )
        other.commit()

    world.session.expire(task)
    assert task.version > read
    with pytest.raises(ChangedMeanwhile, match="已被他人修改"):
        world.do(task, Action.APPROVE, expected_version=read)
    assert task.stage == Stage.ACTING
    assert [s.decision for s in sign_offs(world.session, task)] == [Decision.REJECTED]


def test_acting_on_the_current_version_succeeds(world):
    task = world.task_at(Stage.EVIDENCE)
    world.do(task, Action.APPROVE, expected_version=task.version)
    assert task.stage == Stage.SIGNED_OFF


def approve_after_reading(engine, task_id: int, actor_id: int, barrier, now):
    """One supervisor: load the page (read the version), wait for the other, then approve."""
    with Session(engine) as page:
        version = page.get(Task, task_id).version
    barrier.wait(timeout=30)
    with Session(engine) as session:
        task, actor = session.get(Task, task_id), session.get(Person, actor_id)
        try:
            apply(session, task, Action.APPROVE, actor, now, expected_version=version)
            session.commit()
        except ChangedMeanwhile as error:
            session.rollback()
            return error
    return "approved"


def test_two_supervisors_approving_at_once_one_wins_the_other_is_told(world, engine):
    task = world.task_at(Stage.EVIDENCE)
    second_office = world.person("蒋丽", Role.OFFICE)
    world.session.commit()
    barrier = threading.Barrier(2)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(approve_after_reading, engine, task.id, actor.id, barrier, world.now)
            for actor in (world.office, second_office)
        ]
        outcomes = [future.result(timeout=60) for future in futures]

    assert sorted(map(str, outcomes)) == sorted(
        ["approved", f"任务 {task.id} 已被他人修改，请刷新后重试"]
    )
    with Session(engine) as fresh:
        assert fresh.get(Task, task.id).stage == Stage.SIGNED_OFF
        assert [s.decision for s in sign_offs(fresh, task)] == [Decision.APPROVED]
        assert verify(fresh) == []


# --- nothing is half-written ------------------------------------------------------------


def snapshot(session, task: Task) -> tuple:
    session.flush()
    return (
        task.stage,
        task.version,
        event_count(session, task),
        len(sign_offs(session, task)),
        len(reviews(session, task)),
        len(deadline_changes(session, task)),
        len(extension_requests(session, task)),
    )


REFUSALS = {
    "submit_without_evidence": (Stage.ACTING, Action.SUBMIT, lambda world: {}),
    "approve_before_endorsement": (Stage.EVIDENCE, Action.APPROVE, lambda world: {}),
    "rebound_without_deadline": (Stage.LOOKBACK, Action.REBOUND, lambda world: {"deadline": None}),
    "grant_without_request": (Stage.ACTING, Action.GRANT_EXTENSION, lambda world: {}),
    "lookback_by_someone_not_a_reviewer": (
        Stage.SIGNED_OFF,
        Action.OPEN_LOOKBACK,
        lambda world: {"reviewer": world.officer},
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_action_writes_nothing(world, case):
    stage, action, data_for = REFUSALS[case]
    if action == Action.APPROVE:
        world.two_signatures(FirstSigner.LEADER)
    task = world.task_at(stage)
    before = snapshot(world.session, task)

    with pytest.raises((Refused, BadInput)):
        world.do(task, action, **data_for(world))
    assert not world.session.new and not world.session.dirty
    assert snapshot(world.session, task) == before


def support_of(session, task: Task) -> list[int]:
    return list(
        session.exec(select(TaskSupport.department_id).where(TaskSupport.task_id == task.id))
    )


def test_a_refused_reassignment_keeps_the_support_departments(world):
    task = world.task_at(Stage.ACTING)
    assert support_of(world.session, task) == [world.support.id]

    with pytest.raises(BadInput, match="已是牵头部门"):
        world.do(task, Action.REASSIGN, support_departments=[world.department])
    assert support_of(world.session, task) == [world.support.id]


def test_a_refused_reassignment_leaves_the_task_as_it_was(world):
    task = world.task_at(Stage.ACTING, long_term=True)
    with pytest.raises(BadInput, match="须填写整改时限"):
        world.do(task, Action.REASSIGN, deadline_class=DeadlineClass.DATED, deadline=None)
    assert task.deadline_class == DeadlineClass.LONG_TERM
    assert not world.session.dirty
