"""``/ui/``: the dashboard's files, their security headers, and what the files may contain.

The page must not be a way to run someone else's script: it loads only its own
files, has no inline script or style, and its script never turns data into
markup. The browser tests (``tests/integration/test_dashboard_browser.py``)
show it working; these check the rules on the files themselves.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gate.store.sql import SqlVerdictStore
from tests.unit.api.documents import READER
from webhook import ui_routes
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.tokens import TokenSet
from webhook.ui_routes import CONTENT_SECURITY_POLICY, UI_FILES, create_ui_blueprint

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: ui}
spec:
  rules:
    - name: all
      match: {images: ["**"]}
      action: deny
"""


def _file(name: str) -> str:
    return resources.files("webhook").joinpath("ui", name).read_text(encoding="utf-8")


@pytest.fixture
def client() -> FlaskClient:
    app = Flask("ui-test")
    app.register_blueprint(create_ui_blueprint())
    return app.test_client()


# -- serving --------------------------------------------------------------------------------


def test_the_page_and_its_files_are_served_with_security_headers(client: FlaskClient) -> None:
    for path, name in [
        ("/ui/", "index.html"),
        ("/ui/app.js", "app.js"),
        ("/ui/app.css", "app.css"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content_type == UI_FILES[name]
        assert response.get_data(as_text=True) == _file(name)
        csp = response.headers["Content-Security-Policy"]
        assert csp == CONTENT_SECURITY_POLICY
        assert "default-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_ui_without_slash_redirects_relatively(client: FlaskClient) -> None:
    response = client.get("/ui")
    assert response.status_code == 308
    # Relative, so a proxy's path prefix (/gate/ui -> /gate/ui/) is kept.
    assert response.headers["Location"] == "ui/"
    assert "Content-Security-Policy" in response.headers


def test_no_other_file_is_served(client: FlaskClient) -> None:
    for path in ("/ui/index.htm", "/ui/../webhook/app.py", "/ui/ui_routes.py", "/ui/app.js/x"):
        assert client.get(path).status_code == 404, path


def test_missing_files_make_ui_503_not_a_failed_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(ui_routes.UI_FILES, "gone.js", "text/javascript")
    app = Flask("ui-test")
    app.register_blueprint(create_ui_blueprint())
    response = app.test_client().get("/ui/")
    assert response.status_code == 503
    assert response.get_json() == {
        "error": "dashboard file webhook/ui/gone.js is not installed (No such file or directory)"
    }
    assert "/ui/ will answer 503" in caplog.text


# -- the webhook app ------------------------------------------------------------------------


@pytest.fixture
def webhook_app(tmp_path: Path) -> Iterator[Flask]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    settings = Settings(policy=policy, db_url="sqlite://", policy_reload_interval=0)
    made = create_app(settings, tokens=TokenSet.of({"dashboard": (READER, ["read"])}))
    yield made
    state_of(made).close()


def test_the_webhook_serves_the_page_and_the_stats(webhook_app: Flask) -> None:
    client = webhook_app.test_client()
    assert client.get("/ui/").status_code == 200
    headers = {"Authorization": f"Bearer {READER}"}
    assert client.get("/api/v1/stats/decisions", headers=headers).status_code == 200
    assert client.get("/api/v1/stats/top?kind=findings", headers=headers).status_code == 200
    assert client.get("/api/v1/stats/decisions").status_code == 401
    missing = client.get("/ui/missing.js")
    assert missing.status_code == 404
    assert set(missing.get_json()) == {"error"}


class _RecordOnlyStore:
    """A store that lists verdicts but has no aggregates (an injected one may not)."""

    def __init__(self, inner: SqlVerdictStore) -> None:
        self.inner = inner

    def query(self, *args: object, **kwargs: object) -> object:
        return self.inner.query(*args, **kwargs)  # type: ignore[arg-type]  # passes through


def test_a_store_without_aggregates_has_no_stats_routes(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    with SqlVerdictStore.from_url("sqlite://") as inner:
        app = create_app(
            Settings(policy=policy, db_url="sqlite://", policy_reload_interval=0),
            store=_RecordOnlyStore(inner),  # type: ignore[arg-type]  # only what the test uses
            tokens=TokenSet.of({"dashboard": (READER, ["read"])}),
        )
        try:
            client = app.test_client()
            headers = {"Authorization": f"Bearer {READER}"}
            assert client.get("/api/v1/stats/decisions", headers=headers).status_code == 404
            assert client.get("/ui/").status_code == 200
        finally:
            state_of(app).close()


# -- what the files may contain -----------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_text.append(data)


def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files() -> None:
    parser = _Elements()
    parser.feed(_file("index.html"))
    scripts = [attrs for tag, attrs in parser.elements if tag == "script"]
    assert scripts == [{"src": "app.js", "defer": None}]
    assert parser.script_text == []
    assert not [tag for tag, _ in parser.elements if tag in ("style", "iframe", "object", "embed")]
    for tag, attrs in parser.elements:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}>: inline handler"
            assert name != "style", f"<{tag}>: inline style"
            if name in ("src", "href", "action"):
                assert value is not None
                assert not re.match(r"^([a-z]+:|//)", value), f"<{tag} {name}={value}>: not local"


def test_the_script_never_turns_data_into_markup() -> None:
    script = _file("app.js")
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "setTimeout('",
        "DOMParser",
        "createContextualFragment",
        "srcdoc",
        "javascript:",
    ):
        assert forbidden not in script, forbidden
    # The only absolute URL is the SVG namespace; requests go to this origin's API.
    assert re.findall(r"https?://[^'\"\s]+", script) == ["http://www.w3.org/2000/svg"]
    assert "new URL('../api/v1/', window.location.href)" in script
    # Attributes set on HTML elements come from a fixed list, never event handlers.
    assert "key.startsWith('data-') || ATTRIBUTES.has(key)" in script
    assert "sessionStorage" in script
    assert "localStorage" not in script


def test_the_style_sheet_fetches_nothing() -> None:
    style = _file("app.css")
    assert "url(" not in style
    assert "@import" not in style


def test_the_files_are_package_data() -> None:
    # A wheel (the container image installs one) carries only declared package data.
    pyproject = tomllib.loads(
        (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text(encoding="utf-8")
    )
    patterns = pyproject["tool"]["setuptools"].get("package-data", {}).get("webhook", [])
    for name in UI_FILES:
        assert any(fnmatch.fnmatch(f"ui/{name}", p) for p in patterns), (
            f"webhook/ui/{name} is not package data: add "
            '\'webhook = ["ui/*.html", "ui/*.js", "ui/*.css"]\' to '
            "[tool.setuptools.package-data] in pyproject.toml"
        )
