"""Sign-in accounts: a password (argon2) and the secrets a person's links depend on.

A person without an account cannot sign in; the ledger does not need one (people are
imported from the staff list, accounts are given by `rectify user add`).
"""

import secrets
import threading
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Field, Session, SQLModel, select

from models.errors import BadInput
from models.people import Person

MIN_PASSWORD = 8
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this when no account matches costs the same as a real check, so the
# time a refusal takes does not tell whether the sign-in name exists.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# Each check takes 64 MiB and a core for about 0.1 s: 20 people signing in at once took the
# desk to 1.1 GB. Two at a time (this machine's cores) keeps it near 130 MB; the others queue.
_verifying = threading.BoundedSemaphore(2)


class Account(SQLModel, table=True):
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    password_hash: str = Field(max_length=200)
    # Bumped when the password changes: every session signed with the old epoch ends.
    session_epoch: int = Field(default=0)
    # The secret part of the person's calendar feed URL (a new one revokes the old URL).
    feed_key: str = Field(max_length=64, unique=True)
    changed_at: datetime


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"密码至少 {MIN_PASSWORD} 位")
    return _hasher.hash(password)


def set_password(
    session: Session, person: Person, now: datetime, *, password: str | None = None,
    password_hash: str | None = None,
) -> Account:  # fmt: skip
    """Give a person a password (or a precomputed hash of one); older sessions end."""
    hashed = password_hash or hash_password(password or "")
    account = session.get(Account, person.id)
    if account is None:
        account = Account(person_id=person.id, password_hash=hashed,
                          feed_key=secrets.token_urlsafe(32), changed_at=now)  # fmt: skip
    else:
        account.password_hash = hashed
        account.session_epoch += 1
        account.changed_at = now
    session.add(account)
    session.flush()
    return account


def find_login(session: Session, login: str) -> tuple[Person, Account] | None:
    """The active person with an account whose e-mail (stored lower-case) is this login."""
    row = session.exec(
        select(Person, Account)
        .join(Account, Account.person_id == Person.id)
        .where(Person.email == login.strip().lower(), Person.active)
    ).first()
    return (row[0], row[1]) if row else None


def check_password(session: Session, login: str, password: str) -> tuple[Person, Account] | None:
    """The person and account if the password is right, else None (same cost either way)."""
    found = find_login(session, login)
    try:
        with _verifying:
            _hasher.verify(found[1].password_hash if found else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return found
