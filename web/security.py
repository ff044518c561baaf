"""The desk's guards: CSRF tokens and sign-in throttling.

Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous) under the key in
RECTIFY_HOME/secret_key (notifications.links.load_secret), so restarting the desk keeps
everyone signed in, and two desks on one data folder agree with the mail links they check.
"""

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


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
