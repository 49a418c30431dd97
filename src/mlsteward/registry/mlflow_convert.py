"""Turn an MLflow model directory into a mlsteward artifact, safely.

What converts:

- MLflow's ``sklearn`` flavor saved with ``serialization_format="skops"``
  (MLflow 3's default outside Databricks): the ``.skops`` file is loaded by
  mlsteward's sklearn flavor, with its trusted-type checks, and saved again
  as a mlsteward sklearn artifact.
- MLflow's ``lightgbm`` flavor holding a ``lightgbm.Booster``: MLflow writes
  LightGBM's own text model, which mlsteward's lightgbm flavor checks and
  parses.

What is refused, with the reason: a model MLflow pickled (``cloudpickle`` or
``pickle``: unpickling runs code), an ``LGBMClassifier`` (MLflow pickles or
skops-saves the scikit-learn wrapper, not the text model), any other flavor,
and a model without a column signature (mlsteward checks requests by named
columns).

Parity: the model read from MLflow's file and the same model read back from
the mlsteward artifact score the same sample rows (the logged input example,
or rows made from the signature) to within :data:`PARITY_TOLERANCE`. It
proves the conversion kept the model; it does not run MLflow's own loader,
which would unpickle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlsteward.errors import InvalidInput, UnsafeArtifact
from mlsteward.flavors import get_flavor
from mlsteward.registry.models import Signature
from mlsteward.registry.signature import conform

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PARITY_TOLERANCE", "Converted", "convert", "parse_mlmodel"]

#: Largest absolute difference in probability allowed between the model
#: read from MLflow's file and the converted artifact.
PARITY_TOLERANCE = 1e-9
_SAMPLE_ROWS = 8
#: MLflow column types -> (mlsteward kind, dtype).
_TYPES = {
    "double": ("numeric", "float64"),
    "float": ("numeric", "float32"),
    "long": ("numeric", "int64"),
    "integer": ("numeric", "int32"),
    "boolean": ("categorical", "bool"),
    "string": ("categorical", "object"),
}

Reader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class Converted:
    """A model ready to register: flavor, artifact bytes, signature, and the
    parity check's figures."""

    flavor: str
    payload: bytes
    signature: Signature
    source_format: str
    sample_rows: int
    parity_max_abs_diff: float


def parse_mlmodel(data: bytes) -> dict[str, Any]:
    """The ``MLmodel`` file (YAML) as a dict, read with YAML's safe loader."""
    import yaml

    try:
        parsed = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"the MLmodel file is not YAML ({exc})", field="model"
        ) from exc
    if not isinstance(parsed, dict):
        raise InvalidInput("the MLmodel file is not a mapping", field="model")
    return parsed


def convert(mlmodel: dict[str, Any], read: Reader) -> Converted:
    """Convert one MLflow model directory (its ``MLmodel`` and a file reader).

    Args:
        mlmodel: The parsed ``MLmodel`` file.
        read: Returns the bytes of a file of the model directory, or None.

    Raises:
        UnsafeArtifact: The model was pickled, or its skops file names types
            mlsteward does not trust.
        InvalidInput: Another flavor, no column signature, or the converted
            model does not score like the original.

    Example:
        >>> convert(parse_mlmodel(read("MLmodel")), read).flavor  # doctest: +SKIP
        'sklearn'
    """
    flavors = mlmodel.get("flavors") or {}
    if "sklearn" in flavors:
        name, fmt, model = (
            "sklearn",
            "sklearn/skops",
            _sklearn(flavors["sklearn"], read),
        )
    elif "lightgbm" in flavors:
        name, fmt, model = (
            "lightgbm",
            "lightgbm/booster",
            _lightgbm(flavors["lightgbm"], read),
        )
    else:
        raise InvalidInput(
            f"MLflow flavor(s) {sorted(flavors)}: mlsteward converts the sklearn "
            "flavor (saved with skops) and the lightgbm flavor (a Booster)",
            field="model",
        )
    signature = _signature(mlmodel)
    sample = conform(signature, _sample(mlmodel, signature, read))
    flavor = get_flavor(name)
    payload = flavor.save(model)
    original = flavor.predict_proba(model, sample)
    converted = flavor.predict_proba(flavor.load(payload), sample)
    diff = float(abs(original - converted).max()) if len(sample) else 0.0
    if not diff <= PARITY_TOLERANCE:
        raise InvalidInput(
            f"the converted model scores differently from MLflow's file (largest "
            f"difference {diff:.3g} over {len(sample)} rows)",
            field="model",
        )
    return Converted(name, payload, signature, fmt, len(sample), diff)


