"""Promotion and rollback: the alias ``champion`` moves, and so does traffic.

Deployments that serve a model by its ``champion`` alias pick up the move on
their own; deployments that pin versions are updated through the serving
service where it is installed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mlsteward.context import Context
from mlsteward.registry.service import ModelRegistry

__all__ = ["promote", "route_challenger", "withdraw"]


def _deployments(ctx: Context) -> Any:
    try:
        from mlsteward.serving.deployments import DeploymentService
    except ImportError:  # serving not installed in this build
        return None
    return DeploymentService(ctx)


def promote(
    ctx: Context, ref: str, *, reason: str, session: Session | None = None
) -> None:
    """Make ``ref`` the champion: approve it, move the alias and every
    deployment's champion route, all in one transaction (the caller's, if it
    gives one: an approval records its decision in the same)."""
    registry = ModelRegistry(ctx)
    with ctx.store.within(session, write=True) as s:
        mv = registry.promote_champion(ref, reason=reason, session=s)
        svc = _deployments(ctx)
        if svc is not None and hasattr(svc, "on_promoted"):
            svc.on_promoted(mv.name, mv.version, session=s)


def withdraw(ctx: Context, ref: str) -> None:
    """Take a rejected challenger out of shadow and canary routes."""
    registry = ModelRegistry(ctx)
    mv = registry.get(ref)
    if "challenger" in mv.aliases:
        registry.delete_alias(mv.name, "challenger")
    svc = _deployments(ctx)
    if svc is not None and hasattr(svc, "on_withdrawn"):
        svc.on_withdrawn(mv.name, mv.version)


def route_challenger(ctx: Context, ref: str, *, mode: str, share: float) -> None:
    """Shadow or canary the challenger while its approval is pending."""
    if mode not in ("shadow", "canary"):
        return
    svc = _deployments(ctx)
    if svc is None or not hasattr(svc, "on_challenger"):
        return
    mv = ModelRegistry(ctx).get(ref)
    svc.on_challenger(mv.name, mv.version, mode=mode, share=share)
