"""Remote forms of the SDK methods that move bytes: a model or a table.

Most SDK methods bind to their route by name alone
(:mod:`mlsteward.remote.binding`). Five take or give what is not JSON, so
the remote client runs these functions in their place (:data:`CUSTOM`, by
use-case name), still reaching the route through its use case:

- ``models.register``: the model is saved here with its flavor (the bytes
  the embedded client would store) and uploaded with its sha256, the spec,
  the signature (inferred here from the full training data) and the
  training data's first rows, on which the server proves the artifact loads
  and predicts.
- ``models.load``: the artifact is downloaded, checked against the sha256
  the version recorded at registration, and loaded here by its flavor's
  safe loader, the same :class:`LoadedModel` as embedded.
- ``datasets.register`` / ``datasets.load``: the table travels as its
  canonical Parquet bytes, with their sha256.
- ``models.evaluate``: a dataset ref goes as JSON, a table as Parquet.

Uploads are one tar stream (:mod:`mlsteward.api.uploads`), capped by the
server's ``MLSTEWARD_API_MAX_BODY_BYTES``; raise it there for bigger models
or tables.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlsteward.api.uploads import MEDIA_TYPE, chunks, write_bundle
from mlsteward.errors import IntegrityError, InvalidInput
from mlsteward.remote.binding import operations
from mlsteward.remote.transport import Transport, error_of_problem

if TYPE_CHECKING:
    import pandas as pd

    from mlsteward.datasets.models import DatasetVersion
    from mlsteward.datasets.specs import RegisterDataset
    from mlsteward.registry.models import Evaluation, ModelVersion, Signature
    from mlsteward.registry.service import LoadedModel
    from mlsteward.registry.specs import Evaluate, RegisterModel

__all__ = ["CUSTOM", "custom_method"]

#: Rows of the training data sent for the server's load-and-predict proof:
#: the rows the embedded register predicts on.
PROOF_ROWS = 5


def register_model(
    transport: Transport,
    spec: RegisterModel | None = None,
    /,
    *,
    model: Any,
    training_data: pd.DataFrame | None = None,
    signature: Signature | None = None,
    **fields: Any,
) -> ModelVersion:
    from mlsteward.artifacts import sha256_hex
    from mlsteward.datasets.io import canonical_parquet
    from mlsteward.flavors import flavor_for, get_flavor
    from mlsteward.registry.signature import infer_signature
    from mlsteward.registry.specs import RegisterModel
    from mlsteward.sdk.registry import build_spec

    spec = build_spec(RegisterModel, spec, fields)
    if signature is None:
        if training_data is None:
            raise InvalidInput(
                "give training_data (the features the model was fitted on) "
                "or a signature, so mlsteward can check inputs later",
                field="training_data",
            )
        signature = infer_signature(training_data)
    flavor = get_flavor(spec.flavor) if spec.flavor else flavor_for(model)
    artifact = flavor.save(model)
    files = {"artifact": artifact}
    if training_data is not None:
        sample = training_data.head(PROOF_ROWS)
        files["training_data.parquet"] = canonical_parquet(sample)
    manifest = {
        "spec": spec.model_dump(mode="json", exclude_unset=True),
        "flavor": flavor.name,
        "artifact_sha256": sha256_hex(artifact),
        "signature": signature.model_dump(mode="json"),
    }
    result: ModelVersion = _upload(
        transport, "models.register", spec.name, manifest, files
    )
    return result


def load_model(transport: Transport, ref: str) -> LoadedModel:
    from mlsteward.registry.service import SavedModel, loaded_model

    mv: ModelVersion = _get(transport, "models.get_version", ref)
    data = _download(transport, "models.load", mv.ref, mv.artifact_sha256)
    return loaded_model(mv, SavedModel(mv.flavor, data, mv.artifact_sha256))


def register_dataset(
    transport: Transport,
    spec: RegisterDataset | None = None,
    /,
    *,
    data: pd.DataFrame | str | Path,
    **fields: Any,
) -> DatasetVersion:
    from mlsteward.artifacts import sha256_hex
    from mlsteward.datasets.models import DatasetVersion
    from mlsteward.datasets.specs import RegisterDataset

    spec = _build(RegisterDataset, spec, fields)
    payload = _parquet(data)
    manifest = {
        "spec": spec.model_dump(mode="json", exclude_unset=True),
        "data_sha256": sha256_hex(payload),
    }
    files = {"data.parquet": payload}
    made = _upload(transport, "datasets.register", spec.name, manifest, files)
    return DatasetVersion.model_validate(dict(made))


def load_dataset(transport: Transport, ref: str) -> pd.DataFrame:
    from mlsteward.datasets.io import read_parquet_bytes

    version = _get(transport, "datasets.get", ref)
    data = _download(transport, "datasets.load", version.ref, version.sha256)
    return read_parquet_bytes(data)


def evaluate(
    transport: Transport,
    ref: str,
    spec: Evaluate | None = None,
    /,
    *,
    data: pd.DataFrame | str,
    **fields: Any,
) -> Evaluation:
    from mlsteward.artifacts import sha256_hex
    from mlsteward.registry.specs import Evaluate

    spec = _build(Evaluate, spec, fields)
    op = operations()["models.evaluate"]
    path, _, _ = op.split({"ref": ref})
    given = spec.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, str):
        response = transport.request(op.method, path, json={**given, "data": data})
    else:
        payload = _parquet(data)
        manifest = {"spec": given, "data_sha256": sha256_hex(payload)}
        response = _send(
            transport, op.method, path, manifest, {"data.parquet": payload}
        )
    result: Evaluation = op.parse(response.json())
    return result


def load_outcomes(transport: Transport, data: Any) -> Any:
    """``client.outcomes.load`` over HTTP: the table's ``request_id``,
    ``label`` and ``observed_at`` as JSON items, joined on the server."""
    import pandas as pd

    from mlsteward.datasets.io import read_table

    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    missing = [c for c in ("request_id", "label") if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"outcomes need a column {missing[0]!r}; the table has "
            f"{list(frame.columns)}",
            field=missing[0],
        )
    items = []
    for row in frame.to_dict(orient="records"):
        item = {"request_id": str(row["request_id"]), "label": row["label"]}
        seen = row.get("observed_at")
        if seen is not None and not pd.isna(seen):
            item["observed_at"] = pd.Timestamp(seen).isoformat()
        items.append(item)
    op = operations()["outcomes.load"]
    path, _, _ = op.split({})
    return op.parse(transport.request(op.method, path, json=items).json())


def start_run(transport: Transport, spec: Any = None, /, **fields: Any) -> Any:
    """``client.runs.start`` remotely: the run records the commit and package
    versions of the machine that trains (this one), not the server's."""
    from mlsteward.registry.runs import environment_versions, git_sha
    from mlsteward.registry.specs import StartRun

    start = _build(StartRun, spec, fields)
    given = start.model_dump(exclude_unset=True, mode="json")
    given.setdefault("git_sha", git_sha())
    given.setdefault("environment", environment_versions())
    op = operations()["runs.start"]
    path, _, _ = op.split({})
    return op.parse(transport.request(op.method, path, json=given).json())


