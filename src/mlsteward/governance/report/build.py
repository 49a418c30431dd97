"""Model documentation: one self-contained HTML document per model version.

``mlsteward report credit-risk/3`` writes what a model-risk reviewer and an
auditor need to read about a version, laid out along the documentation
elements of the Federal Reserve's SR 11-7 model-risk guidance and of Annex IV
of the EU AI Act (technical documentation of a high-risk system; credit
scoring of natural persons is high-risk under Annex III 5(b)):

1. intended use; 2. data and lineage; 3. methodology; 4. performance by
score band; 5. performance by protected group; 6. stability (PSI/CSI);
7. explanations and human oversight; 8. gates, approvals and lifecycle;
9. monitoring history and alerts; 10. comments (effective challenge);
11. changes since the previous version; 12. limitations; 13. record keeping
(audit chain verification); and a table mapping each section to the
guidance.

Every figure is recomputed from stored, checksum-verified artifacts or read
from the audit trail. The HTML loads nothing (charts are inline SVG drawn in
Python, styles inline) so it opens offline and archives as one file; Jinja2
autoescaping is on, so descriptions, comments and names are shown, never
run. PDF is written where a converter is installed
(:mod:`mlsteward.governance.report.pdf`).

Example:
    >>> html = build_report(ctx, "credit-risk/3")  # doctest: +SKIP
    >>> write_report(ctx, "credit-risk/3", "cr-3.html", pdf=True)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from mlsteward.context import Context
from mlsteward.governance.report import data as data_
from mlsteward.governance.report import records
from mlsteward.governance.report.pdf import PdfResult, html_to_pdf
from mlsteward.governance.report.svg import bar_chart, calibration_chart
from mlsteward.monitoring.drift.stats import PSI_ACT, PSI_WATCH

__all__ = [
    "GUIDANCE",
    "ReportResult",
    "build_report",
    "collect_report",
    "render_report",
    "write_report",
]

#: Section id, title, SR 11-7 elements, EU AI Act Annex IV items.
GUIDANCE: tuple[tuple[str, str, str, str], ...] = (
    (
        "intended-use",
        "Intended use",
        "Model purpose and intended use; model inventory",
        "1(a) intended purpose, provider, version; 1(b)-(c) software versions",
    ),
    (
        "data",
        "Data and lineage",
        "Development: data quality, relevance and representativeness",
        "2(d) data requirements: training data sets, provenance, scope, "
        "labelling; Art. 10 data governance",
    ),
    (
        "methodology",
        "Methodology",
        "Development: design, theory and logic; conceptual soundness",
        "2(a) development methods and steps; 2(b) design specifications, "
        "key choices, what is optimised; 2(c) architecture",
    ),
    (
        "performance",
        "Performance by score band",
        "Outcomes analysis: back-testing, discrimination and calibration",
        "2(g) validation and testing, metrics; 3 expected level of accuracy; "
        "4 appropriateness of the metrics",
    ),
    (
        "groups",
        "Performance by protected group",
        "Outcomes analysis by segment",
        "2(g) metrics on potentially discriminatory impacts; 3 accuracy for "
        "groups of persons; Art. 10(2)(f) bias examination; Art. 15",
    ),
    (
        "stability",
        "Stability (PSI / CSI)",
        "Ongoing monitoring: stability, sensitivity to population change",
        "3 monitoring and functioning; Art. 15 robustness",
    ),
    (
        "explanations",
        "Explanations and human oversight",
        "Model use; limitations communicated to users",
        "2(e) human oversight measures (Art. 14); 3 interpretation of outputs; "
        "Art. 13 transparency",
    ),
    (
        "approvals",
        "Gates, approvals and lifecycle",
        "Governance and controls; independent validation; effective challenge",
        "2(e) human oversight; 2(g) test logs signed by responsible persons; "
        "5 risk management system (Art. 9)",
    ),
    (
        "monitoring",
        "Monitoring history and alerts",
        "Ongoing monitoring; process verification",
        "9 post-market monitoring plan (Art. 72); 3 monitoring and control",
    ),
    (
        "comments",
        "Comments",
        "Effective challenge: critical analysis by objective, informed parties",
        "5 risk management; 2(e) human oversight",
    ),
    (
        "changes",
        "Changes since the previous version",
        "Model change management; inventory of versions",
        "6 changes through the lifecycle; 2(f) pre-determined changes",
    ),
    (
        "limitations",
        "Limitations",
        "Limitations and assumptions; model uncertainty",
        "3 capabilities and limitations, foreseeable unintended outcomes, "
        "risks to fundamental rights",
    ),
    (
        "records",
        "Record keeping",
        "Documentation and record retention",
        "Art. 12 record keeping (automatic logs); Art. 19 log retention",
    ),
)

_NOT_COVERED = (
    "Annex IV 1(d)-(h) (forms placed on the market, hardware, user interface, "
    "instructions for use), 2(h) cybersecurity, 7 harmonised standards and 8 "
    "the EU declaration of conformity are the provider's documents; mlsteward "
    "does not hold them."
)


@dataclass(frozen=True)
class ReportResult:
    """Where a written report went.

    Args:
        html: The HTML file.
        pdf: What happened to the PDF (``None`` when none was asked for).
        data: The report's figures (what ``--json`` prints).
    """

    html: Path
    pdf: PdfResult | None
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "html": str(self.html),
            "pdf": self.pdf.to_dict() if self.pdf else None,
            "report": self.data,
        }


def collect_report(ctx: Context, ref: str) -> dict[str, Any]:
    """Every figure and record of the report of ``ref``, JSON-safe.

    Args:
        ctx: Stores to read.
        ref: ``name/N`` or ``name@alias``.

    Raises:
        NotFound: The version, or an artifact it names, does not exist.
        IntegrityError: A stored artifact does not match its sha256.
    """
    src = data_.ReportSources(ctx)
    mv = src.registry.get(ref)
    model = src.registry.get_model(mv.name)
    evals = src.evaluation_service.list(mv.ref)
    lineage = data_.lineage(src, mv)
    training = lineage["training_refs"]
    evaluations = data_.evaluations(src, evals, training)
    seen = {d["ref"] for d in lineage["datasets"]}
    for e in evals:
        if e.dataset and e.dataset not in seen:
            seen.add(e.dataset)
            row = data_.dataset_row(src.dataset(e.dataset), "evaluation")
            lineage["datasets"].append(row)
    events = records.related_events(ctx, mv)
    report: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "generated_by": ctx.actor,
        "mlsteward_version": _mlsteward_version(),
        "version": records.jsonable(mv.to_dict()),
        "model": records.jsonable(model.to_dict()),
        "lineage": lineage,
        "evaluations": evaluations,
        "groups": data_.groups(src, mv, evals),
        "stability": data_.stability(src, mv, evals, training),
        "explanations": data_.explanations(src, mv, evals, training),
        "events": records.classify_events(events, mv),
        "gate_runs": records.gate_runs(ctx, mv),
        "approval_requests": records.approval_requests(ctx, mv),
        "serving": records.serving(ctx, mv),
        "monitoring": records.monitoring_history(ctx, mv),
        "changes": data_.changes(src, mv),
        "audit": records.audit_integrity(ctx),
    }
    inputs = set(mv.signature.feature_names)
    protected = {
        c for d in lineage["datasets"] for c in d["roles"].get("protected", [])
    }
    report["protected_inputs"] = sorted(protected & inputs)
    report["tags"] = {**model.tags, **mv.tags}
    report["limitations"] = _limitations(report)
    return report


def _mlsteward_version() -> str:
    # Not ``mlsteward.__version__``: the package root imports the SDK, which
    # sits above this service.
    from importlib import metadata

    try:
        return metadata.version("mlsteward")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _limitations(r: dict[str, Any]) -> list[str]:
    """Facts a reviewer should weigh, derived from the figures."""
    out: list[str] = []
    if not r["lineage"]["run"]:
        out.append(
            "No training run is recorded: parameters, code version and "
            "training data cannot be traced."
        )
    elif not r["lineage"]["training_refs"]:
        out.append(
            "The training run names no input dataset: the training data "
            "cannot be traced and stability cannot be assessed."
        )
    if not r["evaluations"]:
        out.append("The version has no stored evaluation.")
    elif all(e["in_sample"] for e in r["evaluations"]):
        out.append(
            "Evaluated only on its training data (in sample); no "
            "out-of-time evaluation is recorded, so performance may be "
            "overstated."
        )
    if not r["groups"]:
        out.append(
            "No evaluation dataset has protected columns: accuracy and "
            "approval rates by group were not assessed."
        )
    for g in r["groups"]:
        if g["four_fifths_ok"] is False:
            out.append(
                f"Approval-rate ratio by {g['column']} on {g['dataset']} is "
                f"{g['approval_ratio']:.2f}, below the four-fifths rule (0.8)."
            )
        small = [x["group"] for x in g["groups"] if x["small"]]
        if small:
            out.append(
                f"Groups of {g['column']} on {g['dataset']} with fewer than "
                f"{data_.MIN_GROUP} applications ({', '.join(small)}) are "
                "shown but too small to judge."
            )
    for row in r["stability"].get("rows", []):
        acting = [f["name"] for f in row["features"] if f["band"] == "act"]
        if row["score_band"] == "act" or acting:
            out.append(
                f"On {row['dataset']} the population has shifted "
                f"(PSI > {PSI_ACT}): score PSI {row['score_psi']:.3f}"
                + (f"; characteristics {', '.join(acting)}" if acting else "")
                + "."
            )
    if r["protected_inputs"]:
        out.append(
            "Protected characteristics are model inputs: "
            f"{', '.join(r['protected_inputs'])}."
        )
    ex = r["explanations"]
    if ex.get("method") == "occlusion":
        out.append(
            "Reason codes come from the model-agnostic occlusion method: "
            "contributions do not add up to the score."
        )
    elif ex.get("method") is None:
        out.append(f"No reason codes could be produced: {ex.get('note')}")
    if not r["audit"]["ok"]:
        out.append(
            "The audit chain does not verify: records quoted here may "
            "have been altered."
        )
    return out


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlsteward.governance.report", "templates"),
        autoescape=select_autoescape(["html", "j2", "html.j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["when"] = _when
    return env


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or not isinstance(value, (int, float)):
        return "–"
    return f"{100 * value:.{digits}f} %"


def _when(value: Any) -> str:
    if not value:
        return "–"
    try:
        return dt.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


def _charts(r: dict[str, Any]) -> dict[str, Any]:
    charts: dict[str, Any] = {"calibration": {}, "groups": {}, "stability": {}}
    for e in r["evaluations"]:
        if e["calibration"]:
            charts["calibration"][e["id"]] = Markup(
                calibration_chart(e["calibration"], f"Calibration on {e['label']}")
            )
    for i, g in enumerate(r["groups"]):
        charts["groups"][i] = Markup(
            bar_chart(
                [(x["group"], x["approval_rate"]) for x in g["groups"]],
                f"Approval rate by {g['column']} on {g['dataset']}",
                value_format="{:.1%}",
                max_value=1.0,
            )
        )
    for row in r["stability"].get("rows", []):
        top = row["features"][:10]
        items = [("score", row["score_psi"]), *((f["name"], f["psi"]) for f in top)]
        bands = [row["score_band"], *(f["band"] for f in top)]
        charts["stability"][row["dataset"]] = Markup(
            bar_chart(
                items,
                f"PSI of the score and CSI of characteristics on {row['dataset']}",
                lines=[(PSI_WATCH, "0.1 watch"), (PSI_ACT, "0.25 act")],
                bands=bands,
            )
        )
    return charts


def render_report(report: dict[str, Any]) -> str:
    """The HTML document of figures gathered by :func:`collect_report`."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        r=report,
        charts=_charts(report),
        guidance=GUIDANCE,
        not_covered=_NOT_COVERED,
        psi_watch=PSI_WATCH,
        psi_act=PSI_ACT,
    )


def build_report(ctx: Context, ref: str) -> str:
    """The report of ``ref`` as one self-contained HTML document."""
    return render_report(collect_report(ctx, ref))


def write_report(
    ctx: Context, ref: str, path: str | Path | None = None, pdf: bool = False
) -> ReportResult:
    """Write the report of ``ref`` to ``path`` (default
    ``<name>-<version>-report.html``), and a PDF beside it when asked and a
    converter is installed.

    The HTML is written whatever happens to the PDF; the result says which
    converter made the PDF or why there is none.
    """
    report = collect_report(ctx, ref)
    v = report["version"]
    out = Path(path) if path else Path(f"{v['name']}-{v['version']}-report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(report), encoding="utf-8")
    pdf_result = html_to_pdf(out, out.with_suffix(".pdf")) if pdf else None
    return ReportResult(out, pdf_result, report)
