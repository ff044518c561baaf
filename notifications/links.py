"""Links in messages: the desk's address, the page of a task, and a signed token for the reader.

The token says who the message was sent to and expires after LINK_MAX_AGE. It is made once
per message (one HMAC, not one per link) and is single-purpose: the desk accepts it only to
open task pages read-only for that person (acting still needs a sign-in), never as a session.
The key is RECTIFY_HOME/secret_key, shared with the desk that checks it.
"""

import os
import secrets
from functools import cache
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

LINK_MAX_AGE = 14 * 24 * 3600  # a reminder's links work for two weeks
TOKEN_PARAMETER = "k"


def task_path(task_id: int) -> str:
    return f"/tasks/{task_id}"


def task_url(base_url: str, task_id: int, *, token: str | None = None) -> str:
    """The desk page of a task: RECTIFY_BASE_URL + /tasks/{id}, with the reader's token."""
    suffix = f"?{TOKEN_PARAMETER}={token}" if token else ""
    return base_url.rstrip("/") + task_path(task_id) + suffix


def load_secret(home: Path) -> str:
    """The signing key of this data folder, created once (mode 0600)."""
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class LinkSigner:
    """Signed, expiring tokens for mail links: the person a message was sent to."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="rectify-mail-link")

    def token(self, person_id: int) -> str:
        return self._serializer.dumps(person_id)

    def read(self, token: str, max_age: int = LINK_MAX_AGE) -> int | None:
        """The person the link was sent to, if the token is genuine and fresh."""
        try:
            person_id = self._serializer.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return None
        return person_id if isinstance(person_id, int) and person_id > 0 else None


@cache
def signer_for(home: Path) -> LinkSigner:
    """The signer of a data folder, read once per process (a run composes many messages)."""
    return LinkSigner(load_secret(home))
