"""Content-addressed artifact store on fsspec (``file://`` paths, ``s3://``).

Artifacts are named by the sha256 of their bytes. Writing the same bytes
twice stores them once; reading checks the bytes against their name and
refuses a mismatch, so a tampered or truncated artifact is never loaded.

A store that cannot be reached (an S3 server down, a refused credential, a
full disk) raises :class:`~mlsteward.errors.Unavailable` naming the store, so
a caller says what is wrong without a traceback; callers write the artifact
before they record anything that points at it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from mlsteward.errors import IntegrityError, InvalidInput, NotFound, Unavailable

__all__ = ["ArtifactRef", "ArtifactStore", "sha256_hex"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _io_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable store raises: OS errors (s3fs turns refusals into
    them) and the AWS SDK's own connection errors, when it is installed."""
    errors: list[type[BaseException]] = [OSError]
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:
        pass
    else:
        errors.append(BotoCoreError)
    return tuple(errors)


@dataclass(frozen=True)
class ArtifactRef:
    sha256: str
    size: int


class ArtifactStore:
    """Stores and fetches bytes by their sha256.

    Args:
        uri: A local folder or any fsspec URI (``s3://bucket/prefix`` needs
            s3fs).
        storage_options: Passed to fsspec (credentials, endpoint URL, ...).

    Example:
        >>> store = ArtifactStore("/tmp/ms-artifacts")  # doctest: +SKIP
        >>> ref = store.put(b"hello")  # doctest: +SKIP
        >>> store.get(ref.sha256)  # doctest: +SKIP
        b'hello'
    """

    def __init__(self, uri: str, **storage_options: Any) -> None:
        self.uri = uri
        self.storage_options = storage_options
        self._fs: Any = None
        self._root: str | None = None

    def _resolve(self) -> tuple[Any, str]:
        if self._fs is None:
            import fsspec

            try:
                fs, root = fsspec.core.url_to_fs(self.uri, **self.storage_options)
            except ImportError as exc:  # s3://, gs://, ... without their package
                raise InvalidInput(
                    f"the artifact store {self.uri} needs a package that is not "
                    f"installed ({exc}); for s3:// install 'mlsteward[s3]'",
                    field="artifacts_uri",
                ) from exc
            self._fs, self._root = fs, root.rstrip("/")
        assert self._root is not None
        return self._fs, self._root

    @contextmanager
    def _reaching(self, doing: str) -> Iterator[None]:
        """Turn the store being out into :class:`Unavailable`, naming it."""
        try:
            yield
        except FileNotFoundError:
            raise
        except Exception as exc:
            if not isinstance(exc, _io_errors()):
                raise
            raise Unavailable(
                f"the artifact store {self.uri} could not be reached while "
                f"{doing} ({type(exc).__name__}: {exc}); try again when it is back",
                field="artifacts_uri",
                retry_after=10,
            ) from exc

    def path_for(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput(
                f"artifact id {sha256!r} is not a sha256 hex digest "
                "(64 lower-case hex characters)",
                field="sha256",
            )
        _, root = self._resolve()
        return f"{root}/sha256/{sha256[:2]}/{sha256}"

    def put(self, data: bytes) -> ArtifactRef:
        """Store ``data`` under its sha256; a second put of the same bytes is free."""
        fs, _ = self._resolve()
        digest = sha256_hex(data)
        path = self.path_for(digest)
        with self._reaching(f"writing artifact {digest}"):
            if not fs.exists(path):
                fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                tmp = f"{path}.tmp-{uuid.uuid4().hex}"
                fs.pipe_file(tmp, data)
                try:
                    fs.mv(tmp, path)  # atomic rename on local disks
                except FileExistsError:
                    fs.rm(tmp)
        return ArtifactRef(digest, len(data))

    def exists(self, sha256: str) -> bool:
        fs, _ = self._resolve()
        path = self.path_for(sha256)
        with self._reaching(f"looking for artifact {sha256}"):
            return bool(fs.exists(path))

    def get(self, sha256: str) -> bytes:
        """Fetch the bytes named ``sha256``, verifying them first.

        Raises:
            NotFound: nothing is stored under that name.
            IntegrityError: the stored bytes do not hash to their name.
            Unavailable: the store cannot be reached.
        """
        fs, _ = self._resolve()
        path = self.path_for(sha256)
        try:
            with self._reaching(f"reading artifact {sha256}"):
                data: bytes = fs.cat_file(path)
        except FileNotFoundError as exc:
            raise NotFound(
                f"artifact {sha256} is missing from {self.uri}", field="sha256"
            ) from exc
        actual = sha256_hex(data)
        if actual != sha256:
            raise IntegrityError(
                f"artifact {sha256} at {path} is corrupt or tampered with: its "
                f"bytes hash to {actual}; refusing to load it",
                field="sha256",
                expected=sha256,
                actual=actual,
            )
        return data

    def probe(self) -> None:
        """Write, read back, check and delete a small object under ``_probe/``.

        ``mlsteward doctor`` asks this; the object never lands among the
        artifacts (``sha256/``), and it is removed whether or not it read back.

        Raises:
            OSError: the store cannot be written, read or cleaned up.
            IntegrityError: the bytes read back differ from those written.
        """
        fs, root = self._resolve()
        data = f"mlsteward probe {uuid.uuid4().hex}".encode()
        folder = f"{root}/_probe"
        path = f"{folder}/{uuid.uuid4().hex}"
        fs.makedirs(folder, exist_ok=True)
        fs.pipe_file(path, data)
        try:
            back: bytes = fs.cat_file(path)
        finally:
            fs.rm(path)
        if sha256_hex(back) != sha256_hex(data):
            raise IntegrityError(
                f"the artifact store at {self.uri} gave back other bytes than "
                "were written to it",
                field="artifacts_uri",
            )
