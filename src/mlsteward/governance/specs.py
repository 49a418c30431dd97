"""Request spec of governance: comment on an object.

:class:`Comment` is what ``AuditService.comment`` takes and what
``client.audit.comment`` and ``mlsteward comments add`` build.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mlsteward.spec import Spec, invalid

__all__ = ["COMMENTABLE", "Comment"]

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