def wait_job(transport: Transport, job_id: str, *, timeout: float = 60.0) -> Any:
    """``client.jobs.wait`` remotely: poll the job's route until it is final,
    every 0.1 s doubling to 2 s, as the embedded method does in process.

    Raises:
        Conflict: It is not final after ``timeout`` seconds.
    """
    import time

    from mlsteward.errors import Conflict

    deadline, pause = time.monotonic() + timeout, 0.1
    while True:
        job = _get_job(transport, job_id)
        if job.done:
            return job
        if time.monotonic() >= deadline:
            raise Conflict(
                f"job {job_id} is still {job.state} after {timeout:g} s",
                field="job_id",
            )
        time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
        pause = min(pause * 2, 2.0)


def _get_job(transport: Transport, job_id: str) -> Any:
    op = operations()["jobs.get"]
    path, query, _ = op.split({"job_id": job_id})
    return op.parse(transport.request(op.method, path, params=query).json())


#: The remote form of each SDK method that moves bytes (or, like
#: ``jobs.wait``, is more than one request), by use-case name.
CUSTOM: dict[str, Callable[..., Any]] = {
    "jobs.wait": wait_job,
    "runs.start": start_run,
    "outcomes.load": load_outcomes,
    "models.register": register_model,
    "models.load": load_model,
    "models.evaluate": evaluate,
    "datasets.register": register_dataset,
    "datasets.load": load_dataset,
}


def custom_method(name: str) -> Callable[..., Any] | None:
    """The function standing in for use case ``name`` remotely, if any."""
    return CUSTOM.get(name)


# -- helpers ------------------------------------------------------------
def _build(cls: Any, spec: Any, fields: Mapping[str, Any]) -> Any:
    from mlsteward.sdk.registry import build_spec

    return build_spec(cls, spec, fields)


def _parquet(data: Any) -> bytes:
    """The canonical Parquet bytes of a frame or a table file, as the server
    would compute them from the same table."""
    import pandas as pd

    from mlsteward.datasets.io import canonical_parquet, read_table

    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    return canonical_parquet(frame)


def _get(transport: Transport, name: str, ref: str) -> Any:
    op = operations()[name]
    path, query, _ = op.split({"ref": ref})
    return op.parse(transport.request(op.method, path, params=query).json())


def _upload(
    transport: Transport,
    name: str,
    key: str,
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
) -> Any:
    op = operations()[name]
    path, _, _ = op.split({"name": key})
    return op.parse(_send(transport, op.method, path, manifest, files).json())


def _send(
    transport: Transport,
    method: str,
    path: str,
    manifest: Mapping[str, Any],
    files: Mapping[str, bytes],
) -> Any:
    bundle: IO[bytes] = write_bundle(manifest, files)
    with bundle:
        size = bundle.seek(0, io.SEEK_END)
        bundle.seek(0)
        return transport.request(
            method,
            path,
            content=chunks(bundle),
            headers={"Content-Type": MEDIA_TYPE, "Content-Length": str(size)},
        )


def _download(transport: Transport, name: str, ref: str, sha256: str) -> bytes:
    """The bytes of a download, streamed, after checking their sha256."""
    op = operations()[name]
    path, _, _ = op.split({"ref": ref})
    digest, out = hashlib.sha256(), io.BytesIO()
    with transport.stream(path) as response:
        if response.status_code >= 400:
            response.read()
            raise error_of_problem(response)
        for piece in response.iter_bytes():
            digest.update(piece)
            out.write(piece)
    actual = digest.hexdigest()
    if actual != sha256:
        raise IntegrityError(
            f"the download of {ref} hashes to {actual}, not to its recorded "
            f"sha256 {sha256}; it was corrupted or tampered with in transit, "
            "refusing to load it",
            field="sha256",
            expected=sha256,
            actual=actual,
        )
    return out.getvalue()
