"""My tasks, the task page, its actions and evidence: who clicked what, handed to apply()."""

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData, UploadFile

from models.access import readable_task
from models.calendar import load_calendar
from models.directory import active_people_with, department_names
from models.errors import BadInput, NotFound, RectifyError
from models.evidence import StoredFile, blob_path, discard_unreferenced, store_file
from models.ledger import Task
from models.lookback import reviewer_pool
from models.people import Role
from models.records import Evidence
from models.stages import ACTION_LABELS, Action
from models.views import my_tasks, task_sheet
from models.workflow import allowed_actions, apply
from notifications.links import task_path
from web.actions import DEADLINE_CLASSES, PROGRESS_STATUSES, READERS, WITH_FILES
from web.desk import (
    CheckedForm,
    CsrfFailed,
    Desk,
    Viewer,
    desk_of,
    field_text,
    flash,
    page,
    reading_as,
    signed_in,
    status_of,
    today_and_calendar,
    viewer,
)

router = APIRouter()
MAX_FILES = 10
PREVIEWABLE = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}


@router.get("/my")
def my(request: Request):
    with reading_as(request) as (session, me):
        today, calendar = today_and_calendar(session, desk_of(request).now())
        lines = my_tasks(session, me.person, today, calendar)
        return page(request, "my.html", viewer=me, lines=lines, today=today)


@router.get("/tasks/{task_id}")
def task_page(request: Request, task_id: int, k: str | None = None):
    if k is not None:
        return _land(request, task_id, k)
    with desk_of(request).reading() as session:
        me = viewer(request, session)
        task = readable_task(session, task_id, me.person)
        return _render_task(request, session, me, task)


def _land(request: Request, task_id: int, token: str) -> Response:
    """A mail link: sign the reader in for that one page, then drop the token from the URL."""
    path = task_path(task_id)
    person_id = desk_of(request).links.read(token)
    if person_id is None:
        message = "邮件中的链接无效或已过期，请登录后查看。"
        return page(request, "error.html", 400, message=message, login_next=path)
    if request.session.get("p") != person_id:
        request.session.clear()
        request.session["link"] = person_id
    return RedirectResponse(path, status_code=303)


def _render_task(
    request: Request, session: Session, me: Viewer, task: Task, *, error: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    desk = desk_of(request)
    today, calendar = today_and_calendar(session, desk.now())
    sheet = task_sheet(session, task, today, calendar)
    actions = allowed_actions(session, task, me.person) if me.account else []
    choices = {}
    if Action.OPEN_LOOKBACK in actions:
        choices["reviewers"] = [(p.email or str(p.id), p.name) for p in reviewer_pool(session)]
    if Action.ASSIGN in actions or Action.REASSIGN in actions:
        near = task.lead_department_id  # suggested: its people; anyone else may be typed
        choices["officers"] = active_people_with(session, Role.OFFICER, department_id=near)
        choices["leaders"] = active_people_with(session, Role.LEADER, department_id=near)
        choices["departments"] = [(name, name) for name in department_names(session)]
    return page(
        request, "task.html", status, viewer=me, error=error, actions=[a.value for a in actions],
        action_labels={a.value: label for a, label in ACTION_LABELS.items()},
        with_files=[a.value for a in WITH_FILES], deadline_classes=DEADLINE_CLASSES,
        progress_statuses=PROGRESS_STATUSES, choices=choices, **sheet,
    )  # fmt: skip


@router.post("/tasks/{task_id}/do/{action}")
def act(request: Request, task_id: int, action: str, form: CheckedForm):
    desk = desk_of(request)
    try:
        chosen = Action(action)
    except ValueError:
        raise NotFound(f"没有这个操作：{action}") from None
    stored: list[StoredFile] = []
    try:
        # Who asks, whether they may see the task, and the uploads' bytes on disk, before the
        # write: on SQLite one writer goes in at a time, so what happens inside is what every
        # other approval waits for. apply() checks the actor and the task again inside.
        with desk.reading() as session:
            me = signed_in(request, session)
            readable_task(session, task_id, me.person)
            calendar = load_calendar(session)
        version = _version(form)
        description = field_text(form, "description", limit=500) or None
        if chosen in WITH_FILES:
            _store_uploads(desk, form, stored, required=chosen == Action.ATTACH_EVIDENCE)
        with desk.unit() as session:
            task = readable_task(session, task_id, me.person)
            moment = desk.now()
            for file in stored:  # each file checked against the page's version, then moved on
                apply(session, task, Action.ATTACH_EVIDENCE, me.person, moment, file=file,
                      expected_version=version, description=description)  # fmt: skip
                version = None
            if chosen != Action.ATTACH_EVIDENCE:
                data = READERS[chosen](session, form)
                apply(session, task, chosen, me.person, moment, expected_version=version,
                      calendar=calendar, **data)  # fmt: skip
    except RectifyError as error:
        if stored:
            with desk.unit() as session:
                discard_unreferenced(session, desk.settings.home, stored)
        if isinstance(error, NotFound | CsrfFailed):
            raise  # nothing to show them: the task is not theirs, or the form was not theirs
        return _after_error(request, task_id, error)
    done = f"已{ACTION_LABELS[chosen]}"
    if stored:
        done += f"（{len(stored)} 份材料）"
    flash(request, done)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


def _version(form: FormData) -> int | None:
    text = field_text(form, "version", limit=12)
    if not text:
        return None
    if not text.isdigit():
        raise BadInput("页面数据有误，请刷新后重试")
    return int(text)


def _store_uploads(desk: Desk, form: FormData, stored: list[StoredFile], *, required: bool) -> None:
    """Copy the uploaded files into the evidence store, into `stored` one by one (on a
    refusal the caller discards those already stored: all of them or none)."""
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if required and not files:
        raise BadInput("请选择要上传的佐证材料文件")
    if len(files) > MAX_FILES:
        raise BadInput(f"一次最多上传 {MAX_FILES} 个文件")
    policy = desk.settings.evidence_policy
    for upload in files:
        stored.append(store_file(desk.settings.home, upload.file, upload.filename or "", policy))


def _after_error(request: Request, task_id: int, error: RectifyError) -> Response:
    """The task page again, as it stands (nothing was changed), with the reason on top."""
    with desk_of(request).reading() as session:
        me = viewer(request, session)
        task = readable_task(session, task_id, me.person)
        return _render_task(request, session, me, task, error=str(error), status=status_of(error))


@router.get("/evidence/{evidence_id}")
def evidence_file(request: Request, evidence_id: int, inline: bool = False) -> Response:
    with reading_as(request) as (session, me):
        item = session.get(Evidence, evidence_id)
        if item is None:
            raise NotFound(f"找不到佐证材料 {evidence_id}")
        readable_task(session, item.task_id, me.person)  # NotFound unless they may read it
    path = blob_path(desk_of(request).settings.home, item.sha256)
    if not path.exists():
        raise NotFound(f"佐证材料 {item.name} 的文件已不在存储中，请联系管理员")
    show = inline and item.content_type in PREVIEWABLE
    response = FileResponse(
        path,
        media_type=item.content_type if show else "application/octet-stream",
        filename=item.name,
        content_disposition_type="inline" if show else "attachment",
    )
    if show and item.content_type != "application/pdf":
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
