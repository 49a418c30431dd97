"""The dashboard in process, without a browser: a store without auth, and
forms that lack their CSRF token."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from mlsteward.api.app import create_app
from mlsteward.config import Settings


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_without_auth_the_pages_open_and_forms_still_need_their_token(
    tmp_path: Path,
) -> None:
    settings = Settings(home=str(tmp_path / "home"), auth_required=False)
    with TestClient(create_app(settings), follow_redirects=False) as http:
        for path in ("/ui/", "/ui/models", "/ui/runs", "/ui/approvals", "/ui/jobs"):
            page = http.get(path)
            assert page.status_code == 200, path
            assert "Sign out" not in page.text  # nobody signed in to leave
        assert http.get("/ui/audit?verify=true").status_code == 200
        assert http.get("/ui/monitoring").status_code == 404  # no monitor yet
        refused = http.post(
            "/ui/approvals/abc", data={"csrf": "wrong", "decision": "approve"}
        )
        assert refused.status_code == 403 and "CSRF" in refused.text
        missing = http.post("/ui/approvals/abc", data={"decision": "approve"})
        assert missing.status_code == 403
        bad = http.get("/ui/audit?limit=0")
        assert bad.status_code == 400 and "limit" in bad.text


def test_a_signed_in_form_needs_the_session_token(tmp_path: Path) -> None:
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken, CreateUser
    from mlsteward.sdk import Client

    settings = Settings(home=str(tmp_path / "home"), auth_required=True)
    ids = IdentityService(Client(settings).ctx)
    ids.create_user(CreateUser(name="root", role="admin"), bootstrap=True)
    secret = ids.create_token(CreateToken(user="root")).secret
    with TestClient(create_app(settings), follow_redirects=False) as http:
        signin = http.get("/ui/sign-in")
        ok = http.post(
            "/ui/sign-in", data={"csrf": _csrf(signin.text), "token": secret}
        )
        assert ok.status_code == 303
        page = http.get("/ui/jobs")
        session_csrf = _csrf(page.text)
        # The double-submit token of the sign-in form is not the session's.
        assert session_csrf != _csrf(signin.text)
        stale = http.post("/ui/sign-out", data={"csrf": _csrf(signin.text)})
        assert stale.status_code == 403
        assert http.get("/ui/jobs").status_code == 200  # still signed in
        # Only a relative dashboard path is followed after sign-in.
        again = http.get("/ui/sign-in?next=https://elsewhere.example/")
        assert 'value="/ui/"' in again.text
        out = http.post("/ui/sign-out", data={"csrf": session_csrf})
        assert out.status_code == 303
        assert http.get("/ui/jobs").status_code == 303
