"""Database helpers that behave the same on SQLite and PostgreSQL."""

from sqlmodel import select

from models.db import IN_BATCH, among
from models.people import Person


def test_among_finds_exactly_the_listed_rows_however_many_there_are(session, now):
    session.add_all(Person(name=f"人员{i}", created_at=now) for i in range(IN_BATCH + 20))
    session.flush()
    ids = sorted(session.exec(select(Person.id)).all())
    wanted = [*ids[::2], max(ids) + 1000]  # more than one batch, and an id that is not there

    found = [
        person_id
        for condition in among(session, Person.id, wanted)
        for person_id in session.exec(select(Person.id).where(condition))
    ]

    assert sorted(found) == ids[::2]
    assert list(among(session, Person.id, [])) == []
