"""Uploads of the control plane: a JSON manifest and named files, one tar stream.

Registering a model or a dataset from a remote client sends bytes that are
not JSON (a saved artifact, Parquet) with a spec that is. They travel as one
request whose body is an uncompressed POSIX tar archive
(``application/x-tar``): ``manifest.json`` (the spec and the sha256 of each
file) and the files themselves. One request is one use case and one
transaction, so nothing is left behind when a registration is refused. Tar
was chosen over ``multipart/form-data`` because the standard library reads
and writes it on both ends (FastAPI's form parsing needs another package),
and over a two-step upload because a blob stored ahead of its registration
would need its own permission and its own clean-up.

The body is streamed in and spooled to a temporary file (memory up to
:data:`SPOOL_BYTES`, then disk); the control plane's body limit
(``MLSTEWARD_API_MAX_BODY_BYTES``, default 10 MiB) caps it. A larger model or
table needs that setting raised on the server.

Example:
    >>> blob = write_bundle({"spec": {"name": "gc"}}, {"data.parquet": b"PAR1"})
    >>> manifest, files = read_bundle(blob, {"data.parquet"})
    >>> manifest["spec"]["name"], files["data.parquet"]
    ('gc', b'PAR1')
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from typing import IO, Any

from mlsteward.errors import InvalidInput

__all__ = [
    "MANIFEST",
    "MEDIA_TYPE",
    "OPENAPI_BODY",
    "SPOOL_BYTES",
    "chunks",
    "read_bundle",
    "write_bundle",
]

MANIFEST = "manifest.json"
MEDIA_TYPE = "application/x-tar"
#: Bytes of an upload held in memory before the spool moves to disk.
SPOOL_BYTES = 8 * 1_048_576
#: How an upload route describes its body in the API docs.
OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}
_CHUNK = 1_048_576


def write_bundle(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> IO[bytes]:
    """A tar archive of ``manifest`` and ``files``, as a file at its start.

    Example:
        >>> write_bundle({}, {}).read(100)[:13]
        b'manifest.json'
    """
    out: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the caller
        max_size=SPOOL_BYTES
    )
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in {MANIFEST: _json(manifest), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    out.seek(0)
    return out


def chunks(source: IO[bytes] | bytes, size: int = _CHUNK) -> Iterator[bytes]:
    """``source`` in pieces of ``size`` bytes, to stream a body."""
    if isinstance(source, bytes):
        view = memoryview(source)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    while piece := source.read(size):
        yield piece


def read_bundle(
    body: IO[bytes], allowed: set[str]
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the files of an uploaded tar archive.

    Only regular files are read (no links, no directories), each at most
    once, and only the names in ``allowed``; nothing is extracted to disk.

    Raises:
        InvalidInput: The body is no tar archive, has no JSON object as its
            manifest, or holds a member that is not allowed (field ``body``).
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=body, mode="r:") as tar:
            for member in tar:
                name = member.name
                if name != MANIFEST and name not in allowed:
                    raise InvalidInput(
                        f"the upload holds {name!r}; expected {MANIFEST} and "
                        f"any of {sorted(allowed)}",
                        field="body",
                    )
                if not member.isfile() or name in files:
                    raise InvalidInput(
                        f"the upload's {name!r} is not one regular file",
                        field="body",
                    )
                handle = tar.extractfile(member)
                files[name] = handle.read() if handle is not None else b""
    except tarfile.TarError as exc:
        raise InvalidInput(
            f"the body must be a tar archive ({MEDIA_TYPE}) holding {MANIFEST} "
            f"and the files; it could not be read: {exc}",
            field="body",
        ) from exc
    raw = files.pop(MANIFEST, None)
    try:
        manifest = json.loads(raw) if raw is not None else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict):
        raise InvalidInput(f"the upload needs {MANIFEST}, a JSON object", field="body")
    return manifest, files


def _json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()
