"""Request specs of governance: comment on an object, add a notification
sink, apply retention.

:class:`Comment` is what ``AuditService.comment`` takes and what
``client.audit.comment`` and ``mlsteward comments add`` build;
:class:`AddSink` and :class:`ApplyRetention` are the same for
``NotificationService.add_sink`` and ``RetentionService.apply``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlsteward.names import check_name
from mlsteward.spec import Spec, guard, invalid

__all__ = ["COMMENTABLE", "AddSink", "ApplyRetention", "Comment"]

#: Kinds of object a comment may be attached to.
COMMENTABLE = ("model_version", "approval", "alert", "deployment", "dataset_version")
MAX_COMMENT_CHARS = 10_000


class Comment(Spec):
    """Attach a comment to a model version, approval, alert, deployment or
    dataset version; comments are audit events.

    Example:
        >>> Comment.parse(object_type="model_version", object_id="cr/3", text=" ")
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: a comment needs text
    """

    object_type: Literal[
        "model_version", "approval", "alert", "deployment", "dataset_version"
    ] = Field(description="What kind of object the comment is on.")
    object_id: str = Field(
        min_length=1, description="Its id: 'credit-risk/3', an approval id..."
    )
    text: str = Field(description=f"The comment, at most {MAX_COMMENT_CHARS} chars.")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            invalid("a comment needs text", "text")
        if len(value) > MAX_COMMENT_CHARS:
            invalid(f"a comment is at most {MAX_COMMENT_CHARS} characters", "text")
        return value


class AddSink(Spec):
    """A webhook told of audit events whose action starts with one of
    ``actions`` (the URL is checked against the allow-list by the service).

    Example:
        >>> AddSink.parse(name="chat", url="https://chat.example/h", actions=[""])
        Traceback (most recent call last):
        ...
        mlsteward.errors.InvalidInput: actions must be non-empty action prefixes
    """

    name: str = Field(description="The sink's name.")
    url: str = Field(description="An http(s) webhook URL (a secret: shown masked).")
    actions: list[str] | None = Field(
        default=None, description="Action prefixes it hears (default: the usual)."
    )
    from_start: bool = Field(default=False, description="Also send past events.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return guard(lambda: check_name(value, "name"))

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not a for a in value)):
            invalid("actions must be non-empty action prefixes", "actions")
        return value


class ApplyRetention(Spec):
    """Delete prediction records (and their outcomes) older than ``days``."""

    days: int = Field(description="Keep this many days (at least 183).")
    dry_run: bool = Field(default=False, description="Count, delete nothing.")
