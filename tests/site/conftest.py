"""Tests du site construit, dans Chromium (Debian) piloté par Playwright.

Ils ne tournent que si ``PROFOND_SITE`` désigne un site construit (``.ci/run`` le fait après la
construction) ; sinon ils sont sautés, avec la raison. Le site est servi comme GitHub Pages le sert
(gzip, ``scripts/servir_site.py``) ; axe-core et Lighthouse viennent de ``node_modules``
(``npm ci``), le navigateur est toujours le Chromium de Debian.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import servir_site  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def site_dir() -> Path | None:
    value = os.environ.get("PROFOND_SITE")
    return (ROOT / value).resolve() if value else None


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
    """Le site servi sur 127.0.0.1 (port libre), en gzip comme GitHub Pages."""
    with servir_site.servir(site) as url:
        yield url


@pytest.fixture(scope="session")
def node_tools():
    """axe-core et Lighthouse installés par ``npm ci`` ; leur absence fait échouer (pas sauter)."""
    reason = servir_site.outils_node_manquants()
    assert reason is None, reason
    return servir_site


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

