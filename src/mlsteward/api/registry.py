"""Control-plane routes of the registry, datasets and runs.

Each route names the use case it runs (``Op("models.set_alias")``), which is
also the name of the SDK method a remote client binds to it
(``client.models.set_alias``): path, query and body parameters carry the
SDK method's argument names, a spec argument is the body, and the answer is
what the SDK method returns. A model version and a dataset version are
addressed by their ref in the path (``/model-versions/credit-risk/3``,
``/model-versions/credit-risk@champion``, ``/dataset-versions/german-credit/2``).

Registering a model or a dataset uploads bytes with the spec as one tar
stream (:mod:`mlsteward.api.uploads`); loading one downloads its bytes with
their sha256 in ``X-Mlsteward-Sha256``, for the client to check before it
reads them. Uploads are capped by ``MLSTEWARD_API_MAX_BODY_BYTES`` (10 MiB by
default): raise it on the server for larger models or tables.
"""

from __future__ import annotations

import tempfile
from typing import IO, Annotated, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import Field

from mlsteward.api.deps import Ctx, Op, Version
from mlsteward.api.uploads import MEDIA_TYPE, OPENAPI_BODY, SPOOL_BYTES, read_bundle
from mlsteward.api.uploads import chunks as _chunks
from mlsteward.context import Context
from mlsteward.datasets.models import DatasetVersionDetail
from mlsteward.datasets.service import DatasetService
from mlsteward.datasets.specs import RegisterDataset
from mlsteward.errors import InvalidInput
from mlsteward.names import MAX_VERSION
from mlsteward.registry.evaluation import EvaluationService
from mlsteward.registry.mlflow_import import MlflowImportService
from mlsteward.registry.mlflow_source import check_import_host
from mlsteward.registry.models import (
    Evaluation,
    MlflowImport,
    ModelVersion,
    RegisteredModel,
    Run,
    Signature,
)
from mlsteward.registry.runs import RunService
from mlsteward.registry.service import ModelRegistry, SavedModel
from mlsteward.registry.specs import (
    EndRun,
    Evaluate,
    ImportMlflow,
    LogMetrics,
    RegisterModel,
    SetAlias,
    StartRun,
    Transition,
)
from mlsteward.spec import Spec

router = APIRouter(tags=["registry"])

_BINARY = {"type": "string", "format": "binary"}

#: Header of a download: the sha256 of the bytes, as recorded at registration.
SHA256_HEADER = "X-Mlsteward-Sha256"


class AliasTarget(Spec):
    """The body of ``PUT /models/{name}/aliases/{alias}``: :class:`SetAlias`
    without its alias, which is in the URL."""

    version: int = Field(
        ge=1, le=MAX_VERSION, description=SetAlias.model_fields["version"].description
    )


class EvaluateOn(Evaluate):
    """The JSON body of an evaluation on a registered dataset version."""

    data: str = Field(description="A dataset version: name/N, or name (latest).")


class ModelUpload(Spec):
    """``manifest.json`` of a model upload."""

    spec: dict[str, Any] = Field(description="The RegisterModel spec's fields.")
    flavor: str = Field(description="The flavor that saved the artifact.")
    artifact_sha256: str = Field(pattern="^[0-9a-f]{64}$")
    signature: Signature | None = Field(
        default=None, description="Inputs, inferred from the full training data."
    )


class TableUpload(Spec):
    """``manifest.json`` of a table upload (a dataset, an evaluation's data)."""

    spec: dict[str, Any] = Field(default_factory=dict)
    data_sha256: str = Field(pattern="^[0-9a-f]{64}$")


async def _spool(request: Request) -> IO[bytes]:
    """The request body, streamed into a temporary file (memory, then disk)."""
    out: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the caller
        max_size=SPOOL_BYTES
    )
    async for piece in request.stream():
        out.write(piece)
    out.seek(0)
    return out


