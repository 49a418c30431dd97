"""Request specs of identity: create a user, change a role, create a token.

Each is what :class:`~mlsteward.identity.service.IdentityService` takes, what
``client.users`` / ``client.tokens`` and ``mlsteward users|tokens`` build.
The user a role change is about is the method's first argument (the path of
a future route), as the monitor of ``client.monitors.run(name, spec)`` is.
Disabling a user and revoking a token take no more than their identifier.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlsteward.errors import InvalidInput
from mlsteward.identity.access import ROLES
from mlsteward.names import check_name
from mlsteward.spec import Spec, guard, invalid

__all__ = ["ROLES", "CreateToken", "CreateUser", "Role", "SetRole"]

#: Roles, each including the rights of those before it.
Role = Literal["viewer", "developer", "approver", "admin"]


class CreateUser(Spec):
    """Create a user with a role.

    Example:
        >>> CreateUser.parse(name="vera", role="boss")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: role must be one of 'viewer', ... got 'boss'
    """

    name: str = Field(description="The user's name, as tokens and the audit say.")
    role: Role = Field(description="viewer, developer, approver or admin.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return guard(lambda: check_name(value, "name"))


class SetRole(Spec):
    """Change a user's role.

    Example:
        >>> SetRole(role="approver").role
        'approver'
    """

    role: Role = Field(description="viewer, developer, approver or admin.")


def _check_scope(scope: str) -> str:
    if scope != "user":
        if not scope.startswith("deployment:"):
            raise InvalidInput(
                f"scope {scope!r} must be 'user' or 'deployment:<name>'",
                field="scope",
            )
        check_name(scope.split(":", 1)[1], "scope")
    return scope


class CreateToken(Spec):
    """Create an API token for a user; its secret is shown once.

    Example:
        >>> CreateToken.parse(user="dana", scope="all")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: scope 'all' must be 'user' or ...
    """

    user: str = Field(description="Whose token it is; it acts with their role.")
    scope: str = Field(
        default="user",
        description="'user' (the user's role) or 'deployment:<name>' (only "
        "that deployment's inference endpoints).",
    )
    description: str = Field(default="", description="What the token is for.")
    expires_in_days: int | None = Field(
        default=None, description="Days until it stops working (default never)."
    )

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        return guard(lambda: check_name(value, "user"))

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        return guard(lambda: _check_scope(value))

    @field_validator("expires_in_days")
    @classmethod
    def _expires(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            invalid("expires_in_days must be at least 1", "expires_in_days")
        return value
