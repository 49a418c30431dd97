"""Client methods of governance: ``client.users``, ``client.tokens`` and
``client.audit``, and reports, explanations and lineage.

The flat methods (``create_user``, ``create_token``, ``audit_log``,
``verify_audit``, ``comment``) stay as delegations to the namespaces.
"""

from __future__ import annotations

import builtins
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlsteward.context import Context
from mlsteward.governance.records import AuditService
from mlsteward.governance.specs import Comment
from mlsteward.identity.models import Token, User
from mlsteward.identity.service import CreatedToken, IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser, SetRole
from mlsteward.sdk.build import spec_of
from mlsteward.store.audit import AuditEvent, ChainHead, ChainReport

if TYPE_CHECKING:
    from mlsteward.governance.records import Lineage

__all__ = ["Audit", "GovernanceMixin", "Tokens", "Users"]


class Users:
    """``client.users``: users and their roles.

    Example:
        >>> client.users.create(name="vera", role="approver")  # doctest: +SKIP
        >>> client.users.set_role("vera", role="admin")  # doctest: +SKIP
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = IdentityService(ctx)

    def create(self, spec: CreateUser | None = None, **fields: Any) -> User:
        """Create a user; the very first user (an admin) is the bootstrap.

        Args:
            spec: A :class:`~mlsteward.identity.specs.CreateUser`.
            **fields: Its fields instead (``name``, ``role``).

        Raises:
            InvalidInput: A bad field, named (``role`` lists the roles).

        Example:
            >>> client.users.create(name="dana", role="developer")  # doctest: +SKIP
        """
        spec = spec_of(CreateUser, spec, fields)
        return self._svc.create_user(spec, bootstrap=not self._svc.list_users())

    def list(self) -> builtins.list[User]:
        """Every user, by name.

        Example:
            >>> [u.name for u in client.users.list()]  # doctest: +SKIP
        """
        return self._svc.list_users()

    def get(self, name: str) -> User:
        """One user.

        Example:
            >>> client.users.get("dana").role  # doctest: +SKIP
            'developer'
        """
        return self._svc.get_user(name)

    def set_role(self, name: str, spec: SetRole | None = None, **fields: Any) -> User:
        """Change a user's role.

        Example:
            >>> client.users.set_role("dana", role="approver")  # doctest: +SKIP
        """
        return self._svc.set_role(name, spec_of(SetRole, spec, fields))

    def disable(self, name: str) -> User:
        """Disable a user; their tokens stop working.

        Example:
            >>> client.users.disable("dana").disabled  # doctest: +SKIP
            True
        """
        return self._svc.disable_user(name)


class Tokens:
    """``client.tokens``: API tokens, stored hashed, shown once.

    Example:
        >>> client.tokens.create(user="dana").secret  # doctest: +SKIP
        'mls_...'
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = IdentityService(ctx)

    def create(self, spec: CreateToken | None = None, **fields: Any) -> CreatedToken:
        """A new token; ``.secret`` is the only time the whole token is seen.

        Args:
            spec: A :class:`~mlsteward.identity.specs.CreateToken`.
            **fields: Its fields instead (``user``, ``scope``,
                ``description``, ``expires_in_days``).

        Example:
            >>> client.tokens.create(user="svc", scope="deployment:credit-risk",
            ...                      expires_in_days=90)  # doctest: +SKIP
        """
        return self._svc.create_token(spec_of(CreateToken, spec, fields))

    def list(self, user: str | None = None) -> builtins.list[Token]:
        """Tokens (never their secrets), of one user or all.

        Example:
            >>> [t.active for t in client.tokens.list("dana")]  # doctest: +SKIP
        """
        return self._svc.list_tokens(user)

    def revoke(self, token_id: str) -> Token:
        """Revoke a token by id; it stops working at once.

        Example:
            >>> client.tokens.revoke(created.token.id).active  # doctest: +SKIP
            False
        """
        return self._svc.revoke_token(token_id)


