"""The read-only verdict dashboard at ``/ui/``: three static files that call the JSON API.

The page (``webhook/ui/index.html``, ``app.js``, ``app.css``, shipped as
package data, no build step and nothing fetched from elsewhere) holds no data
of its own: it asks the verdict API (``/api/v1``) with the bearer token the
user types in, so it sees exactly what that token may read. The files are read
once when the app is built and served from memory with a strict
Content-Security-Policy: scripts, styles and requests only from this origin,
no inline script or style, no framing. The script inserts every value from the
API as text, never as markup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

from flask import Blueprint, Response

from webhook.validate import error_body

__all__ = ["CONTENT_SECURITY_POLICY", "UI_FILES", "UI_PATH", "create_ui_blueprint"]

UI_PATH = "/ui"
#: Everything from this origin only; nothing inline, no plugins, no framing, no forms
#: posted anywhere (the token form is handled by the script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
#: The files of the page: name under ``/ui/`` -> media type.
UI_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Small files that change with the gate's version: always revalidated.
    "Cache-Control": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    media_type: str


def _load_assets() -> dict[str, _Asset] | str:
    """The page's files, or why they cannot be served (a package installed without them)."""
    folder = resources.files("webhook").joinpath("ui")
    assets: dict[str, _Asset] = {}
    for name, media_type in UI_FILES.items():
        try:
            assets[name] = _Asset(folder.joinpath(name).read_bytes(), media_type)
        except OSError as exc:
            return f"dashboard file webhook/ui/{name} is not installed ({exc.strerror or exc})"
    return assets


def create_ui_blueprint() -> Blueprint:
    """The blueprint serving ``/ui/`` (and redirecting ``/ui`` there).

    The files are read now, once. When they are missing from the installed
    package the webhook still starts (the dashboard is not needed to admit
    pods): ``/ui/`` then answers 503 with the reason, and a warning is logged.
    """
    blueprint = Blueprint("gate_ui", __name__)
    loaded = _load_assets()
    if isinstance(loaded, str):
        _LOG.warning("%s: /ui/ will answer 503", loaded)

    def serve(name: str) -> Response:
        if isinstance(loaded, str):
            response = Response(error_body(loaded), status=503, mimetype="application/json")
        else:
            asset = loaded[name]
            response = Response(asset.body, content_type=asset.media_type)
        response.headers.update(_HEADERS)
        return response

    @blueprint.get(UI_PATH)
    def ui_root() -> Response:
        # The page's links are relative (app.js, ../api/v1/...), so it lives at /ui/;
        # a relative Location keeps a proxy's path prefix.
        response = Response(status=308, headers={"Location": "ui/"})
        response.headers.update(_HEADERS)
        return response

    @blueprint.get(f"{UI_PATH}/")
    def ui_index() -> Response:
        return serve("index.html")

    @blueprint.get(f"{UI_PATH}/app.js")
    def ui_script() -> Response:
        return serve("app.js")

    @blueprint.get(f"{UI_PATH}/app.css")
    def ui_style() -> Response:
        return serve("app.css")

    return blueprint
