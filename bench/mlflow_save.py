"""Save the benchmark's credit model as an MLflow model (runs in MLflow's venv).

``bench/serving.py`` runs this with ``bench/out/.venv-mlflow/bin/python``:
MLflow never enters the project's environment. The fitted scikit-learn
pipeline arrives as a skops file written by the benchmark itself (the same
scikit-learn version on both sides), and is saved with MLflow's own defaults
for scikit-learn (skops serialization in MLflow 3) so that
``mlflow models serve`` answers with ``predict_proba``, as mlsteward does.

Usage::

    python bench/mlflow_save.py MODEL.skops SAMPLE.json OUT_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path


def main(model_path: str, sample_path: str, out_dir: str) -> None:
    import mlflow.sklearn
    import pandas as pd
    import skops.io
    from mlflow.models import infer_signature

    # This file was written a moment ago by bench/serving.py from its own
    # fitted pipeline, so its types are trusted here (and only here).
    trusted = skops.io.get_untrusted_types(file=model_path)
    model = skops.io.load(model_path, trusted=trusted)
    sample = pd.DataFrame(json.loads(Path(sample_path).read_text()))
    dtypes = json.loads(Path(sample_path).with_suffix(".dtypes.json").read_text())
    sample = sample.astype(dtypes)
    signature = infer_signature(sample, model.predict_proba(sample))
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    mlflow.sklearn.save_model(
        model,
        str(out),
        signature=signature,
        input_example=sample.head(2),
        pyfunc_predict_fn="predict_proba",
        # MLflow's skops save asks for the same list of types (here just
        # numpy.dtype, from the one-hot encoder's dtype parameter).
        skops_trusted_types=trusted,
    )
    print(mlflow.__version__)


if __name__ == "__main__":
    main(*sys.argv[1:4])
