"""Control-plane routes of serving (deployments, predictions)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["serving"])
