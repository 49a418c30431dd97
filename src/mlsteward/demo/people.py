"""The demo's people and its home: users acting through tokens kept in the
home, and the lock that keeps two demos from sharing one home at once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlsteward.context import Context
from mlsteward.errors import Conflict
from mlsteward.identity.service import IdentityService
from mlsteward.identity.specs import CreateToken, CreateUser

if TYPE_CHECKING:
    from mlsteward.sdk import Client

__all__ = [
    "ADMIN",
    "APPROVER",
    "DEVELOPER",
    "demo_lock",
    "ensure_users",
    "token_path",
]

#: The demo's people: an admin, a developer who asks, an approver who decides.
ADMIN, DEVELOPER, APPROVER = "admin", "dana", "alex"


def ensure_users(client: Client) -> dict[str, Context]:
    """The demo's people, each acting through a token of their own: an admin,
    a developer who asks (dana), an approver who decides (alex).

    The first run in a home bootstraps the admin, who creates the others and
    mints their tokens; the tokens are kept in ``<home>/tokens/<name>``,
    readable only by the owner, so a later run (and the reader of the README)
    acts as them. Returns a context per person, authenticated by token.
    """
    folder = client.ctx.settings.resolved_home() / "tokens"
    ids = IdentityService(client.ctx)
    existing = {u.name for u in ids.list_users()}
    tokens = (
        {p.name: p.read_text().strip() for p in folder.glob("*")}
        if (folder.is_dir())
        else {}
    )
    if not existing:
        ids.create_user(CreateUser(name=ADMIN, role="admin"), bootstrap=True)
        tokens = {ADMIN: ids.create_token(CreateToken(user=ADMIN)).secret}
        _keep_token(folder, ADMIN, tokens[ADMIN])
    if ADMIN not in tokens:
        raise Conflict(
            f"this home has users but the demo's tokens are gone from {folder}; "
            "run the demo in a fresh home (--home)",
            field="home",
        )
    admin = IdentityService(client.ctx.as_principal(ids.authenticate(tokens[ADMIN])))
    for name, role in ((DEVELOPER, "developer"), (APPROVER, "approver")):
        if name not in existing:
            admin.create_user(CreateUser.parse(name=name, role=role))
        if name not in tokens:
            tokens[name] = admin.create_token(CreateToken(user=name)).secret
            _keep_token(folder, name, tokens[name])
    return {
        name: client.ctx.as_principal(ids.authenticate(token))
        for name, token in tokens.items()
        if name in (ADMIN, DEVELOPER, APPROVER)
    }


def _keep_token(folder: Path, name: str, secret: str) -> None:
    """Write ``secret`` to ``folder/name``, readable by the owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")


def token_path(client: Client, name: str = DEVELOPER) -> Path:
    """Where the demo keeps ``name``'s token (the developer's by default)."""
    return client.ctx.settings.resolved_home() / "tokens" / name


@contextmanager
def demo_lock(home: Path) -> Iterator[None]:
    """Hold ``<home>/demo.lock`` for one demo run; a second run while it is
    held is refused at once, naming the process that holds it. The operating
    system drops the lock when the holder exits, even killed.

    Raises:
        Conflict: Another demo runs in this home.
    """
    home.mkdir(parents=True, exist_ok=True)
    path = home / "demo.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise Conflict(
                f"another mlsteward demo is running in {home} (process "
                f"{holder}); wait for it to end, or give another home (--home)",
                field="home",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def demo_deployments(home: Path) -> set[str]:
    """Deployments earlier demo runs in ``home`` created (``<home>/demo-
    deployments``, one name a line): the demo's own, which it may move."""
    listed = home / "demo-deployments"
    if not listed.exists():
        return set()
    return {n for n in listed.read_text(encoding="utf-8").split() if n}


def remember_deployment(home: Path, name: str) -> None:
    """Record that a demo run created deployment ``name`` in ``home``."""
    with (home / "demo-deployments").open("a", encoding="utf-8") as out:
        out.write(name + "\n")


def refuse_served_model(client: Client, model: str) -> None:
    """Refuse a home where a deployment the demo did not create serves its
    model: the demo promotes that model's champion, and every deployment of a
    model follows its champion, so it would move traffic it never set up.

    Raises:
        Conflict: naming the deployments, before the demo trains anything.
    """
    own = demo_deployments(client.ctx.settings.resolved_home())
    served = sorted(
        d.name
        for d in client.list_deployments()
        if d.model_name == model and d.name not in own
    )
    if served:
        raise Conflict(
            f"deployment(s) {', '.join(served)} serve model {model!r} in "
            f"this home, and the demo promotes {model}'s champion, which "
            "would move them; run the demo in another home (--home)",
            field="home",
            deployments=served,
        )
