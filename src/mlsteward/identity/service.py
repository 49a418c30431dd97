"""Users, roles and API tokens.

Roles, each including the rights of those before it:

- ``viewer``: read everything.
- ``developer``: register datasets and models, run, score, load outcomes,
  create monitors and deployments, ask for promotions.
- ``approver``: approve or reject promotion requests (never their own).
- ``admin``: manage users and tokens, change policies and anything else.

Tokens look like ``mls_<id>_<secret>``; only the sha256 of the secret is
stored, and the whole token is shown once, when it is created. A token's
scope is ``user`` (acts with its user's role) or ``deployment:<name>``
(may only call that deployment's inference endpoints).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import func, select, update

from mlsteward.context import Context
from mlsteward.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from mlsteward.identity.access import (
    ROLES,
    Principal,
    internal,
    role_at_least,
    token_expired,
    token_revoked,
    use_case,
)
from mlsteward.identity.models import Token, User
from mlsteward.identity.specs import CreateToken, CreateUser, SetRole
from mlsteward.identity.tables import tokens, users
from mlsteward.results import Result
from mlsteward.store import audit, utcnow

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "ROLES",
    "CreatedToken",
    "IdentityService",
    "Principal",
    "Token",
    "User",
    "identity_generation",
    "role_at_least",
]

TOKEN_PREFIX = "mls"


#: Bumped after every change to a user's role or state, or to a token, made
#: in this process; a cache of authenticated principals (the control plane's
#: guard, ``api/guard.py``) drops what it learnt before the newest change.
_generation = 0


def identity_generation() -> int:
    """How many identity changes this process has made (see ``_generation``)."""
    return _generation


def _changes_identity(method: F) -> F:
    """Bump the generation once ``method`` has run, committed or not."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _generation
        try:
            return method(*args, **kwargs)
        finally:
            _generation += 1

    return cast(F, wrapper)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CreatedToken(Result):
    """A new token: ``secret`` is the only time the full token is available."""

    token: Token
    secret: str


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=row.role,
        disabled=bool(row.disabled),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        user=row.user_name,
        scope=row.scope,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class IdentityService:
    """Create users and tokens; authenticate tokens."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- users ------------------------------------------------------------
    @use_case("users.create", "admin")
    def create_user(self, spec: CreateUser, *, bootstrap: bool = False) -> User:
        """Create a user. ``bootstrap`` allows the first admin without a caller
        holding the admin role, and only while no user exists.

        Example:
            >>> svc.create_user(CreateUser(name="vera", role="approver")).role
            ... # doctest: +SKIP
            'approver'
        """
        name, role = spec.name, spec.role
        with self.ctx.store.unit_of_work() as session:
            n_users = session.execute(select(func.count()).select_from(users)).scalar()
            if bootstrap and n_users:
                raise Conflict(
                    "users exist already; only an admin can add more "
                    "(bootstrap creates the first admin only)",
                    field="bootstrap",
                )
            if bootstrap and role != "admin":
                raise InvalidInput("the bootstrap user must be an admin", field="role")
            if session.execute(
                select(users.c.name).where(users.c.name == name)
            ).first():
                raise Conflict(f"user {name!r} exists already", field="name")
            now = utcnow()
            session.execute(
                users.insert().values(
                    name=name,
                    role=role,
                    disabled=False,
                    created_at=now,
                    created_by=self.ctx.actor,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="user.created",
                object_type="user",
                object_id=name,
                details={"role": role, "bootstrap": bootstrap},
            )
            return User(
                name=name,
                role=role,
                disabled=False,
                created_at=now,
                created_by=self.ctx.actor,
            )

    @use_case("users.set_role", "admin")
    @_changes_identity
    def set_role(self, name: str, spec: SetRole) -> User:
        """Change a user's role.

        Example:
            >>> svc.set_role("vera", SetRole(role="admin")).role  # doctest: +SKIP
            'admin'
        """
        role = spec.role
        with self.ctx.store.unit_of_work() as session:
            row = self._user_row(session, name)
            session.execute(update(users).where(users.c.name == name).values(role=role))
            audit.record(
                session,
                actor=self.ctx.actor,
                action="user.role_changed",
                object_type="user",
                object_id=name,
                details={"from": row.role, "to": role},
            )
            return self._get_user(session, name)

    @use_case("users.disable", "admin")
    @_changes_identity
    def disable_user(self, name: str) -> User:
        with self.ctx.store.unit_of_work() as session:
            self._user_row(session, name)
            session.execute(
                update(users).where(users.c.name == name).values(disabled=True)
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="user.disabled",
                object_type="user",
                object_id=name,
            )
            return self._get_user(session, name)

    @use_case("users.list", "viewer")
    def list_users(self) -> list[User]:
        with self.ctx.store.read() as session:
            return [
                _user(r) for r in session.execute(select(users).order_by(users.c.name))
            ]

    @use_case("users.get", "viewer")
    def get_user(self, name: str) -> User:
        with self.ctx.store.read() as session:
            return self._get_user(session, name)

    # -- tokens -----------------------------------------------------------
    @use_case("tokens.create", "viewer")
    def create_token(self, spec: CreateToken) -> CreatedToken:
        """A new token; the secret is in the result, once, and never stored.

        Example:
            >>> svc.create_token(CreateToken(user="dana")).secret  # doctest: +SKIP
            'mls_...'
        """
        user, scope = spec.user, spec.scope
        description, expires_in_days = spec.description, spec.expires_in_days
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        expires = now + dt.timedelta(days=expires_in_days) if expires_in_days else None
        with self.ctx.store.unit_of_work() as session:
            row = self._user_row(session, user)
            if row.disabled:
                raise Conflict(f"user {user!r} is disabled", field="user")
            self._may_mint(session, user)
            session.execute(
                tokens.insert().values(
                    id=token_id,
                    user_name=user,
                    secret_hash=_hash(secret),
                    scope=scope,
                    description=description,
                    created_at=now,
                    expires_at=expires,
                    revoked_at=None,
                )
            )
            audit.record(
                session,
                actor=self.ctx.actor,
                action="token.created",
                object_type="token",
                object_id=token_id,
                details={"user": user, "scope": scope, "expires_at": expires},
            )
        tok = Token(
            id=token_id,
            user=user,
            scope=scope,
            description=description,
            created_at=now,
            expires_at=expires,
            revoked_at=None,
        )
        return CreatedToken(token=tok, secret=f"{TOKEN_PREFIX}_{token_id}_{secret}")

    @use_case("tokens.revoke", "viewer")
    @_changes_identity
    def revoke_token(self, token_id: str) -> Token:
        with self.ctx.store.unit_of_work() as session:
            row = session.execute(select(tokens).where(tokens.c.id == token_id)).first()
            if row is None:
                raise NotFound(f"token {token_id!r} not found", field="token_id")
            self._own_or_admin(row.user_name, "revoke another user's token")
            if row.revoked_at is None:
                session.execute(
                    update(tokens)
                    .where(tokens.c.id == token_id)
                    .values(revoked_at=utcnow())
                )
                audit.record(
                    session,
                    actor=self.ctx.actor,
                    action="token.revoked",
                    object_type="token",
                    object_id=token_id,
                    details={"user": row.user_name},
                )
            row = session.execute(select(tokens).where(tokens.c.id == token_id)).one()
            return _token(row)

    @use_case("tokens.list", "viewer")
    def list_tokens(self, user: str | None = None) -> list[Token]:
        """Tokens (never their secrets): an admin's of anyone, a user's own."""
        principal = self.ctx.principal
        if principal is not None and not principal.can("admin"):
            if user is not None and user != principal.user:
                self._own_or_admin(user, "list another user's tokens")
            user = principal.user
        q = select(tokens).order_by(tokens.c.created_at)
        if user is not None:
            q = q.where(tokens.c.user_name == user)
        with self.ctx.store.read() as session:
            return [_token(r) for r in session.execute(q)]

    @internal("read by `mlsteward doctor`: does this store act for people")
    def has_users(self) -> bool:
        """Whether the store has any user (then writes need a token)."""
        with self.ctx.store.read() as session:
            found = session.execute(select(func.count()).select_from(users))
            return bool(found.scalar())

    @internal("how a principal comes to be: before any use case")
    def authenticate(self, token: str | None) -> Principal:
        """The principal a presented token stands for.

        Raises:
            Forbidden: no token, a malformed, unknown, revoked or expired
                token, or a disabled user. The message never says which part
                was wrong beyond that, so tokens cannot be probed.
        """
        if not token:
            raise Unauthenticated(
                "a token is required: send 'Authorization: Bearer <token>'",
                field="token",
            )
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise Unauthenticated("the token is not valid", field="token")
        _, token_id, secret = parts
        with self.ctx.store.read() as session:
            row = session.execute(
                select(tokens, users.c.role, users.c.disabled)
                .join(users, users.c.name == tokens.c.user_name)
                .where(tokens.c.id == token_id)
            ).first()
        ok = row is not None and hmac.compare_digest(row.secret_hash, _hash(secret))
        if not ok or row is None:
            raise Unauthenticated("the token is not valid", field="token")
        # The caller holds this token's secret: saying why it no longer works
        # tells them nothing they could probe with.
        tok = _token(row)
        if tok.revoked_at is not None:
            raise Unauthenticated(token_revoked(tok.revoked_at), field="token")
        if not tok.active:
            raise Unauthenticated(token_expired(tok.expires_at), field="token")
        if row.disabled:
            raise Unauthenticated(
                f"user {row.user_name!r} is disabled; the token no longer works",
                field="token",
            )
        return Principal(row.user_name, row.role, row.scope, token_id)

    # -- helpers ----------------------------------------------------------
    def _own_or_admin(self, user: str, action: str) -> None:
        principal = self.ctx.principal
        if principal is not None and principal.user != user:
            principal.require("admin", action)

    def _may_mint(self, session: Any, user: str) -> None:
        """Only admins mint tokens for others; without a token, only the
        bootstrap admin's first token (nothing else could ever log in)."""
        principal = self.ctx.principal
        if principal is not None:
            self._own_or_admin(user, "create tokens for other users")
            return
        n_tokens = session.execute(select(func.count()).select_from(tokens)).scalar()
        n_users = session.execute(select(func.count()).select_from(users)).scalar()
        if n_tokens == 0 and n_users <= 1:
            return  # a store without users yet, or its bootstrap admin's first
        raise Unauthenticated(
            "this store has users: creating a token needs a token "
            "(MLSTEWARD_TOKEN); only the bootstrap admin's first token is "
            "created without one",
            field="token",
        )

    def _user_row(self, session: Any, name: str) -> Any:
        row = session.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"user {name!r} not found", field="user")
        return row

    def _get_user(self, session: Any, name: str) -> User:
        return _user(self._user_row(session, name))