class Audit:
    """``client.audit``: the hash-chained audit trail and comments.

    Example:
        >>> client.audit.log(object_id="credit-risk/3")  # doctest: +SKIP
        >>> client.audit.verify().ok  # doctest: +SKIP
        True
    """

    def __init__(self, ctx: Context) -> None:
        self._svc = AuditService(ctx)

    def log(
        self,
        *,
        object_id: str | None = None,
        object_type: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
    ) -> builtins.list[AuditEvent]:
        """The newest ``limit`` audit events that pass every filter, oldest
        first (``action`` is a prefix; times need a time zone).

        Example:
            >>> client.audit.log(action="alias.", limit=10)  # doctest: +SKIP
            [AuditEvent(seq=4, ..., action='alias.set', ...)]
        """
        return self._svc.log(
            object_id=object_id,
            object_type=object_type,
            actor=actor,
            action=action,
            since=since,
            until=until,
            limit=limit,
        )

    def head(self) -> ChainHead:
        """The newest audit event's number and hash (``str()`` gives
        ``SEQ:HASH``): keep it outside the database.

        Example:
            >>> str(client.audit.head())  # doctest: +SKIP
            '42:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
        """
        return self._svc.head()

    def verify(self, *, expect_head: ChainHead | str | None = None) -> ChainReport:
        """Recompute the audit chain (and its HMACs, with MLSTEWARD_AUDIT_KEY);
        given ``expect_head`` (``SEQ:HASH``), check it still reaches that event.

        Example:
            >>> report = client.audit.verify(expect_head=kept)  # doctest: +SKIP
            >>> report.ok, report.problems  # doctest: +SKIP
            (True, [])
        """
        return self._svc.verify(expect_head=expect_head)

    def comment(self, spec: Comment | None = None, **fields: Any) -> AuditEvent:
        """Comment on a model version, approval, alert, deployment or dataset
        version.

        Args:
            spec: A :class:`~mlsteward.governance.specs.Comment`.
            **fields: Its fields instead (``object_type``, ``object_id``,
                ``text``).

        Example:
            >>> client.audit.comment(object_type="model_version",
            ...     object_id="credit-risk/3", text="checked")  # doctest: +SKIP
        """
        return self._svc.comment(spec_of(Comment, spec, fields))

    def comments(self, object_id: str) -> builtins.list[AuditEvent]:
        """Comments on an object, oldest first.

        Example:
            >>> client.audit.comments("credit-risk/3")  # doctest: +SKIP
        """
        return self._svc.comments(object_id)


class GovernanceMixin:
    """``client.users``, ``client.tokens`` and ``client.audit`` on
    :class:`mlsteward.Client`, plus reports, explanations and lineage.

    Example:
        >>> client.users.create(name="root", role="admin")  # doctest: +SKIP
    """

    ctx: Context

    @property
    def users(self) -> Users:
        """Users: create, list, get, set_role, disable."""
        return Users(self.ctx)

    @property
    def tokens(self) -> Tokens:
        """Tokens: create, list, revoke."""
        return Tokens(self.ctx)

    @property
    def audit(self) -> Audit:
        """The audit trail: log, verify, comment, comments."""
        return Audit(self.ctx)

    def write_report(
        self, ref: str, path: str | Path | None = None, *, pdf: bool = False
    ) -> Any:
        """Write the model documentation of ``ref`` (HTML, and PDF if asked and
        a converter is installed); returns where it went."""
        from mlsteward.governance.report.build import write_report

        return write_report(self.ctx, ref, path, pdf=pdf)

    def explain(
        self, ref: str, rows: pd.DataFrame, *, top_k: int = 4
    ) -> list[list[dict[str, Any]]]:
        """Reason codes per row: the inputs that pushed the score towards
        denial, largest first, against the training population."""
        from mlsteward.explain.service import explainer_for

        loaded = self.load_model(ref)  # type: ignore[attr-defined]
        explainer = explainer_for(self.ctx, loaded, top_k=top_k)
        return [[r.to_dict() for r in row] for row in explainer.explain(rows)]

    def lineage(self, ref: str) -> Lineage:
        from mlsteward.governance.records import LineageService

        return LineageService(self.ctx).lineage(ref)

    def comment(self, object_type: str, object_id: str, text: str) -> AuditEvent:
        """Use ``client.audit.comment``; this delegates to it."""
        return self.audit.comment(
            object_type=object_type, object_id=object_id, text=text
        )

    def create_user(self, name: str, role: str) -> User:
        """Use ``client.users.create``; this delegates to it."""
        return self.users.create(name=name, role=role)

    def create_token(self, user: str, *, scope: str = "user") -> str:
        """Use ``client.tokens.create``; this delegates to it (and returns
        only the secret)."""
        return self.tokens.create(user=user, scope=scope).secret

    def audit_log(self, **filters: Any) -> builtins.list[AuditEvent]:
        """Use ``client.audit.log``; this delegates to it."""
        return self.audit.log(**filters)

    def audit_head(self) -> ChainHead:
        """Use ``client.audit.head``; this delegates to it."""
        return self.audit.head()

    def verify_audit(
        self, *, expect_head: ChainHead | str | None = None
    ) -> ChainReport:
        """Use ``client.audit.verify``; this delegates to it."""
        return self.audit.verify(expect_head=expect_head)
