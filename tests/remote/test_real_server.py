"""A laptop with only a URL and a token runs the loop against a real server."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from tests.conftest import make_user
from tests.serving.servers import Server

import mlsteward
from mlsteward.errors import Forbidden


@pytest.mark.slow
def test_a_laptop_with_a_token_runs_the_loop(sqlite_client, credit, trained, tmp_path):  # type: ignore[no-untyped-def]
    model, features = trained
    home = sqlite_client.ctx.settings.resolved_home()
    make_user(sqlite_client.ctx, "root", "admin")
    dana = make_user(sqlite_client.ctx, "dana", "developer")
    vera = make_user(sqlite_client.ctx, "vera", "viewer")
    sqlite_client.close()
    server = Server(home, ["server"], MLSTEWARD_AUTH_REQUIRED="true").start()
    try:
        # No home, no database URL on the laptop: only the server's URL.
        client = mlsteward.Client(server.url, token=dana)
        ds = client.datasets.register(
            data=credit, name="german-credit", roles={"bad": "target"}
        )
        run = client.runs.start(name="scorecard", inputs=[ds.ref])
        client.runs.log_metrics(run.id, metrics={"auc": 0.78}, step=1)
        mv = client.models.register(
            name="cr", model=model, training_data=credit[features], run_id=run.id
        )
        client.runs.end(run.id)
        assert client.runs.get(run.id).metrics["auc"] == 0.78
        loaded = client.models.load(mv.ref)
        np.testing.assert_allclose(
            loaded.predict_proba(credit[features].head(20)),
            model.predict_proba(credit[features].head(20))[:, 1],
            atol=1e-6,
        )
        client.models.set_alias("cr", alias="champion", version=mv.version)
        made = client.deployments.create(name="cr", model="cr@champion")
        assert made.champion_version == mv.version
        # A viewer reads, and is refused a change, by the server's services.
        viewer = mlsteward.Client(server.url, token=vera)
        assert [d.name for d in viewer.deployments.list()] == ["cr"]
        with pytest.raises(Forbidden):
            viewer.deployments.clear_canary("cr")
        # The CLI with MLSTEWARD_URL speaks the same API.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEWARD_")}
        env.update(MLSTEWARD_URL=server.url, MLSTEWARD_TOKEN=dana, HOME=str(tmp_path))
        out = subprocess.run(
            [sys.executable, "-m", "mlsteward", "models", "list", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert '"cr"' in out.stdout
        assert not (tmp_path / ".mlsteward").exists()  # nothing local was made
    finally:
        server.stop()
