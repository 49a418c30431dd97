"""Client methods of governance: reports, explanations, audit, users."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlsteward.context import Context

if TYPE_CHECKING:
    from mlsteward.governance.records import Lineage


class GovernanceMixin:
    ctx: Context

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

    def comment(self, object_type: str, object_id: str, text: str) -> Any:
        from mlsteward.governance.records import AuditService

        return AuditService(self.ctx).comment(object_type, object_id, text)

    def create_user(self, name: str, role: str) -> Any:
        from mlsteward.identity.service import IdentityService

        svc = IdentityService(self.ctx)
        return svc.create_user(name, role, bootstrap=not svc.list_users())

    def create_token(self, user: str, *, scope: str = "user") -> str:
        """A new token for ``user``; the secret is returned once, never stored."""
        from mlsteward.identity.service import IdentityService

        return IdentityService(self.ctx).create_token(user, scope=scope).secret
