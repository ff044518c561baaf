"""The scheduler lease: one process schedules on a database, the others are told who does.

APScheduler keeps no lock of its own: two schedulers on one job store run every job twice
(STACK-NOTES.md). A holder takes the lease row when it is free or expired, with a
conditional write checked by its row count, renews it well before it expires, and gives it
up when it stops; a process that died leaves it to expire. Callers commit.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models.dispatch_tables import SchedulerLease

EMBEDDED = "embedded"
TTL = timedelta(seconds=90)  # renewed every 30 s: two missed renewals still hold it


def acquire(
    session: Session, holder: str, now: datetime, *, name: str = EMBEDDED, ttl: timedelta = TTL
) -> SchedulerLease | None:
    """Take the lease for `holder`, or None when someone else holds it (see `current`)."""
    lease = session.get(SchedulerLease, name, populate_existing=True)
    if lease is None:
        try:
            with session.begin_nested():
                lease = SchedulerLease(
                    name=name, holder=holder, acquired_at=now, expires_at=now + ttl
                )
                session.add(lease)
            return lease
        except IntegrityError:  # taken at the same moment by another process
            return None
    if lease.holder != holder and lease.expires_at > now:
        return None
    taken = session.exec(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.expires_at == lease.expires_at)
        .values(holder=holder, acquired_at=now, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return None
    session.refresh(lease)
    return lease


def renew(
    session: Session, holder: str, now: datetime, *, name: str = EMBEDDED, ttl: timedelta = TTL
) -> bool:
    """Extend our lease; False when it is no longer ours (we stalled past its expiry)."""
    renewed = session.exec(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return renewed.rowcount == 1


def release(session: Session, holder: str, *, name: str = EMBEDDED) -> None:
    session.exec(
        delete(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .execution_options(synchronize_session=False)
    )


def current(session: Session, *, name: str = EMBEDDED) -> SchedulerLease | None:
    return session.get(SchedulerLease, name, populate_existing=True)
