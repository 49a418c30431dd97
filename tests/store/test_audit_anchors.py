"""The audit chain against someone who can write the database (SQLite and
PostgreSQL): a cut tail, a deleted or moved head row, and a history rewritten
with recomputed hashes. What the database alone cannot show, a head kept
elsewhere (``expect_head``) or the key outside it (HMACs) does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from mlsteward import errors
from mlsteward.config import Settings
from mlsteward.store import Store
from mlsteward.store.audit import (
    GENESIS,
    ChainHead,
    ChainReport,
    audit_events,
    audit_head,
    chain_head,
    chain_report,
    event_hash,
    event_hmac,
    record,
    verify_chain,
)

KEY = "k" * 32


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


def _write(store: Store, n: int) -> None:
    for i in range(n):
        with store.unit_of_work() as session:
            record(
                session,
                actor="a",
                action="x.done",
                object_type="x",
                object_id=str(i),
                details={"i": i},
            )


def _report(store: Store, expect: ChainHead | None = None) -> ChainReport:
    with store.read() as session:
        return chain_report(session, expect_head=expect)


def _head(store: Store) -> ChainHead:
    with store.read() as session:
        return chain_head(session)


def _cut_tail(store: Store, keep: int, *, head_row: str) -> None:
    """Delete every event after ``keep``; move the head row back, or delete it."""
    with store.engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq > keep))
        if head_row == "delete":
            conn.execute(delete(audit_head))
            return
        last = conn.execute(
            select(audit_events.c.hash).where(audit_events.c.seq == keep)
        ).scalar_one()
        conn.execute(update(audit_head).values(seq=keep, hash=last))


def _rewrite_from(store: Store, seq: int, *, hmacs: str) -> None:
    """Edit event ``seq`` and recompute every hash after it, as someone
    without the key would: keep the old HMACs, or strip them (``none``)."""
    with store.engine.begin() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).all()
        prev = GENESIS
        for r in rows:
            if r.seq >= seq:
                details = {"i": 99} if r.seq == seq else r.details
                digest = event_hash(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    object_type=r.object_type,
                    object_id=r.object_id,
                    details=details,
                    prev_hash=prev,
                )
                values = {"details": details, "prev_hash": prev, "hash": digest}
                if hmacs == "none":
                    values["hmac"] = None
                conn.execute(
                    update(audit_events)
                    .where(audit_events.c.seq == r.seq)
                    .values(**values)
                )
                prev = digest
            else:
                prev = r.hash
        conn.execute(update(audit_head).values(seq=rows[-1].seq, hash=prev))
        if hmacs == "none":
            conn.execute(update(audit_events).values(hmac=None))


def test_a_new_store_has_its_head_row_and_an_empty_chain(store: Store) -> None:
    report = _report(store)
    assert report.ok and report.events == 0
    assert report.head == ChainHead(seq=0, hash=GENESIS)
    with store.read() as session:
        row = session.execute(select(audit_head)).one()
    assert (row.id, row.seq, row.hash) == (1, 0, GENESIS)
    assert _report(store, ChainHead.parse(f"0:{GENESIS}")).ok


def test_a_cut_tail_with_the_head_moved_back_needs_the_kept_head(
    store: Store,
) -> None:
    _write(store, 6)
    kept = _head(store)
    assert kept.seq == 6 and _report(store, kept).ok
    _cut_tail(store, 4, head_row="update")
    # The database alone is consistent again: this is the limit without a
    # head kept elsewhere.
    assert _report(store).ok
    report = _report(store, kept)
    assert not report.ok
    [problem] = report.problems
    assert problem.seq == 6
    assert "no longer reaches the expected head, event 6" in problem.problem
    assert "ends at 4" in problem.problem
    # Writing goes on from the cut; once event 6 exists again, it has
    # another hash than the one kept.
    _write(store, 2)
    assert _report(store).ok
    [problem] = _report(store, kept).problems
    assert problem.seq == 6 and "rewritten" in problem.problem


def test_a_deleted_head_row_fails_verify_and_refuses_the_next_write(
    store: Store,
) -> None:
    _write(store, 5)
    kept = _head(store)
    _cut_tail(store, 3, head_row="delete")
    report = _report(store)
    assert not report.ok
    assert any("head row is missing" in p.problem for p in report.problems)
    assert any("no longer reaches" in p.problem for p in _report(store, kept).problems)
    with pytest.raises(errors.IntegrityError, match="head row is missing") as exc:
        _write(store, 1)
    assert exc.value.field == "audit_head"
    with store.read() as session:  # nothing was written
        assert chain_head(session).seq == 3


def test_a_head_row_moved_back_alone_refuses_the_next_write(store: Store) -> None:
    _write(store, 4)
    with store.engine.begin() as conn:
        first = conn.execute(
            select(audit_events.c.hash).where(audit_events.c.seq == 2)
        ).scalar_one()
        conn.execute(update(audit_head).values(seq=2, hash=first))
    assert "records event 2" in _report(store).problems[0].problem
    # Not an unhandled database error from the duplicate event number 3.
    with pytest.raises(errors.IntegrityError, match="records event 2 but the log"):
        _write(store, 1)


def test_a_rewritten_history_passes_without_anchors_and_fails_with_one(
    store: Store,
) -> None:
    _write(store, 5)
    kept = _head(store)
    _rewrite_from(store, 2, hmacs="keep")
    # Every hash recomputed and the head row moved along: the database alone
    # cannot tell (documented limit), the kept head can.
    assert _report(store).ok
    [problem] = _report(store, kept).problems
    assert problem.seq == 5 and "not the expected" in problem.problem


@pytest.mark.parametrize("hmacs", ["keep", "none"])
def test_the_key_catches_a_rewrite_by_someone_without_it(
    db_url: str, hmacs: str
) -> None:
    keyed = Store(db_url, audit_key=KEY)
    _write(keyed, 5)
    report = _report(keyed)
    assert report.ok and report.keyed
    with keyed.read() as session:
        row = session.execute(select(audit_events).where(audit_events.c.seq == 5)).one()
    assert row.hmac == event_hmac(KEY, row.hash)
    _rewrite_from(keyed, 3, hmacs=hmacs)
    problems = _report(keyed).problems
    if hmacs == "keep":
        assert [p.seq for p in problems] == [3, 4, 5]
        assert all("HMAC does not match" in p.problem for p in problems)
    else:
        [problem] = problems
        assert "no event carries an HMAC" in problem.problem
    # Read without the key, the rewrite is consistent: the key is the anchor.
    unkeyed = Store(db_url)
    assert _report(unkeyed).ok and not _report(unkeyed).keyed
    keyed.dispose()
    unkeyed.dispose()


def test_keyed_events_follow_unkeyed_ones_and_may_not_stop(db_url: str) -> None:
    plain, keyed = Store(db_url), Store(db_url, audit_key=KEY)
    _write(plain, 2)
    # The key set, nothing written since: verify says why it cannot vouch.
    [problem] = _report(keyed).problems
    assert problem.seq == 2 and "nothing was recorded since" in problem.problem
    _write(keyed, 2)
    assert _report(keyed).ok  # events before the first keyed one are fine
    other = Store(db_url, audit_key="x" * 32)
    assert not _report(other).ok  # checked with another key
    other.dispose()
    _write(plain, 1)  # a writer without the key, after keyed events
    [problem] = _report(keyed).problems
    assert problem.seq == 5 and "no HMAC although event 3" in problem.problem
    plain.dispose()
    keyed.dispose()


def test_the_key_comes_from_settings_and_is_never_shown(tmp_path: Path) -> None:
    s = Settings(home=tmp_path, audit_key=KEY)
    assert KEY not in repr(s) and KEY not in str(s.model_dump())
    store = Store.from_settings(s)
    _write(store, 1)
    assert _report(store).keyed and _report(store).ok
    store.dispose()
    with pytest.raises(ValueError, match="audit_key") as short:
        Settings(home=tmp_path, audit_key="shortsecret")
    assert "shortsecret" not in str(short.value)


def test_a_head_must_be_seq_colon_hash() -> None:
    for bad in ("", "12", "x:" + "a" * 64, "3:" + "a" * 63, "-1:" + "a" * 64):
        with pytest.raises(errors.InvalidInput, match="SEQ:HASH") as exc:
            ChainHead.parse(bad)
        assert exc.value.field == "expect_head"
    head = ChainHead.parse(" 7:" + "AB" * 32)
    assert str(head) == "7:" + "ab" * 32


def test_verify_chain_keeps_its_tuple_for_callers(store: Store) -> None:
    _write(store, 2)
    with store.read() as session:
        n, problems = verify_chain(session)
    assert (n, problems) == (2, [])
