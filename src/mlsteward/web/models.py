"""Models: versions with metrics, state, aliases, lineage, gates and
approvals; champion against challenger; the model report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from mlsteward.errors import MlstewardError
from mlsteward.names import MAX_VERSION
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry
from mlsteward.retraining.approvals import ApprovalService
from mlsteward.retraining.service import RetrainingService
from mlsteward.web.compare import compare
from mlsteward.web.render import render, secure_headers
from mlsteward.web.session import Page, current_page

router = APIRouter()

#: The report's policy: its own inline styles and images, nothing else.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

ModelName = Annotated[str, Path(max_length=200)]
VersionQ = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]


@router.get("/models")
def models(page: Annotated[Page, Depends(current_page)]) -> Response:
    return render(page, "models.html", models=ModelRegistry(page.ctx).list_models())


def _versions(page: Page, name: str) -> list[dict[str, Any]]:
    evaluations = EvaluationService(page.ctx)
    rows = []
    for mv in reversed(ModelRegistry(page.ctx).list_versions(name)):
        evals = evaluations.list(mv.ref)
        rows.append(
            {"mv": mv, "evaluations": evals, "latest": evals[-1] if evals else None}
        )
    return rows


def _lineage(page: Page, mv: Any) -> dict[str, Any]:
    run = None
    if mv.run_id:
        try:
            run = RunService(page.ctx).get(mv.run_id)
        except MlstewardError:
            run = None
    return {
        "run": run,
        "parent": mv.parent_version,
        "inputs": run.inputs if run else [],
    }


def _holdouts(rows: list[dict[str, Any]], refs: list[str]) -> list[str]:
    """Datasets the compared versions were evaluated on, newest first; a
    dataset both were evaluated on comes first."""
    seen: dict[str, int] = {}
    for row in rows:
        if row["mv"].ref in refs:
            for e in row["evaluations"]:
                if e.dataset:
                    seen[e.dataset] = seen.get(e.dataset, 0) + 1
    return sorted(seen, key=lambda d: (-seen[d], d), reverse=False)


def model_data(
    page: Page, name: str, version: int | None, other: int | None, holdout: str | None
) -> dict[str, Any]:
    registry = ModelRegistry(page.ctx)
    model = registry.get_model(name)
    rows = _versions(page, name)
    champion = model.aliases.get("champion")
    shown = version or champion or (rows[0]["mv"].version if rows else None)
    if other is None:
        other = next((r["mv"].version for r in rows if r["mv"].version != shown), None)
    refs = [f"{name}/{v}" for v in (shown, other) if v is not None]
    holdouts = _holdouts(rows, refs)
    if holdout not in holdouts:
        holdout = holdouts[0] if holdouts else None
    current = next((r for r in rows if r["mv"].version == shown), None)
    return {
        "model": model,
        "rows": rows,
        "shown": shown,
        "other": other,
        "current": current,
        "lineage": _lineage(page, current["mv"]) if current else None,
        "comparison": compare(page.ctx, refs, holdout) if refs and holdout else None,
        "holdouts": holdouts,
        "holdout": holdout,
        "approvals": list(reversed(ApprovalService(page.ctx).list(model=name))),
        "retrainings": list(reversed(RetrainingService(page.ctx).list(model=name)))[
            :20
        ],
    }


@router.get("/models/{name}")
def model(
    page: Annotated[Page, Depends(current_page)],
    name: ModelName,
    version: VersionQ = None,
    compare: VersionQ = None,
    holdout: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    return render(
        page, "model.html", **model_data(page, name, version, compare, holdout)
    )


@router.get("/models/{name}/versions/{version}/report")
def report(
    page: Annotated[Page, Depends(current_page)],
    name: ModelName,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
) -> Response:
    """The model report, served to the signed-in session as the API serves
    it to a token (the report is self-contained: no scripts, no loads)."""
    from mlsteward.governance.report.build import build_report

    response = HTMLResponse(build_report(page.ctx, f"{name}/{version}"))
    secure_headers(response)
    # The report carries its own stylesheet and inline SVG, and no script.
    response.headers["content-security-policy"] = REPORT_CSP
    return response
