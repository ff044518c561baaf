"""Creating the ledger's records (inspection, areas, tasks, measures), each in the audit trail."""

from datetime import date, datetime

from sqlmodel import Session, select

from models.audit import append_event, task_chain
from models.errors import BadInput
from models.ledger import Area, FirstSigner, Inspection, Measure, Task
from models.people import Person
from models.stages import Stage


def inspection_chain(inspection_id: int) -> str:
    return f"inspection:{inspection_id}"


def find_inspection_by_source(session: Session, sha256: str) -> Inspection | None:
    return session.exec(select(Inspection).where(Inspection.source_sha256 == sha256)).first()


def create_inspection(
    session: Session,
    *,
    title: str,
    actor: Person,
    now: datetime,
    unit: str | None = None,
    group: str | None = None,
    start: date | None = None,
    end: date | None = None,
    feedback: date | None = None,
    publish_from: date | None = None,
    publish_to: date | None = None,
    source_sha256: str | None = None,
    first_signer: FirstSigner = FirstSigner.NONE,
) -> Inspection:
    if not title.strip():
        raise BadInput("巡察名称不能为空")
    inspection = Inspection(
        title=title.strip(),
        unit=unit,
        group=group,
        start=start,
        end=end,
        feedback=feedback,
        publish_from=publish_from,
        publish_to=publish_to,
        source_sha256=source_sha256,
        first_signer=FirstSigner(first_signer),
        created_at=now,
    )
    session.add(inspection)
    session.flush()
    append_event(
        session,
        chain=inspection_chain(inspection.id),
        action="create_inspection",
        actor=actor,
        now=now,
        details={"title": inspection.title, "group": group, "source_sha256": source_sha256},
    )
    return inspection


def add_area(
    session: Session, inspection: Inspection, number: int, title: str, actor: Person, now: datetime
) -> Area:
    area = Area(inspection_id=inspection.id, number=number, title=title.strip())
    session.add(area)
    session.flush()
    append_event(
        session,
        chain=inspection_chain(inspection.id),
        action="add_area",
        actor=actor,
        now=now,
        details={"area_id": area.id, "number": number, "title": area.title},
    )
    return area


def add_task(
    session: Session,
    area: Area,
    number: int,
    title: str,
    measures: list[str],
    actor: Person,
    now: datetime,
) -> Task:
    """A new task, waiting to be assigned (待交办); its chain starts with this event."""
    if not title.strip():
        raise BadInput("整改任务的标题不能为空")
    task = Task(
        inspection_id=area.inspection_id,
        area_id=area.id,
        number=number,
        title=title.strip(),
        stage=Stage.PENDING,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    for index, text in enumerate(measures, start=1):
        session.add(Measure(task_id=task.id, number=index, text=text.strip()))
    append_event(
        session,
        chain=task_chain(task.id),
        task_id=task.id,
        action="create",
        actor=actor,
        now=now,
        stage_to=Stage.PENDING,
        details={"area": area.number, "number": number, "title": task.title, "measures": measures},
    )
    return task


def set_first_signer(
    session: Session, inspection: Inspection, mode: FirstSigner, actor: Person, now: datetime
) -> None:
    """Switch single or two-signature sign-off for an inspection, recorded in its trail."""
    old = inspection.first_signer
    inspection.first_signer = FirstSigner(mode)
    append_event(
        session,
        chain=inspection_chain(inspection.id),
        action="set_first_signer",
        actor=actor,
        now=now,
        details={"from": old, "to": inspection.first_signer},
    )
