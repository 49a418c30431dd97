"""Read an MLflow tracking server through its REST API (no ``mlflow`` package).

The importer (:mod:`mlsteward.registry.mlflow_import`) reads experiments,
runs, metric histories, registered models, versions and aliases from
``/api/2.0/mlflow/...``, and model files from the artifact proxy
``/api/2.0/mlflow-artifacts/artifacts/...`` that ``mlflow server`` runs by
default (``--serve-artifacts``). An artifact location on the importing
machine's disk (``file:`` or a plain path) is read directly; any other scheme
(``s3://``, ``dbfs:``) must go through the server's proxy.

Only ``http(s)://`` tracking URIs are read. A local MLflow store (a ``mlruns``
folder, a ``sqlite:`` database) is read by starting ``mlflow server`` on it::

    mlflow server --backend-store-uri sqlite:///mlflow.db --port 5000
    mlsteward import mlflow --tracking-uri http://127.0.0.1:5000

so that MLflow itself interprets its store, whatever its version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import httpx

from mlsteward.errors import InvalidInput, NotFound

__all__ = ["MlflowSource", "check_import_host", "check_tracking_uri"]

_API = "/api/2.0/mlflow"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_PAGE = 1000
#: The largest model file the importer downloads (bytes).
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024


def check_tracking_uri(uri: str) -> str:
    """The tracking server's base URL, or a message saying how to get one.

    Example:
        >>> check_tracking_uri("http://127.0.0.1:5000/")
        'http://127.0.0.1:5000'
    """
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return uri.rstrip("/")
    hint = (
        f"start `mlflow server --backend-store-uri {uri}` and pass its http://host:port"
        if uri
        else "pass the MLflow server's http://host:port"
    )
    raise InvalidInput(
        f"tracking_uri {uri!r} is not an http(s) URL of an MLflow tracking "
        f"server; mlsteward reads MLflow through its REST API: {hint}",
        field="tracking_uri",
    )


def check_import_host(uri: str, allowed: str) -> None:
    """Refuse a tracking server whose ``host`` or ``host:port`` is not listed
    in ``allowed`` (comma-separated), as the server's setting says.

    Raises:
        PolicyViolation: It is not listed (field ``tracking_uri``).

    Example:
        >>> check_import_host("http://mlflow:5000", "mlflow:5000")
    """
    from mlsteward.errors import PolicyViolation

    parsed = urlparse(uri)
    hosts = {h.strip().lower() for h in allowed.split(",") if h.strip()}
    host = (parsed.hostname or "").lower()
    if host in hosts or f"{host}:{parsed.port}" in hosts:
        return
    raise PolicyViolation(
        f"this server imports from MLflow only at the hosts in "
        f"MLSTEWARD_MLFLOW_IMPORT_HOSTS ({sorted(hosts) or 'none set'}); add "
        f"{host!r} there on the server, or run the import in process "
        "(`mlsteward import mlflow` where the stores are configured)",
        field="tracking_uri",
    )


class MlflowSource:
    """The REST API of one MLflow tracking server.

    Args:
        base_url: ``http://host:port`` (see :func:`check_tracking_uri`).
        http: The HTTP client (its timeout applies to every call).

    Example:
        >>> with httpx.Client(timeout=30) as http:  # doctest: +SKIP
        ...     src = MlflowSource("http://127.0.0.1:5000", http)
        ...     [e["name"] for e in src.experiments()]
        ['Default', 'credit']
    """

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url
        self.http = http

    # -- tracking -----------------------------------------------------------
    def experiments(self) -> list[dict[str, Any]]:
        """Every active experiment."""
        return list(
            self._pages(
                "POST",
                "/experiments/search",
                "experiments",
                {"view_type": "ACTIVE_ONLY"},
            )
        )

    def runs(self, experiment_ids: list[str]) -> list[dict[str, Any]]:
        """Every active run of the experiments, oldest first."""
        if not experiment_ids:
            return []
        body = {"experiment_ids": experiment_ids, "order_by": ["start_time ASC"]}
        return list(self._pages("POST", "/runs/search", "runs", body))

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every value logged for metric ``key`` of a run, with step and time."""
        query = {"run_id": run_id, "metric_key": key}
        return list(self._pages("GET", "/metrics/get-history", "metrics", query))

    # -- registry ----------------------------------------------------------
    def registered_models(self) -> list[dict[str, Any]]:
        """Every registered model with its aliases."""
        return list(
            self._pages("GET", "/registered-models/search", "registered_models", {})
        )

    def versions(self, name: str) -> list[dict[str, Any]]:
        """The versions of a registered model, lowest number first."""
        escaped = name.replace("'", "\\'")
        query = {"filter": f"name='{escaped}'"}
        found = list(
            self._pages("GET", "/model-versions/search", "model_versions", query)
        )
        return sorted(found, key=lambda v: int(v["version"]))

    def download_uri(self, name: str, version: str) -> str:
        """Where a version's model directory is (``mlflow-artifacts:/...``)."""
        answer = self._call(
            "GET",
            "/model-versions/get-download-uri",
            {"name": name, "version": version},
        )
        return str(answer["artifact_uri"])

    # -- artifacts ---------------------------------------------------------
    def read_artifact(self, root: str, name: str) -> bytes | None:
        """The bytes of file ``name`` in the model directory ``root``, or None
        when it does not exist.

        Raises:
            InvalidInput: ``root`` is neither proxied by the server nor on
                this machine's disk, or the file is over the size limit.
        """
        parsed = urlparse(root)
        if parsed.scheme in ("", "file"):
            path = Path(unquote(parsed.path)) / name
            if not path.is_file():
                return None
            return _limited(path.read_bytes(), root, name)
        if parsed.scheme != "mlflow-artifacts":
            raise InvalidInput(
                f"the model files are at {root!r}, which mlsteward does not "
                "read; run `mlflow server` with --serve-artifacts (the default) "
                "so it serves them, or copy them where this machine can read",
                field="tracking_uri",
            )
        rel = parsed.path.lstrip("/") + "/" + name
        url = f"{self.base_url}{_ARTIFACTS}/{quote(rel)}"
        response = self._send("GET", url)
        if response.status_code == 404:
            return None
        _raise_for(response, url)
        return _limited(response.content, root, name)

    # -- plumbing ----------------------------------------------------------
    def _pages(
        self, method: str, path: str, key: str, args: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = {**args, "max_results": _PAGE}
            if token:
                page["page_token"] = token
            answer = self._call(method, path, page)
            yield from answer.get(key, [])
            token = answer.get("next_page_token")
            if not token:
                return

    def _call(self, method: str, path: str, args: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}{_API}{path}"
        if method == "GET":
            response = self._send(method, url, params=args)
        else:
            response = self._send(method, url, json=args)
        _raise_for(response, url)
        try:
            answer = response.json()
        except ValueError as exc:
            raise InvalidInput(
                f"{url} did not answer JSON; is {self.base_url} an MLflow "
                "tracking server?",
                field="tracking_uri",
            ) from exc
        return answer if isinstance(answer, dict) else {}

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise InvalidInput(
                f"cannot reach the MLflow server at {self.base_url} "
                f"({type(exc).__name__}: {exc})",
                field="tracking_uri",
            ) from exc


def _raise_for(response: httpx.Response, url: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json().get("message", response.text[:200])
    except ValueError:
        detail = response.text[:200]
    error = NotFound if response.status_code == 404 else InvalidInput
    raise error(
        f"the MLflow server answered {response.status_code} to {url}: {detail}",
        field="tracking_uri",
    )


def _limited(data: bytes, root: str, name: str) -> bytes:
    if len(data) > MAX_ARTIFACT_BYTES:
        raise InvalidInput(
            f"{root}/{name} is {len(data)} bytes, over the import limit of "
            f"{MAX_ARTIFACT_BYTES}",
            field="tracking_uri",
        )
    return data
