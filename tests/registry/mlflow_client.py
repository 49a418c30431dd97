"""Score rows through MLflow's own scoring-server client (runs in MLflow's venv).

``tests/registry/test_mlflow_import.py`` points MLflow's
``ScoringServerClient`` (what ``mlflow models serve`` users call) at a
``mlsteward serve`` process, unchanged, and writes the scores it got.

Usage::

    python tests/registry/mlflow_client.py PORT SAMPLE_JSON OUT_JSON
"""

from __future__ import annotations

import json
import sys


def main(port: str, sample_path: str, out: str) -> None:
    import pandas as pd
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    with open(sample_path) as fh:
        sample = json.load(fh)
    frame = pd.DataFrame(sample["data"], columns=sample["columns"])
    client = ScoringServerClient("127.0.0.1", int(port))
    client.wait_server_ready(timeout=60)
    predictions = client.invoke(frame).get_predictions()
    with open(out, "w") as fh:
        json.dump({"scores": predictions["score"].tolist()}, fh)


if __name__ == "__main__":
    main(*sys.argv[1:4])
