"""Signing in and out. Failed attempts are throttled per address and per login."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from models.accounts import check_password
from web.desk import CheckedForm, desk_of, field_text, page
from web.security import new_csrf_token

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only a path on this desk (never //host or a scheme), so sign-in cannot redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/my"
    return target


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/my", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    return page(request, "login.html", next=safe_next(next), login="", error=None)


@router.post("/login")
def login(request: Request, form: CheckedForm):
    login = form.get("login")
    login = login.strip() if isinstance(login, str) and len(login) <= 200 else ""
    if "\x00" in login:
        login = ""  # matches no one: refused like any wrong sign-in
    typed = form.get("password")
    password = typed if isinstance(typed, str) and len(typed) <= 200 else ""  # as typed: no strip
    next = field_text(form, "next", limit=2000)
    desk = desk_of(request)
    address = request.client.host if request.client else "?"
    keys = (f"ip:{address}", f"login:{login.strip().lower()}")
    wait = desk.throttle.wait(*keys)
    if wait:
        minutes = max(1, round(wait / 60))
        message = f"登录失败次数过多，请约 {minutes} 分钟后再试"
        return page(request, "login.html", 429, next=safe_next(next), login=login, error=message)
    with desk.reading() as session:  # half a second of argon2: never inside a write
        found = check_password(session, login, password)
    if found is None:
        desk.throttle.failed(*keys)
        return page(request, "login.html", 401, next=safe_next(next), login=login,
                    error="邮箱或密码不正确")  # fmt: skip
    desk.throttle.succeeded(*keys)
    person, account = found
    request.session.clear()  # a new session: nothing from before sign-in carries over
    request.session.update(p=person.id, e=account.session_epoch, csrf=new_csrf_token())
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, form: CheckedForm) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
