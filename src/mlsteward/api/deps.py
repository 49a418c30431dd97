"""Shared dependencies: the context of the app and the acting identity.

``Actor`` is the seam where authentication plugs in (governance issue): today
it is the settings' actor; routes already take it, so adding tokens changes
this module only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mlsteward.context import Context

__all__ = ["Actor", "Ctx", "get_context"]


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def get_actor_context(ctx: Annotated[Context, Depends(get_context)]) -> Context:
    return ctx


Ctx = Annotated[Context, Depends(get_context)]
Actor = Annotated[Context, Depends(get_actor_context)]