def _table(files: dict[str, bytes], sha256: str, name: str = "data.parquet") -> Any:
    """The uploaded Parquet table, after checking its sha256."""
    from mlsteward.artifacts import sha256_hex
    from mlsteward.datasets.io import read_parquet_bytes

    data = files.get(name)
    if data is None:
        raise InvalidInput(f"the upload has no {name}", field="body")
    actual = sha256_hex(data)
    if actual != sha256:  # the client's bytes: bad input, not a broken store
        raise InvalidInput(
            f"{name} hashes to {actual}, not to the declared {sha256}; it was "
            "corrupted in transit, refusing it",
            field="data_sha256",
            expected=sha256,
            actual=actual,
        )
    return read_parquet_bytes(data)


def _uploaded(saved: SavedModel) -> SavedModel:
    """The uploaded artifact once its bytes hash to the declared sha256; a
    mismatch is the client's bad input (422), not a broken store (500)."""
    from mlsteward.errors import IntegrityError

    try:
        return saved.verify()
    except IntegrityError as exc:
        raise InvalidInput(exc.message, field=exc.field, **exc.details) from exc


def _download(data: bytes, sha256: str, media_type: str) -> StreamingResponse:
    return StreamingResponse(
        _chunks(data),
        media_type=media_type,
        headers={SHA256_HEADER: sha256, "Content-Length": str(len(data))},
    )


# -- imports ------------------------------------------------------------
@router.post("/imports/mlflow", status_code=201)
def import_mlflow(
    spec: ImportMlflow, ctx: Annotated[Context, Op("models.import_mlflow")]
) -> MlflowImport:
    """The server reads the MLflow tracking server named in the spec, if it
    is one of ``MLSTEWARD_MLFLOW_IMPORT_HOSTS``: a request must not point the
    server's network access wherever it likes (an in-process import runs
    with its user's own network access, so the limit belongs here)."""
    check_import_host(spec.tracking_uri, ctx.settings.mlflow_import_hosts)
    return MlflowImportService(ctx).import_mlflow(spec)


# -- runs ---------------------------------------------------------------
@router.post("/runs", status_code=201)
def start_run(spec: StartRun, ctx: Annotated[Context, Op("runs.start")]) -> Run:
    return RunService(ctx).start(spec)


@router.get("/runs")
def list_runs(ctx: Annotated[Context, Op("runs.list")], limit: int = 100) -> list[Run]:
    return RunService(ctx).list(limit=min(max(limit, 1), 1000))


@router.get("/runs/{run_id}")
def get_run(run_id: str, ctx: Annotated[Context, Op("runs.get")]) -> Run:
    return RunService(ctx).get(run_id)


@router.post("/runs/{run_id}/metrics", status_code=204)
def log_metrics(
    run_id: str, spec: LogMetrics, ctx: Annotated[Context, Op("runs.log_metrics")]
) -> None:
    RunService(ctx).log_metrics(run_id, spec)


@router.post("/runs/{run_id}/end")
def end_run(
    run_id: str,
    ctx: Annotated[Context, Op("runs.end")],
    spec: EndRun | None = None,
) -> Run:
    """End a running run; without a body, as finished."""
    return RunService(ctx).end(run_id, spec or EndRun())


# -- models -------------------------------------------------------------
@router.get("/models")
def list_models(ctx: Annotated[Context, Op("models.list")]) -> list[RegisteredModel]:
    return ModelRegistry(ctx).list_models()


@router.get("/models/{name}")
def get_model(name: str, ctx: Annotated[Context, Op("models.get")]) -> RegisteredModel:
    return ModelRegistry(ctx).get_model(name)


@router.get("/models/{name}/versions")
def list_versions(
    name: str, ctx: Annotated[Context, Op("models.list_versions")]
) -> list[ModelVersion]:
    """The versions of model ``name``, oldest first."""
    return ModelRegistry(ctx).list_versions(name)


