"""The dashboard at ``/ui/`` in a real headless Chromium, against the real server under gunicorn.

The webhook is started with ``webhook.serve.serve`` in its own process (plain
HTTP on 127.0.0.1, a tokens file, a SQLite store), verdicts are recorded
through ``POST /api/v1/verdicts``, and Debian's ``chromium`` is driven through
``chromedriver`` by Selenium. The page is checked as a user sees it: it loads,
filters, pages, opens a verdict with each check's reason and the findings that
failed, draws the chart with the recorded counts, shows API values as text
only, and shows an error state and no data when the API refuses the token.
The exceptions panel is checked against the real exception API of the app
served by werkzeug in a thread on 127.0.0.1, with exceptions put in its store
directly (an expired one cannot be made through the API).

Chromium and chromedriver come from ``scripts/install-system-deps.sh`` (CI
runs it); when they are missing the tests fail and say so. A screenshot of
each state goes to ``$GATE_TEST_ARTIFACTS`` or the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from werkzeug.serving import make_server

from gate.policy.exceptions import parse_new_exception
from tests.integration.gate_cli import write_policy
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.tokens import TokenSet

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SETUP_HINT = (
    "run scripts/install-system-deps.sh (Debian packages chromium and chromium-driver) "
    "and install the test extra (pip install -e '.[test]', which brings selenium)"
)
#: The flags the tests run Chromium with: headless, no sandbox (CI runs as root),
#: and nothing that reaches the network on its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1400",
)
WAIT = 30.0

READER = "dashboard-reader-0123456789abcdef"
WRITER = "dashboard-writer-0123456789abcdef"
WRONG = "not-a-token-this-server-knows-0123"

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: dashboard}
spec:
  defaultAction: deny
  rules:
    - name: nothing
      match: {images: ["**"]}
      action: deny
"""

TOKENS = f"""\
tokens:
  - name: dashboard
    token: "{READER}"
    scopes: [read]
  - name: ci
    token: "{WRITER}"
    scopes: [write]
"""

_SERVE = """\
import sys
from pathlib import Path
from webhook.serve import serve
from webhook.settings import Settings

policy, db, tokens, port = sys.argv[1:]
settings = Settings(
    policy=Path(policy), db_url=f"sqlite:///{db}", tokens_file=Path(tokens),
    policy_reload_interval=0,
)
sys.exit(serve(settings, port=int(port), workers=1, threads=4))
"""

DIGEST_PAY_API = "sha256:" + "a1" * 32
DIGEST_PAY_WORKER = "sha256:" + "b2" * 32
XSS_REFERENCE = 'registry.example/shop/<img src=x onerror="window.__pwned=1">:1'
XSS_REASON = "<script>window.__pwned=2</script> denied"


