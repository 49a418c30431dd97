"""Registry domain types."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, computed_field

from mlsteward.results import Result, Timestamp

__all__ = [
    "LIFECYCLE",
    "Evaluation",
    "Governance",
    "ImportedRun",
    "ImportedVersion",
    "MlflowImport",
    "ModelVersion",
    "ModelVersionDetail",
    "NotImported",
    "RegisteredModel",
    "RegisteredModelDetail",
    "Run",
    "RunStatus",
    "Signature",
    "State",
]


class State(StrEnum):
    """Lifecycle of a model version. Aliases (``champion``) say where it serves."""

    REGISTERED = "registered"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


#: Allowed transitions: from -> the states it may move to.
LIFECYCLE: dict[State, tuple[State, ...]] = {
    State.REGISTERED: (State.APPROVED, State.REJECTED, State.ARCHIVED),
    State.APPROVED: (State.ARCHIVED,),
    State.REJECTED: (State.ARCHIVED,),
    State.ARCHIVED: (),
}


class RunStatus(StrEnum):
    """A run is running until it ends as finished or failed."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Signature(Result):
    """Input columns with their kinds and dtypes, and the output."""

    inputs: list[dict[str, Any]]
    output: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        return [c["name"] for c in self.inputs]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signature:
        return cls(inputs=list(d["inputs"]), output=dict(d["output"]))


class Run(Result):
    id: str
    name: str
    status: str
    started_at: Timestamp
    ended_at: Timestamp | None
    created_by: str
    params: dict[str, Any]
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str]
    git_sha: str | None
    environment: dict[str, str]
    inputs: list[dict[str, Any]] = Field(default_factory=list)


class ModelVersion(Result):
    name: str
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    state: str
    aliases: list[str] = Field(default_factory=list)
    flavor: str
    artifact_sha256: str
    artifact_size: int
    signature: Signature
    run_id: str | None
    parent_version: int | None
    description: str
    tags: dict[str, str]
    created_at: Timestamp
    created_by: str
    #: Whether its retraining gates passed (``None``: never judged).
    gates_passed: bool | None = None


class ModelVersionDetail(ModelVersion):
    """A version with its evaluations, as ``GET .../versions/{version}`` shows it."""

    evaluations: list[Evaluation] = Field(default_factory=list)


class RegisteredModel(Result):
    name: str
    description: str
    created_at: Timestamp
    created_by: str
    updated_at: Timestamp
    tags: dict[str, str]
    latest_version: int | None
    aliases: dict[str, int]
    #: Governed: champion, approval and traffic move only through approvals.
    governed: bool = False
    #: The largest canary share a developer may set alone (governed models).
    canary_share: float | None = None


class Governance(Result):
    """What serving checks before it moves a governed model's traffic."""

    governed: bool
    canary_share: float | None
    champion: int | None


class RegisteredModelDetail(RegisteredModel):
    """A model with its versions, as ``GET /models/{name}`` shows it."""

    versions: list[ModelVersion] = Field(default_factory=list)


class Evaluation(Result):
    """Metrics of one version on one dataset; ``model`` is its ``name/version``."""

    id: str
    model: str
    dataset: str | None
    label: str
    threshold: float
    metrics: dict[str, Any]
    created_at: Timestamp
    created_by: str

    @property
    def model_name(self) -> str:
        return self.model.rsplit("/", 1)[0]

    @property
    def model_version(self) -> int:
        return int(self.model.rsplit("/", 1)[1])


class ImportedRun(Result):
    """An MLflow run brought in as a mlsteward run (the same id)."""

    run_id: str
    name: str
    experiment: str
    params: int
    metric_values: int


class ImportedVersion(Result):
    """An MLflow model version brought in as a mlsteward version.

    ``parity_max_abs_diff`` is the largest difference in probability between
    the model read from MLflow's file and the converted artifact, over
    ``sample_rows`` rows (the logged input example, or rows made from the
    signature).
    """

    mlflow_model: str
    mlflow_version: str
    ref: str
    flavor: str
    source_format: str
    run_id: str | None
    aliases: list[str] = Field(default_factory=list)
    sample_rows: int
    parity_max_abs_diff: float


class NotImported(Result):
    """Something left out of an import, and why (``kind``: run or version)."""

    kind: str
    source: str
    reason: str


class MlflowImport(Result):
    """What ``mlsteward import mlflow`` brought in, refused and skipped.

    ``refused`` holds what cannot be brought in safely (a pickled model, an
    unknown flavor); ``skipped`` what an earlier import already brought in.
    """

    tracking_uri: str
    runs: list[ImportedRun] = Field(default_factory=list)
    versions: list[ImportedVersion] = Field(default_factory=list)
    refused: list[NotImported] = Field(default_factory=list)
    skipped: list[NotImported] = Field(default_factory=list)


ModelVersionDetail.model_rebuild()
