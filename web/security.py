"""The desk's secrets: the signing key, CSRF tokens, sign-in throttling, signed links.

Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous); the key lives in
RECTIFY_HOME/secret_key, created on first start with mode 0600, so restarting the desk keeps
everyone signed in and two desks on one data folder agree.
"""

import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LINK_MAX_AGE = 14 * 24 * 3600  # a reminder's links work for two weeks


def load_secret(home: Path) -> str:
    """The desk's signing key, created once per data folder."""
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected, given)


class SignInThrottle:
    """At most `limit` failed sign-ins per key (the address, and the login) per window.

    In memory: a desk process counts its own attempts; several desks behind one address
    each allow `limit`, which still bounds guessing to a handful a minute.
    """

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, *keys: str, now: float | None = None) -> int:
        """Seconds until these keys may try again (0: now)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            waits = []
            for key in keys:
                failures = self._failures.get(key)
                while failures and failures[0] <= moment - self.window:
                    failures.popleft()
                if failures and len(failures) >= self.limit:
                    waits.append(int(failures[0] + self.window - moment) + 1)
            return max(waits, default=0)

    def failed(self, *keys: str, now: float | None = None) -> None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._failures[key].append(moment)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class LinkSigner:
    """Signed, expiring tokens for mail links: who it was sent to and the one page it opens."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="rectify-mail-link")

    def token(self, person_id: int, path: str) -> str:
        return self._serializer.dumps([person_id, path])

    def read(self, token: str, path: str, max_age: int = LINK_MAX_AGE) -> int | None:
        """The person the link was sent to, if the token is genuine, fresh and for this page."""
        try:
            person_id, signed_path = self._serializer.loads(token, max_age=max_age)
        except (BadSignature, SignatureExpired, ValueError, TypeError):
            return None
        return person_id if signed_path == path and isinstance(person_id, int) else None