# -- the server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Served:
    """The running server's base URL and what was recorded in it."""

    url: str
    seeded: dict[str, int]  # decision -> how many verdicts were recorded


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``gate serve`` (gunicorn, one worker) on plain HTTP, with verdicts recorded via the API."""
    directory = tmp_path_factory.mktemp("dashboard")
    policy = write_policy(directory, POLICY)
    tokens = directory / "tokens.yaml"
    tokens.write_text(TOKENS, encoding="utf-8")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE,
            str(policy),
            str(directory / "gate.db"),
            str(tokens),
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(directory / "home")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        seeded = _seed(url, datetime.now(UTC))
        yield Served(url, seeded)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            _, err = process.communicate(timeout=10)
            pytest.fail(f"gate serve exited with {process.returncode}:\n{err}")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail("gate serve did not become ready within 30 s")


def _image(
    reference: str, decision: str, *, digest: str | None = None, **fields: Any
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reference": reference,
        "digest": digest or "sha256:" + "cc" * 32,
        "decision": decision,
        "rule": "nothing",
        "reason": f"{decision} by the dashboard test",
        "mode": "enforce",
        "checks": [
            {
                "check": "signatures",
                "outcome": "pass",
                "reason": "signed by release-key",
                "details": {"signers": ["release-key"]},
            }
        ],
    }
    base.update(fields)
    return base


def _vulnerabilities(*ids: str) -> dict[str, Any]:
    return {
        "check": "vulnerabilities",
        "outcome": "fail",
        "reason": f"{len(ids)} findings break the limits: " + ", ".join(ids),
        "details": {
            "findings": len(ids) + 3,
            "violations": [
                {
                    "id": finding,
                    "package": "openssl",
                    "version": "3.0.1",
                    "severity": "CRITICAL",
                    "fixedVersions": ["3.0.2"],
                    "limits": ["severity CRITICAL >= denySeverity CRITICAL"],
                }
                for finding in ids
            ],
            "violationsTotal": len(ids),
        },
    }


def _report(evaluated: datetime, namespace: str, *images: dict[str, Any]) -> dict[str, Any]:
    order = ["allow", "warn", "deny"]
    return {
        "decision": order[max(order.index(i["decision"]) for i in images)],
        "policy": "dashboard",
        "evaluatedAt": evaluated.isoformat(),
        "images": [{**image, "namespace": namespace} for image in images],
    }


def _seed(url: str, now: datetime) -> dict[str, int]:
    signed = {
        "check": "signatures",
        "outcome": "pass",
        "reason": "signed by release-key",
        "details": {"signers": ["release-key"]},
    }
    reports = [
        _report(
            now - timedelta(hours=20),
            "paging",
            *(_image(f"registry.example/paging/app-{i:02d}:1", "allow") for i in range(27)),
        ),
        _report(
            now - timedelta(hours=5),
            "shop",
            _image("registry.example/shop/front:1", "allow"),
            _image("registry.example/shop/cart:1", "warn"),
        ),
        _report(
            now - timedelta(hours=2),
            "payments",
            _image(
                "registry.example/payments/pay-api:2",
                "deny",
                digest=DIGEST_PAY_API,
                reason="2 findings break the limits",
                checks=[signed, _vulnerabilities("CVE-2024-1111", "CVE-2024-2222")],
            ),
            _image(
                "registry.example/payments/pay-worker:2",
                "deny",
                digest=DIGEST_PAY_WORKER,
                checks=[signed, _vulnerabilities("CVE-2024-1111")],
            ),
        ),
        _report(
            now - timedelta(minutes=10),
            "shop",
            _image(
                XSS_REFERENCE,
                "deny",
                reason=XSS_REASON,
                checks=[
                    {
                        "check": "signatures",
                        "outcome": "fail",
                        "reason": "<b>no</b> signature from <i>release-key</i>",
                        "details": {"note": "<script>window.__pwned=3</script>"},
                    }
                ],
            ),
        ),
    ]
    seeded = {"allow": 0, "warn": 0, "deny": 0}
    for report in reports:
        response = requests.post(
            f"{url}/api/v1/verdicts",
            data=json.dumps(report),
            headers={"Authorization": f"Bearer {WRITER}", "Content-Type": "application/json"},
            timeout=15,
        )
        assert response.status_code == 201, response.text
        for image in report["images"]:
            seeded[image["decision"]] += 1
    return seeded


# -- the browser --------------------------------------------------------------------------


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$GATE_TEST_ARTIFACTS`` (CI keeps it) or the test's tmp dir."""
    configured = os.environ.get("GATE_TEST_ARTIFACTS")
    directory = Path(configured) if configured else tmp_path / "artifacts"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile in tmp) driven by chromedriver."""
    try:
        from selenium import webdriver  # noqa: PLC0415 - a clear failure when it is missing
        from selenium.webdriver.chrome.service import Service  # noqa: PLC0415
    except ImportError:
        pytest.fail(f"selenium is not installed: {SETUP_HINT}", pytrace=False)
    for program in (CHROMIUM, CHROMEDRIVER):
        if not (program.is_file() and os.access(program, os.X_OK)):
            pytest.fail(f"{program} is missing: {SETUP_HINT}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver path: Selenium Manager (which downloads drivers) is never run.
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_T = TypeVar("_T")


def _until(driver: Any, condition: Callable[[Any], _T | None], what: str) -> _T:
    """What ``condition`` returns once it is truthy (polled, up to ``WAIT`` seconds)."""
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    result = WebDriverWait(driver, WAIT, poll_frequency=0.1).until(
        condition, message=f"the page did not show {what} within {WAIT:g} s"
    )
    assert result is not None
    return result


def _by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    found: list[Any] = driver.find_elements(By.CSS_SELECTOR, selector)
    return found


def _one(driver: Any, selector: str) -> Any:
    found = _by_css(driver, selector)
    assert len(found) == 1, f"{selector}: {len(found)} elements"
    return found[0]


def _rows(driver: Any) -> list[Any]:
    return _by_css(driver, "#verdicts tbody tr.verdict")


def _settled(driver: Any, selector: str) -> bool:
    """The status line of a panel says it is done loading."""
    status: str = _one(driver, selector).text
    return "Loading" not in status


def _wait_verdicts(driver: Any, count: int) -> list[Any]:
    def loaded(d: Any) -> tuple[list[Any]] | None:
        rows = _rows(d)
        # A one-tuple, so that "no rows" is a truthy answer too.
        return (rows,) if _settled(d, "#verdicts-status") and len(rows) == count else None

    return _until(driver, loaded, f"{count} verdict rows")[0]


def _sign_in(driver: Any, url: str, token: str) -> None:
    driver.get(f"{url}/ui")
    _until(driver, lambda d: _one(d, "#login").is_displayed(), "the token form")
    _one(driver, "#token").send_keys(token)
    _one(driver, "#token-submit").click()


def _filter(driver: Any, **values: str) -> None:
    """Set the filter fields (others cleared) and apply them."""
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415

    _one(driver, "#f-reset").click()
    for name, value in values.items():
        field = _one(driver, f"#f-{name}")
        if name == "decision":
            Select(field).select_by_value(value)
        elif name in ("since", "until"):
            # datetime-local takes keys in the locale's order; the value is set directly.
            driver.execute_script("arguments[0].value = arguments[1]", field, value)
        else:
            field.send_keys(value)
    _one(driver, "#f-apply").click()


def _screenshot(driver: Any, artifacts: Path, name: str) -> None:
    driver.save_screenshot(str(artifacts / f"dashboard-{name}.png"))


def _no_injected_markup(driver: Any) -> None:
    assert driver.execute_script("return window.__pwned === undefined") is True
    assert driver.execute_script("return document.images.length") == 0
    assert driver.execute_script("return document.scripts.length") == 1


# -- the tests ------------------------------------------------------------------------------


def test_the_dashboard_shows_filters_pages_and_opens_verdicts(
    served: Served, browser: Any, artifacts: Path
) -> None:
    driver = browser
    total = sum(served.seeded.values())
    _sign_in(driver, served.url, READER)
    rows = _wait_verdicts(driver, 25)  # one page: the newest 25 of them
    assert rows[0].find_element("css selector", ".reference").text == XSS_REFERENCE
    assert rows[0].get_attribute("data-decision") == "deny"
    assert _one(driver, "#older").is_enabled()
    assert not _one(driver, "#newer").is_enabled()

    # The chart: one bar per non-empty (hour, decision), counts adding up to what was recorded.
    def bars(d: Any) -> list[Any] | None:
        found = _by_css(d, "#decisions-chart rect.bar")
        return found if _settled(d, "#chart-status") and found else None

    drawn = _until(driver, bars, "the decisions chart")
    counted = {"allow": 0, "warn": 0, "deny": 0}
    for bar in drawn:
        counted[bar.get_attribute("data-decision")] += int(bar.get_attribute("data-count"))
        assert float(bar.get_attribute("height")) > 0
    assert counted == served.seeded
    # The last 24 hours: 25 buckets unless "now" falls exactly on the hour.
    assert _one(driver, "#decisions-chart").get_attribute("data-buckets") in ("24", "25")
    legend = {
        item.get_attribute("data-decision"): int(item.get_attribute("data-total"))
        for item in _by_css(driver, "#chart-legend .legend-item")
    }
    assert legend == served.seeded
    assert sum(legend.values()) == total

    # Most denied images and findings (the three denials).
    _until(driver, lambda d: _settled(d, "#top-findings-status"), "the top findings")
    findings = [
        (row.find_element("css selector", ".key").text, row.get_attribute("data-count"))
        for row in _by_css(driver, "#top-findings tbody tr")
    ]
    assert findings == [("CVE-2024-1111", "2"), ("CVE-2024-2222", "1")]
    _until(driver, lambda d: _settled(d, "#top-images-status"), "the top images")
    images = {
        row.find_element("css selector", ".key").text
        for row in _by_css(driver, "#top-images tbody tr")
    }
    assert images == {
        "registry.example/payments/pay-api:2",
        "registry.example/payments/pay-worker:2",
        XSS_REFERENCE,
    }

    # No exception is stored on this server: the panel says so.
    _until(driver, lambda d: _settled(d, "#exceptions-status"), "the exceptions panel")
    assert _one(driver, "#exceptions-status").text == "0 active, 0 expired or revoked."
    _screenshot(driver, artifacts, "overview")

    # Paging through the 32 verdicts: 25, then the rest, then back.
    _one(driver, "#older").click()
    _wait_verdicts(driver, total - 25)
    assert not _one(driver, "#older").is_enabled()
    _one(driver, "#newer").click()
    _wait_verdicts(driver, 25)

    # Filters: namespace, decision, a part of the reference, a digest, a time range.
    _filter(driver, namespace="payments")
    rows = _wait_verdicts(driver, 2)
    assert {row.find_element("css selector", ".namespace").text for row in rows} == {"payments"}
    _filter(driver, namespace="shop", decision="deny")
    (row,) = _wait_verdicts(driver, 1)
    assert row.find_element("css selector", ".reference").text == XSS_REFERENCE
    _filter(driver, decision="warn")
    (row,) = _wait_verdicts(driver, 1)
    assert row.find_element("css selector", ".reference").text == "registry.example/shop/cart:1"
    _filter(driver, image="pay-")
    _wait_verdicts(driver, 2)
    _filter(driver, image=DIGEST_PAY_WORKER)
    (row,) = _wait_verdicts(driver, 1)
    assert row.find_element("css selector", ".reference").text.endswith("pay-worker:2")
    since = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    _filter(driver, since=since)
    _wait_verdicts(driver, 3)  # the two payments denials and the newest shop one
    _filter(driver, namespace="paging")
    _wait_verdicts(driver, 25)
    _filter(driver, namespace="nowhere")
    _wait_verdicts(driver, 0)
    assert "No verdicts match" in _one(driver, "#verdicts-status").text

    # A verdict's detail: every check with its reason, and the findings that failed.
    _filter(driver, namespace="payments", image="pay-api")
    (row,) = _wait_verdicts(driver, 1)
    row.find_element("css selector", "button.link").click()
    checks = _until(
        driver,
        lambda d: _by_css(d, "#detail-checks tbody tr.check") or None,
        "the verdict's checks",
    )
    shown = [[cell.text for cell in check.find_elements("css selector", "td")] for check in checks]
    assert shown == [
        ["signatures", "pass", "signed by release-key"],
        [
            "vulnerabilities",
            "fail",
            "2 findings break the limits: CVE-2024-1111, CVE-2024-2222",
        ],
    ]
    violations = [
        v.find_element("css selector", "td").text
        for v in _by_css(driver, "table.violations tr.violation")
    ]
    assert violations == ["CVE-2024-1111", "CVE-2024-2222"]
    assert _one(driver, "dd[data-field='digest']").text == DIGEST_PAY_API
    assert _one(driver, "dd[data-field='reason']").text == "2 findings break the limits"
    _screenshot(driver, artifacts, "verdict")


def test_values_from_the_api_are_shown_as_text(served: Served, browser: Any) -> None:
    driver = browser
    _sign_in(driver, served.url, READER)
    _wait_verdicts(driver, 25)
    _filter(driver, namespace="shop", decision="deny")
    (row,) = _wait_verdicts(driver, 1)
    assert row.find_element("css selector", ".reference").text == XSS_REFERENCE
    assert row.find_element("css selector", ".reason").text == XSS_REASON
    row.find_element("css selector", "button.link").click()
    (check,) = _until(
        driver, lambda d: _by_css(d, "#detail-checks tbody tr.check") or None, "checks"
    )
    assert "<b>no</b> signature from <i>release-key</i>" in check.text
    assert _by_css(driver, "#detail b, #detail i, #verdicts b") == []
    _no_injected_markup(driver)


def test_a_refused_token_shows_an_error_and_no_data(
    served: Served, browser: Any, artifacts: Path
) -> None:
    driver = browser
    _sign_in(driver, served.url, WRONG)
    error = _until(
        driver,
        lambda d: _one(d, "#error") if _one(d, "#error").is_displayed() else None,
        "the refused-token error",
    )
    assert "the API refused the token (401)" in error.text
    assert "invalid or unknown bearer token" in error.text
    assert not _one(driver, "#dashboard").is_displayed()
    assert _rows(driver) == []
    assert _by_css(driver, "#decisions-chart") == []
    assert _by_css(driver, "#top-images tbody tr, #top-findings tbody tr") == []
    assert _one(driver, "#login").is_displayed()
    # The refused token is not kept: a reload asks again instead of retrying it.
    assert driver.execute_script("return window.sessionStorage.length") == 0
    _screenshot(driver, artifacts, "refused")

    # A good token afterwards opens the dashboard.
    _one(driver, "#token").send_keys(READER)
    _one(driver, "#token-submit").click()
    _wait_verdicts(driver, 25)
    assert not _one(driver, "#error").is_displayed()


def test_the_token_lasts_for_the_tab_and_can_be_forgotten(served: Served, browser: Any) -> None:
    driver = browser
    _sign_in(driver, served.url, READER)
    _wait_verdicts(driver, 25)
    driver.refresh()
    _wait_verdicts(driver, 25)  # no new prompt: sessionStorage kept it for this tab
    _one(driver, "#forget").click()
    _until(driver, lambda d: _one(d, "#login").is_displayed(), "the token form")
    assert _rows(driver) == []
    assert driver.execute_script("return window.sessionStorage.length") == 0


# -- the exceptions panel, against the real exception API ---------------------------------


def _seed_exceptions(store: Any, now: datetime) -> dict[str, str]:
    """Four stored exceptions (active, expiring, expired, revoked); name -> stored id."""
    wanted = {
        "later": {
            "findingId": "CVE-2024-1111",
            "images": ["registry.example/payments/**"],
            "namespaces": ["payments"],
            "owner": "alice",
            "ticket": "SEC-1",
            "reason": "<b>fix pending</b> upstream",
            "expires": (now + timedelta(days=60)).isoformat(),
        },
        "soon": {
            "purl": "pkg:deb/debian/openssl@3.0.1",
            "owner": "bob",
            "ticket": "SEC-2",
            "reason": "rebuild scheduled",
            "expires": (now + timedelta(days=2)).isoformat(),
        },
        "expired": {
            "findingId": "CVE-1",
            "owner": "carol",
            "ticket": "SEC-3",
            "reason": "old",
            "expires": (now - timedelta(days=1)).isoformat(),
        },
        "revoked": {
            "findingId": "CVE-2",
            "owner": "dan",
            "ticket": "SEC-4",
            "reason": "gone",
            "expires": (now + timedelta(days=10)).isoformat(),
        },
    }
    ids: dict[str, str] = {}
    for name, body in wanted.items():
        new = parse_new_exception(body, now=now, check_expiry=False)
        ids[name] = store.add_exception(new, created=now, created_by="seed").id
    store.revoke_exception(ids["revoked"], at=now, by="seed")
    return ids


@pytest.fixture
def app_with_exceptions(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The webhook app with four stored exceptions, served by werkzeug in a thread on
    127.0.0.1; its URL and the exceptions' ids."""
    policy = write_policy(tmp_path, POLICY)
    tokens = TokenSet.of({"dashboard": (READER, ["read"])})
    app = create_app(
        Settings(policy=policy, db_url="sqlite://", policy_reload_interval=0), tokens=tokens
    )
    ids = _seed_exceptions(state_of(app).store, datetime.now(UTC))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}", ids
    finally:
        server.shutdown()
        thread.join(timeout=30)
        state_of(app).close()