@router.post("/models/{name}/versions", status_code=201, openapi_extra=OPENAPI_BODY)
async def register_model(
    name: str, request: Request, ctx: Annotated[Context, Op("models.register")]
) -> ModelVersion:
    """Register a model the client saved with its flavor.

    The body is a tar archive (``application/x-tar``, see
    :mod:`mlsteward.api.uploads`): ``manifest.json`` (:class:`ModelUpload`:
    the :class:`RegisterModel` fields, the flavor, the artifact's sha256 and
    the signature inferred from the full training data), ``artifact`` (the
    bytes the flavor saved) and, when the client had training data,
    ``training_data.parquet`` (its first rows, on which the server proves
    the artifact loads and predicts). The server checks the sha256 before
    anything is stored and loads the bytes only through the flavor's safe
    loader (skops with its type audit, ONNX checks), never unpickling.
    Bigger than ``MLSTEWARD_API_MAX_BODY_BYTES``: raise that setting.
    """
    body = await _spool(request)
    with body:
        manifest, files = read_bundle(body, {"artifact", "training_data.parquet"})
    upload = ModelUpload.parse(manifest)
    if upload.spec.get("name", name) != name:
        raise InvalidInput(
            f"the manifest names model {upload.spec['name']!r}, the URL {name!r}",
            field="name",
        )
    spec = RegisterModel.parse({**upload.spec, "name": name})
    artifact = files.get("artifact")
    if artifact is None:
        raise InvalidInput("the upload has no artifact", field="body")
    saved = _uploaded(SavedModel(upload.flavor, artifact, upload.artifact_sha256))
    sample = files.get("training_data.parquet")

    def register() -> ModelVersion:
        from mlsteward.datasets.io import read_parquet_bytes

        frame = read_parquet_bytes(sample) if sample is not None else None
        return ModelRegistry(ctx).register(
            spec, saved, frame, signature=upload.signature
        )

    return await run_in_threadpool(register)


@router.put("/models/{name}/aliases/{alias}")
def set_alias(
    name: str,
    alias: str,
    spec: AliasTarget,
    ctx: Annotated[Context, Op("models.set_alias")],
) -> ModelVersion:
    """Point ``name@alias`` at ``version``: the :class:`SetAlias` spec, its
    alias from the URL."""
    return ModelRegistry(ctx).set_alias(
        name, SetAlias.parse(alias=alias, version=spec.version)
    )


@router.delete("/models/{name}/aliases/{alias}", status_code=204)
def delete_alias(
    name: str, alias: str, ctx: Annotated[Context, Op("models.delete_alias")]
) -> None:
    ModelRegistry(ctx).delete_alias(name, alias)


# The routes under a ref come before the plain one: ``{ref:path}`` holds
# slashes (``credit-risk/3``), so the plain route would also match them.
@router.get("/model-versions/{ref:path}/evaluations")
def evaluations(
    ref: str, ctx: Annotated[Context, Op("models.evaluations")]
) -> list[Evaluation]:
    """The evaluations of a version, oldest first."""
    return EvaluationService(ctx).list(ref)


@router.post(
    "/model-versions/{ref:path}/evaluations",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/EvaluateOn"}
                },
                **OPENAPI_BODY["requestBody"]["content"],
            },
        }
    },
)
async def evaluate(
    ref: str, request: Request, ctx: Annotated[Context, Op("models.evaluate")]
) -> Evaluation:
    """Evaluate a version on the server and store the figures with it.

    On a registered dataset version: a JSON body, :class:`EvaluateOn`
    (``data`` is the dataset ref, the rest the :class:`Evaluate` spec). On
    a table of the client's: a tar archive (``application/x-tar``) of
    ``manifest.json`` (:class:`TableUpload`: the spec's fields and the
    table's sha256) and ``data.parquet``.
    """
    data: Any
    if request.headers.get("content-type", "").startswith(MEDIA_TYPE):
        body = await _spool(request)
        with body:
            manifest, files = read_bundle(body, {"data.parquet"})
        upload = TableUpload.parse(manifest)
        spec = Evaluate.parse(upload.spec)
        data = await run_in_threadpool(_table, files, upload.data_sha256)
    else:
        try:
            raw = await request.json()
        except ValueError as exc:
            raise InvalidInput(
                "the body must be JSON (EvaluateOn) or a tar upload", field="body"
            ) from exc
        on = EvaluateOn.parse(raw)
        spec = Evaluate.parse(on.model_dump(exclude={"data"}, exclude_unset=True))
        data = on.data
    return await run_in_threadpool(EvaluationService(ctx).evaluate, ref, data, spec)