def _file(read: Reader, name: Any, what: str) -> bytes:
    data = read(str(name)) if name else None
    if data is None:
        raise InvalidInput(
            f"the MLflow model has no {what} file {name!r}", field="model"
        )
    return data


def _sklearn(conf: dict[str, Any], read: Reader) -> object:
    fmt = conf.get("serialization_format", "cloudpickle")
    if fmt != "skops":
        raise UnsafeArtifact(
            f"MLflow saved this scikit-learn model with {fmt}, Python's pickling; "
            "mlsteward never unpickles, because unpickling runs whatever code "
            "the file names. Log it again with mlflow.sklearn.log_model(..., "
            "serialization_format='skops')",
            field="model",
        )
    data = _file(read, conf.get("pickled_model"), "skops")
    return get_flavor("sklearn").load(data)


def _lightgbm(conf: dict[str, Any], read: Reader) -> object:
    cls = conf.get("model_class", "lightgbm.basic.Booster")
    if cls != "lightgbm.basic.Booster":
        fmt = conf.get("serialization_format", "cloudpickle")
        raise UnsafeArtifact(
            f"MLflow saved this {cls} with {fmt}, not as LightGBM's text model; "
            "mlsteward reads the text model, which MLflow writes for a Booster: "
            "log model.booster_ with mlflow.lightgbm.log_model",
            field="model",
        )
    return get_flavor("lightgbm").load(_file(read, conf.get("data"), "LightGBM model"))


def _signature(mlmodel: dict[str, Any]) -> Signature:
    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        raise InvalidInput(
            "the MLflow model has no signature; mlsteward checks requests by "
            "named columns: log it with signature=infer_signature(X, ...)",
            field="model",
        )
    columns = json.loads(raw) if isinstance(raw, str) else raw
    inputs = []
    for col in columns:
        kind = _TYPES.get(col.get("type", ""))
        if kind is None or not col.get("name"):
            raise InvalidInput(
                f"the MLflow signature has an input {col!r}; mlsteward takes named "
                f"columns of types {sorted(_TYPES)}",
                field="model",
            )
        inputs.append(
            {
                "name": str(col["name"]),
                "kind": kind[0],
                "dtype": kind[1],
                "nullable": not col.get("required", True),
            }
        )
    output = {"name": "score", "type": "float64", "meaning": "probability of label 1"}
    return Signature(inputs=inputs, output=output)


def _sample(
    mlmodel: dict[str, Any], signature: Signature, read: Reader
) -> pd.DataFrame:
    import pandas as pd

    info = mlmodel.get("saved_input_example_info") or {}
    data = read(str(info["artifact_path"])) if info.get("artifact_path") else None
    if data is not None:
        example = json.loads(data)
        if isinstance(example, dict) and "columns" in example:
            return pd.DataFrame(example["data"], columns=example["columns"])
        if isinstance(example, list):
            return pd.DataFrame.from_records(example)
    return _synthetic(signature)


def _synthetic(signature: Signature) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    for j, spec in enumerate(signature.inputs):
        if spec["kind"] != "numeric":
            raise InvalidInput(
                f"the MLflow model has no input example and column "
                f"{spec['name']!r} is not numeric, so mlsteward cannot make rows "
                "to check the conversion: log it with input_example=X.head()",
                field="model",
            )
        if spec["dtype"].startswith("int"):
            columns[spec["name"]] = np.arange(_SAMPLE_ROWS) - j
        else:
            columns[spec["name"]] = np.linspace(-2.0, 2.0, _SAMPLE_ROWS) * (j + 1)
    return pd.DataFrame(columns)
