"""The dashboard as a person uses it: Debian's chromium against a real
``mlsteward server`` on loopback, over the demo's history.

One server and one demo-like store for the module: the demo's months,
retrainings and alerts, a deployment serving the champion, a viewer, and a
challenger dana put up for approval. Screenshots of every page go to the
test's output folder (``MLSTEWARD_SCREENSHOTS`` names another, e.g.
``docs/screenshots``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import require_or_skip
from tests.serving.servers import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo's store, a viewer, a pending challenger and a real server."""
    from mlsteward.datasets import load_german_credit
    from mlsteward.demo import run_demo, token_path
    from mlsteward.identity.service import IdentityService
    from mlsteward.identity.specs import CreateToken, CreateUser
    from mlsteward.sdk import Client

    home = tmp_path_factory.mktemp("dash") / "home"
    client = Client(home=str(home))
    run_demo(client)
    tokens = {
        p.name: p.read_text().strip() for p in token_path(client).parent.glob("*")
    }
    admin = Client(home=str(home), token=tokens["admin"])
    ids = IdentityService(admin.ctx)
    ids.create_user(CreateUser(name="vera", role="viewer"))
    tokens["vera"] = ids.create_token(CreateToken(user="vera")).secret
    # dana puts a refitted champion up for approval
    dana = Client(home=str(home), token=tokens["dana"])
    champion = dana.get_model_version("credit-risk@champion")
    loaded = dana.models.load(champion.ref)
    features = champion.signature.feature_names
    challenger = dana.register_model(
        "credit-risk",
        loaded.model,
        load_german_credit()[features].head(50),
        parent_version=champion.version,
        description="a refitted challenger awaiting approval",
    )
    request = dana.approvals.request(ref=challenger.ref, comment="please review")
    client.close()
    server = Server(home, ["server"], MLSTEWARD_AUTH_REQUIRED="true").start()
    shots = Path(os.environ.get("MLSTEWARD_SCREENSHOTS") or home.parent / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        yield {
            "url": server.url,
            "tokens": tokens,
            "champion": champion.ref,
            "challenger": challenger.ref,
            "request": request.id,
            "shots": shots,
            "server": server,
        }
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        require_or_skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


def _sign_in(browser: Any, world: dict[str, Any], who: str) -> Any:
    """A fresh browser context signed in as ``who``; returns its page."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(world["url"] + "/")
    assert "/ui/sign-in" in page.url
    page.fill("#token", world["tokens"][who])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/$"))
    assert who in page.inner_text("[data-testid=who]")
    return page


def _shot(page: Any, world: dict[str, Any], name: str) -> None:
    page.screenshot(path=str(world["shots"] / f"{name}.png"), full_page=False)


def test_sign_in_refuses_a_wrong_token_and_a_form_without_csrf(world) -> None:
    url = world["url"]
    with httpx.Client(base_url=url, follow_redirects=False) as http:
        assert http.get("/").headers["location"] == "/ui/"
        answer = http.get("/ui/")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/sign-in")
        form = http.get("/ui/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        wrong = http.post(
            "/ui/sign-in", data={"csrf": csrf.group(1), "token": "msw_nope_nope"}
        )
        assert wrong.status_code == 401 and "not valid" in wrong.text
        assert "mlsteward_session" not in wrong.headers.get("set-cookie", "")
        forged = http.post(
            "/ui/sign-in", data={"csrf": "forged", "token": world["tokens"]["vera"]}
        )
        assert forged.status_code == 403
        assert "mlsteward_session" not in forged.headers.get("set-cookie", "")
        good = http.post(
            "/ui/sign-in",
            data={"csrf": csrf.group(1), "token": world["tokens"]["vera"]},
        )
        assert good.status_code == 303
        cookie = good.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        # The page reads the session; the API still wants a bearer token.
        page = http.get("/ui/")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "https://" not in page.text
        assert http.get("/api/v1/deployments").status_code == 401
        # Every asset is served by mlsteward itself, and nothing beside them.
        assert http.get("/ui/chartjs/chart.umd.min.js").status_code == 200
        assert "Chart" in http.get("/ui/static/charts.js").text
        assert http.get("/ui/static/..%2Fsession.py").status_code == 404


def test_a_viewer_sees_the_request_but_may_not_decide_it(browser, world) -> None:
    page = _sign_in(browser, world, "vera")
    page.goto(f"{world['url']}/ui/approvals/{world['request']}")
    assert page.inner_text("[data-testid=status]") == "pending"
    assert page.locator("button[name=decision]").count() == 0
    assert "Waiting for an approver" in page.inner_text("[data-testid=no-decide]")
    csrf = page.get_attribute("form[action='/ui/sign-out'] input[name=csrf]", "value")
    # A crafted request with a valid session and CSRF token: the service
    # refuses the viewer, and the page says so with a 403, not a 500.
    answer = page.request.post(
        f"{world['url']}/ui/approvals/{world['request']}",
        form={"csrf": csrf or "", "decision": "approve", "comment": "me"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "approver" in answer.text()
    page.goto(f"{world['url']}/ui/")
    row = page.locator("tr[data-deployment=credit-risk] [data-testid=champion]")
    assert world["champion"] in row.inner_text()
    page.context.close()


def test_the_requester_may_not_approve_her_own_request(browser, world) -> None:
    page = _sign_in(browser, world, "dana")
    page.goto(f"{world['url']}/ui/approvals/{world['request']}")
    assert "another approver decides" in page.inner_text("[data-testid=no-decide]")
    page.context.close()


def test_an_approver_approves_and_the_traffic_moves(browser, world) -> None:
    page = _sign_in(browser, world, "alex")
    row = page.locator("tr[data-deployment=credit-risk] [data-testid=champion]")
    assert world["champion"] in row.inner_text()
    _shot(page, world, "overview")
    page.click("text=Approvals")
    page.click(f"tr[data-request='{world['request']}'] a")
    _shot(page, world, "approval")
    page.fill("#comment", "refit holds on the holdout")
    page.click("button[value=approve]")
    page.wait_for_url(re.compile(rf".*/ui/approvals/{world['request']}$"))
    assert page.inner_text("[data-testid=status]") == "approved"
    page.goto(f"{world['url']}/ui/")
    assert world["challenger"] in row.inner_text()
    assert "serving" in page.locator("tr[data-deployment=credit-risk]").inner_text()
    page.go_back()
    assert page.inner_text("[data-testid=status]") == "approved"
    page.context.close()


def test_sign_out_ends_the_session(browser, world) -> None:
    page = _sign_in(browser, world, "vera")
    cookies = page.context.cookies()
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/ui/sign-in$"))
    # The old cookie, replayed, no longer opens a page.
    with httpx.Client(base_url=world["url"], follow_redirects=False) as http:
        for c in cookies:
            http.cookies.set(c["name"], c["value"], path="/ui")
        assert http.get("/ui/").status_code == 303
    page.context.close()


def test_a_drift_alert_leads_to_its_chart(browser, world) -> None:
    page = _sign_in(browser, world, "vera")
    alert = page.locator("ul.alerts a", has_text=re.compile(r"· drift\.psi on ")).first
    feature = alert.inner_text().split(" on ")[-1].strip()
    alert.click()
    page.wait_for_url(re.compile(r".*/ui/monitoring\?.*feature=.*"))
    assert page.locator("select[name=feature] option[selected]").inner_text() == feature
    assert f"PSI of {feature}" in page.inner_text("#feature figcaption")
    page.wait_for_function("document.documentElement.dataset.charts === '5'")
    assert page.locator("#distribution canvas").is_visible()
    _shot(page, world, "monitoring")
    # The choice lives in the URL: another window, then back.
    first = page.url
    page.select_option("select[name=window]", index=0)
    page.wait_for_url(lambda u: u != first)
    assert "window=" in page.url
    page.go_back()
    assert page.url == first
    page.context.close()


PAGES = {
    "overview": "/ui/",
    "models": "/ui/models",
    "model": "/ui/models/credit-risk",
    "monitoring": "/ui/monitoring?deployment=credit-risk",
    "runs": "/ui/runs",
    "approvals": "/ui/approvals?status=all",
    "audit": "/ui/audit?verify=true",
    "jobs": "/ui/jobs",
}


@pytest.mark.parametrize("who", ["vera", "dana", "alex", "admin"])
def test_every_role_opens_every_page(browser, world, who) -> None:
    page = _sign_in(browser, world, who)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    for name, path in PAGES.items():
        answer = page.goto(world["url"] + path)
        assert answer is not None and answer.status == 200, name
        assert page.locator("h1").count() == 1, name
        assert page.locator("nav a[aria-current=page]").count() == 1, name
        if who == "alex":
            _shot(page, world, name)
    assert problems == []
    # Keyboard: the first Tab reaches the skip link, the next the navigation.
    page.goto(world["url"] + "/ui/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Overview"
    page.context.close()


def test_champion_and_challenger_side_by_side(browser, world) -> None:
    page = _sign_in(browser, world, "vera")
    page.click("text=Models")
    page.click("text=credit-risk")
    challenger = world["challenger"].split("/")[1]
    champion = world["champion"].split("/")[1]
    page.select_option("select[name=version]", value=challenger)
    page.wait_for_url(re.compile(rf".*version={challenger}.*"))
    page.select_option("select[name=compare]", value=champion)
    page.wait_for_url(re.compile(rf".*compare={champion}.*"))
    table = page.inner_text("[data-testid=comparison]")
    assert world["challenger"] in table and world["champion"] in table
    page.wait_for_function("Number(document.documentElement.dataset.charts) >= 4")
    for chart in ("#roc", "#ks", "#calibration", "#badrate"):
        assert page.locator(f"{chart} canvas").is_visible()
    _shot(page, world, "compare")
    page.click("[data-testid=report]")
    assert "credit-risk/" in page.title()
    # Styled by its own stylesheet, which the report's policy lets apply.
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in font
    page.context.close()


def test_runs_are_filtered_and_compared(browser, world) -> None:
    page = _sign_in(browser, world, "vera")
    page.goto(world["url"] + "/ui/runs?q=retrain")
    rows = page.locator("tr[data-run]")
    assert rows.count() >= 2
    assert all("retrain" in t for t in rows.all_inner_texts())
    rows.nth(0).locator("input[type=checkbox]").check()
    rows.nth(1).locator("input[type=checkbox]").check()
    page.click("text=Compare the checked runs")
    page.wait_for_url(re.compile(r".*compare=.*compare=.*"))
    assert "param trainer" in page.inner_text("[data-testid=run-comparison]")
    page.context.close()
