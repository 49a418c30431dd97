"""Who may do what: every use case declares its permission, the service checks.

A service method that is a use case carries :func:`use_case`, naming the
operation (``"models.set_alias"``, the name the SDK's namespace method has)
and the least role it needs. The decorator is the only place a permission is
checked, so every adapter that reaches the service (REST, CLI, SDK, worker,
demo) is held to the same rule. :data:`USE_CASES` is the table of them all;
the test suite walks it times every role, and fails for a public service
method that is neither a use case nor marked :func:`internal`.

Who acts is a :class:`Principal`:

- a user authenticated by a token (REST, CLI and SDK with ``MLSTEWARD_TOKEN``);
- a job's principal: the user who queued it, re-read from the database when
  the worker runs it (so a disabled user's jobs stop);
- a service identity (``scope="service"``) for what the scheduler starts.

Without a principal, a context only names an actor (``MLSTEWARD_ACTOR``).
That counts while the store has no users at all (one person's notebook); once
a user exists, every use case above ``viewer`` needs a token. Governed use
cases (deciding an approval) always need an authenticated principal: a name
that anyone can type proves nothing about independence.

The check runs twice for a change: when the use case starts, and again inside
every transaction the use case writes, against the database rows of the
token and the user (revoked, disabled or demoted since it authenticated ->
refused, and the change rolls back with its audit event).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select

from mlsteward.errors import Forbidden, Unauthenticated
from mlsteward.store import Store

__all__ = [
    "INTERNAL",
    "ROLES",
    "SCHEDULER",
    "SERVICE_ROLE",
    "USE_CASES",
    "Principal",
    "UseCase",
    "acting",
    "authorize",
    "internal",
    "job_context",
    "role_at_least",
    "use_case",
]

ROLES = ("viewer", "developer", "approver", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}

#: The role of the scheduler's service identity: it may retrain and run
#: monitors (developer work), never approve or administer.
SERVICE_ROLE = "developer"

F = TypeVar("F", bound=Callable[..., Any])


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` includes the rights of ``needed``.

    Example:
        >>> role_at_least("approver", "developer"), role_at_least("viewer", "admin")
        (True, False)
    """
    return _RANK.get(role, -1) >= _RANK[needed]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user with a role, through a token of some scope.

    ``scope`` is ``user`` (a user's token), ``deployment:<name>`` (may only
    call that deployment's inference endpoints), ``job`` (a worker running a
    job queued by ``user``) or ``service`` (the scheduler's own identity).
    """

    user: str
    role: str
    scope: str = "user"
    token_id: str | None = None

    @property
    def acts_for_users(self) -> bool:
        """A deployment token may only predict; the other scopes act."""
        return not self.scope.startswith("deployment:")

    def can(self, needed: str) -> bool:
        return self.acts_for_users and role_at_least(self.role, needed)

    def can_infer(self, deployment: str) -> bool:
        if self.acts_for_users:
            return role_at_least(self.role, "viewer")
        return self.scope == f"deployment:{deployment}"

    def require(self, needed: str, action: str) -> None:
        if not self.can(needed):
            raise Forbidden(self.refusal(needed, action), field="token", needed=needed)

    def refusal(self, needed: str, action: str) -> str:
        """Why this principal may not do ``action`` that needs ``needed``."""
        if not self.acts_for_users:
            return (
                f"{self.user}'s token is scoped to {self.scope} and may only call "
                f"that deployment's inference endpoints, not {action}; use a "
                "user token (mlsteward tokens create USER, without --scope)"
            )
        return (
            f"{self.user} ({self.role}"
            + ("" if self.scope == "user" else f", token scope {self.scope}")
            + f") may not {action}; it needs the {needed} role or higher"
        )


@dataclass(frozen=True)
class UseCase:
    """One operation and the least role it needs.

    ``governed`` use cases need an authenticated principal even in a store
    without users (deciding an approval: independence must be proven).
    """

    name: str
    role: str
    governed: bool
    qualname: str
    summary: str


#: Every use case, by name: the permission table.
USE_CASES: dict[str, UseCase] = {}
#: Public service methods that are not use cases, with the reason.
INTERNAL: dict[str, str] = {}

_current: contextvars.ContextVar[tuple[Principal, UseCase] | None] = (
    contextvars.ContextVar("mlsteward_acting", default=None)
)


def use_case(name: str, role: str, *, governed: bool = False) -> Callable[[F], F]:
    """Declare a service method a use case needing ``role``; check it on call.

    The method's ``self.ctx`` is the acting context. The check runs before the
    method does anything, and again in each transaction it writes.

    Example:
        >>> class Greeter:
        ...     def __init__(self, ctx): self.ctx = ctx
        ...     @use_case("doc.greet", "viewer")
        ...     def greet(self): return "hi"
        >>> USE_CASES["doc.greet"].role
        'viewer'
    """
    if role not in _RANK:
        raise ValueError(f"role {role!r} is not one of {list(ROLES)}")

    def decorate(fn: F) -> F:
        doc = (fn.__doc__ or "").strip().splitlines()
        case = UseCase(name, role, governed, fn.__qualname__, doc[0] if doc else "")
        if name in USE_CASES and USE_CASES[name].qualname != case.qualname:
            raise ValueError(f"use case {name!r} declared twice")
        USE_CASES[name] = case

        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with acting(self.ctx, case):
                return fn(self, *args, **kwargs)

        wrapper.use_case = case  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def internal(reason: str) -> Callable[[F], F]:
    """Mark a public service method as no use case of its own (called by
    other services or the worker inside a use case), saying why.

    Example:
        >>> @internal("called by the worker")
        ... def claim(self): ...
        >>> claim.internal
        'called by the worker'
    """

    def decorate(fn: F) -> F:
        INTERNAL[fn.__qualname__] = reason
        fn.internal = reason  # type: ignore[attr-defined]
        return fn

    return decorate


@contextmanager
def acting(ctx: Any, case: UseCase) -> Iterator[None]:
    """Authorize ``ctx``'s principal for ``case`` for the length of a block."""
    principal = authorize(ctx, case)
    if principal is None:
        yield
        return
    token = _current.set((principal, case))
    try:
        yield
    finally:
        _current.reset(token)


def authorize(ctx: Any, case: UseCase) -> Principal | None:
    """The principal that may run ``case`` (``None``: a declared actor in a
    store without users), or raise.

    Raises:
        Unauthenticated: No principal where one is needed.
        Forbidden: The principal's role is below the use case's.
    """
    principal: Principal | None = ctx.principal
    if principal is not None:
        principal.require(case.role, _action(case))
        return principal
    if case.governed:
        raise Unauthenticated(
            f"{_action(case)} needs an authenticated user: act with a token "
            "(MLSTEWARD_TOKEN, Client(token=...)); a declared actor name "
            "proves nothing",
            field="token",
        )
    if case.role == "viewer" or not _has_users(ctx.store):
        return None
    raise Unauthenticated(
        f"this store has users: {_action(case)} needs a token "
        "(set MLSTEWARD_TOKEN, or Client(token=...)); MLSTEWARD_ACTOR names "
        "the actor only of a store without users",
        field="token",
    )


#: The scheduler's own identity: what it queues runs as this.
SCHEDULER = Principal("mlsteward:scheduler", SERVICE_ROLE, scope="service")


def job_context(ctx: Any, created_by: str) -> Any:
    """The context a worker runs a job in: as the principal who queued it.

    The user is read again now, so a job of a user disabled or demoted since
    it was queued runs with what the user holds today (or not at all). A job
    the scheduler queued runs as :data:`SCHEDULER`. In a store without users
    the recorded name is only an actor, as it was when the job was queued.

    Raises:
        Unauthenticated: The user is disabled, or unknown in a store with users.
    """
    if created_by == SCHEDULER.user:
        return ctx.as_principal(SCHEDULER)
    from mlsteward.identity.tables import users

    with ctx.store.read() as session:
        row = session.execute(
            select(users.c.role, users.c.disabled).where(users.c.name == created_by)
        ).first()
    if row is not None and not row.disabled:
        return ctx.as_principal(Principal(created_by, row.role, scope="job"))
    if row is None and not _has_users(ctx.store):
        return ctx.as_actor(created_by)
    raise Unauthenticated(
        f"the job was queued by {created_by!r}, who is "
        + ("disabled" if row is not None else "not a user of this store")
        + "; queue it again with a valid token",
        field="created_by",
    )


def _action(case: UseCase) -> str:
    return f"run {case.name}"


def _has_users(store: Any) -> bool:
    """Whether any user exists; once true it stays true (users are disabled,
    never deleted), so it is asked of the database until then."""
    if getattr(store, "_mlsteward_has_users", False):
        return True
    from mlsteward.identity.tables import users

    with store.read() as session:
        found = bool(session.execute(select(func.count()).select_from(users)).scalar())
    if found:
        store._mlsteward_has_users = True
    return found


def recheck(session: Any) -> None:
    """Inside a writing transaction: the acting principal still holds its
    role, by the rows of its token and user in this very transaction.

    The store calls this at the start of every unit of work
    (:meth:`mlsteward.store.Store.unit_of_work`); outside a use case, or for
    a declared actor, it does nothing.
    """
    current = _current.get()
    if current is None:
        return
    principal, case = current
    if principal.scope == "service":
        return  # the scheduler's identity has no user row
    from mlsteward.identity.tables import tokens, users

    row = session.execute(
        select(users.c.role, users.c.disabled).where(users.c.name == principal.user)
    ).first()
    if row is None or row.disabled:
        raise Unauthenticated(
            f"user {principal.user!r} is disabled or gone", field="token"
        )
    if principal.token_id is not None:
        tok = session.execute(
            select(tokens.c.revoked_at, tokens.c.expires_at).where(
                tokens.c.id == principal.token_id
            )
        ).first()
        from mlsteward.store.types import utcnow

        if tok is None:
            raise Unauthenticated("the token is not valid", field="token")
        if tok.revoked_at is not None:
            raise Unauthenticated(token_revoked(tok.revoked_at), field="token")
        if tok.expires_at is not None and _aware(tok.expires_at) <= utcnow():
            raise Unauthenticated(token_expired(tok.expires_at), field="token")
    Principal(principal.user, row.role, principal.scope).require(
        case.role, _action(case)
    )


def token_revoked(at: Any) -> str:
    """Said only to the holder of the token's secret: nothing to probe."""
    return (
        f"the token was revoked on {_aware(at):%Y-%m-%d %H:%M} UTC; "
        "ask an admin for a new one (mlsteward tokens create USER)"
    )


def token_expired(at: Any) -> str:
    """Said only to the holder of the token's secret: nothing to probe."""
    return (
        f"the token expired on {_aware(at):%Y-%m-%d %H:%M} UTC; "
        "ask an admin for a new one (mlsteward tokens create USER)"
    )


def _aware(value: Any) -> Any:
    import datetime as dt

    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


if recheck not in Store.write_guards:
    Store.write_guards.append(recheck)
