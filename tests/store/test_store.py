"""The store runs unchanged on SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update

from mlsteward.errors import InvalidInput
from mlsteward.store import Store, load_all_tables, metadata
from mlsteward.store.audit import audit_events, record, verify_chain


def test_migrations_build_exactly_the_declared_schema(db_url: str) -> None:
    store = Store(db_url, auto_upgrade=False)
    assert store.current_revision() is None
    assert store.upgrade() == store.head_revision()
    load_all_tables()
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []
    store.dispose()


def test_first_use_upgrades_itself(db_url: str) -> None:
    store = Store(db_url)
    with store.unit_of_work() as session:
        session.execute(select(audit_events.c.seq)).all()
    assert store.current_revision() == store.head_revision()
    store.dispose()


def test_without_auto_upgrade_an_empty_database_is_refused(db_url: str) -> None:
    store = Store(db_url, auto_upgrade=False)
    refused = pytest.raises(InvalidInput, match="mlsteward db upgrade")
    with refused, store.unit_of_work():
        pass
    store.dispose()


def test_a_failed_unit_of_work_writes_nothing(db_url: str) -> None:
    store = Store(db_url)
    with pytest.raises(RuntimeError), store.unit_of_work() as session:
        record(session, actor="a", action="x.done", object_type="x", object_id="1")
        raise RuntimeError("boom")
    with store.read() as session:
        assert session.execute(select(audit_events)).all() == []
    store.dispose()


def test_times_come_back_as_the_same_utc_instant(db_url: str) -> None:
    store = Store(db_url)
    with store.unit_of_work() as session:
        ev = record(session, actor="a", action="x.done", object_type="x", object_id="1")
    with store.read() as session:
        at = session.execute(select(audit_events.c.at)).scalar_one()
    assert at.tzinfo is not None
    assert at == ev.at
    assert at.utcoffset() == dt.timedelta(0)
    store.dispose()


def test_audit_chain_detects_edit_delete_and_reorder(db_url: str) -> None:
    store = Store(db_url)
    for i in range(5):
        with store.unit_of_work() as session:
            record(
                session,
                actor="a",
                action="x.done",
                object_type="x",
                object_id=str(i),
                details={"i": i},
            )
    with store.read() as session:
        n, problems = verify_chain(session)
    assert (n, problems) == (5, [])

    # Edit event 3's details directly in the database.
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 3)
            .values(details={"i": 99})
        )
    with store.read() as session:
        _, problems = verify_chain(session)
    assert [p.seq for p in problems] == [3]
    assert "edited" in problems[0].problem

    # Put it back, then delete event 2: the gap and the broken link are named.
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.seq == 3).values(details={"i": 2})
        )
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    with store.read() as session:
        _, problems = verify_chain(session)
    assert {p.seq for p in problems} == {3}
    assert any("deleted" in p.problem for p in problems)
    store.dispose()


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="not a database URL"):
        Store("not a url").engine  # noqa: B018
    with pytest.raises(InvalidInput, match="not supported"):
        Store("mysql://x@localhost/db").engine  # noqa: B018


def test_head_revision_constant_is_the_newest_migration(tmp_path: pathlib.Path) -> None:
    from mlsteward.store.engine import HEAD_REVISION

    store = Store(f"sqlite:///{tmp_path / 'head.db'}")
    assert store.head_revision() == HEAD_REVISION
