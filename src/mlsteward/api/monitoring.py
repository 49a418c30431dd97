"""Control-plane routes of monitoring (monitors, results, alerts, outcomes)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["monitoring"])