def test_the_exceptions_panel_lists_active_and_expiring_ones(
    app_with_exceptions: tuple[str, dict[str, str]], browser: Any, artifacts: Path
) -> None:
    driver = browser
    url, ids = app_with_exceptions
    _sign_in(driver, url, READER)
    _until(driver, lambda d: _settled(d, "#exceptions-status"), "the exceptions panel")
    assert _one(driver, "#exceptions-panel").get_attribute("data-state") == "present"
    assert _one(driver, "#exceptions-status").text == "2 active, 2 expired or revoked."
    rows = _by_css(driver, "#exceptions-table tbody tr.exception")
    assert [row.get_attribute("data-id") for row in rows] == [ids["soon"], ids["later"]]
    soon, later = ([c.text for c in row.find_elements("css selector", "td")] for row in rows)
    assert "expiring" in (rows[0].get_attribute("class") or "")
    assert soon[0] == "pkg:deb/debian/openssl@3.0.1"
    assert soon[1] == "everywhere"
    assert soon[3].endswith("expires soon")
    assert "expiring" not in (rows[1].get_attribute("class") or "")
    assert later[:3] == [
        "CVE-2024-1111",
        "registry.example/payments/** in payments",
        "alice (SEC-1)",
    ]
    assert later[4] == "<b>fix pending</b> upstream"
    _no_injected_markup(driver)
    _screenshot(driver, artifacts, "exceptions")