@router.get(
    "/model-versions/{ref:path}/artifact",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {"schema": _BINARY}}}},
)
def download_model(
    ref: str, ctx: Annotated[Context, Op("models.load")]
) -> StreamingResponse:
    """The version's artifact, streamed, its sha256 in ``X-Mlsteward-Sha256``
    (verified on the server; the client checks it again against the
    version's recorded one before its flavor loads the bytes)."""
    _, saved = ModelRegistry(ctx).fetch(ref)
    return _download(saved.data, saved.sha256, "application/octet-stream")


@router.post("/model-versions/{ref:path}/transition")
def transition(
    ref: str, spec: Transition, ctx: Annotated[Context, Op("models.transition")]
) -> ModelVersion:
    return ModelRegistry(ctx).transition(ref, spec)


@router.get("/model-versions/{ref:path}")
def get_version(
    ref: str, ctx: Annotated[Context, Op("models.get_version")]
) -> ModelVersion:
    """``name`` (the latest), ``name/N`` or ``name@alias``."""
    return ModelRegistry(ctx).get(ref)


# -- datasets -----------------------------------------------------------
@router.get("/datasets")
def list_datasets(
    ctx: Annotated[Context, Op("datasets.list")], name: str | None = None
) -> list[DatasetVersionDetail]:
    """Every dataset version (of dataset ``name``, if given), with profiles."""
    return [v.with_profile() for v in DatasetService(ctx).list(name)]


@router.post("/datasets/{name}/versions", status_code=201, openapi_extra=OPENAPI_BODY)
async def register_dataset(
    name: str, request: Request, ctx: Annotated[Context, Op("datasets.register")]
) -> DatasetVersionDetail:
    """Register a table as the next version of dataset ``name``.

    The body is a tar archive (``application/x-tar``): ``manifest.json``
    (:class:`TableUpload`: the :class:`RegisterDataset` fields and the
    sha256 of the Parquet bytes) and ``data.parquet``. The sha256 is checked
    before the table is read. Bigger than ``MLSTEWARD_API_MAX_BODY_BYTES``:
    raise that setting.
    """
    body = await _spool(request)
    with body:
        manifest, files = read_bundle(body, {"data.parquet"})
    upload = TableUpload.parse(manifest)
    if upload.spec.get("name", name) != name:
        raise InvalidInput(
            f"the manifest names dataset {upload.spec['name']!r}, the URL {name!r}",
            field="name",
        )
    spec = RegisterDataset.parse({**upload.spec, "name": name})

    def register() -> DatasetVersionDetail:
        frame = _table(files, upload.data_sha256)
        return DatasetService(ctx).register(spec, frame).with_profile()

    return await run_in_threadpool(register)


@router.get(
    "/dataset-versions/{ref:path}/data",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.apache.parquet": {"schema": _BINARY}}}
    },
)
def download_dataset(
    ref: str, ctx: Annotated[Context, Op("datasets.load")]
) -> StreamingResponse:
    """The version's canonical Parquet bytes, streamed, their sha256 in
    ``X-Mlsteward-Sha256``."""
    version, data = DatasetService(ctx).fetch(ref)
    return _download(data, version.sha256, "application/vnd.apache.parquet")


@router.get("/dataset-versions/{ref:path}")
def get_dataset(
    ref: str, ctx: Annotated[Context, Op("datasets.get")]
) -> DatasetVersionDetail:
    """``name`` (the latest) or ``name/N``, with its column profile."""
    return DatasetService(ctx).get(ref).with_profile()


# -- governance views of a version ----------------------------------------
@router.get(
    "/models/{name}/versions/{version}/report",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}},
)
def report(name: str, version: Version, ctx: Ctx) -> HTMLResponse:
    """The model documentation of a version, as one self-contained HTML page."""
    from mlsteward.governance.report.build import build_report

    return HTMLResponse(build_report(ctx, f"{name}/{version}"))
