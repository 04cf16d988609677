"""Tests du site construit, dans Chromium (Debian) piloté par Playwright.

Ils ne tournent que si ``PROFOND_SITE`` désigne un site construit (``.ci/run`` le fait après la
construction) ; sinon ils sont sautés, avec la raison.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def site_dir() -> Path | None:
    value = os.environ.get("PROFOND_SITE")
    return (ROOT / value).resolve() if value else None


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p.get("chapters", [])]


def pytest_collection_modifyitems(config, items):
    if site_dir() is None:
        skip = pytest.mark.skip(reason="PROFOND_SITE non défini : site non construit (voir .ci/run)")
        for item in items:
            if "tests/site" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def site() -> Path:
    path = site_dir()
    assert path is not None and (path / "index.html").exists(), f"site introuvable : {path}"
    return path


@pytest.fixture(scope="session")
def server(site):
    """Le site servi sur 127.0.0.1, sur un port libre."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshots(site) -> Path:
    out = site.parent / "captures"
    out.mkdir(exist_ok=True)
    return out
