"""Servir le site construit comme GitHub Pages (gzip) et le mesurer avec les outils standard.

- ``servir(site)`` : le site sur 127.0.0.1 (port libre), compressé en gzip quand le navigateur
  l'accepte, avec un cache court comme GitHub Pages (``max-age=600``) ;
- ``lighthouse(url)`` : les quatre scores Lighthouse (préréglage mobile), avec le Chromium de
  Debian (``CHROME_PATH``) ; aucun navigateur n'est téléchargé ;
- ``axe(page)`` : les violations axe-core d'une page Playwright déjà ouverte.

Utilisé par ``tests/site`` et ``benchmarks/bench_site.py``. Lancé seul, il sert le site :
``python scripts/servir_site.py _build/html`` (Ctrl-C pour arrêter).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
COMPRESSIBLE = (".html", ".js", ".css", ".svg", ".json", ".txt", ".map", ".xml", ".ttf", ".ipynb")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """Comme GitHub Pages : gzip pour les fichiers texte si ``Accept-Encoding`` le permet."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "application/javascript", ".woff2": "font/woff2", ".svg": "image/svg+xml"}
    _cache: dict[tuple[str, float], bytes] = {}

    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "max-age=600")
        super().end_headers()

    def send_head(self):
        path = self.translate_path(self.path)
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        if os.path.isdir(path) or not path.endswith(COMPRESSIBLE) or not gzip_ok or not os.path.isfile(path):
            return super().send_head()
        key = (path, os.path.getmtime(path))
        body = self._cache.get(key)
        if body is None:
            body = gzip.compress(Path(path).read_bytes(), compresslevel=6)
            self._cache[key] = body
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def servir(site: Path):
    """Sert ``site`` sur 127.0.0.1 et donne l'URL de base ; arrête le serveur à la sortie."""
    site = Path(site)
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"site introuvable : {site} (pas d'index.html)")
    handler = functools.partial(GzipHandler, directory=str(site))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def outils_node_manquants() -> str | None:
    """La raison pour laquelle axe/Lighthouse ne peuvent pas tourner, ou None."""
    if not (NODE_MODULES / "lighthouse" / "cli" / "index.js").exists() or not (NODE_MODULES / "axe-core" / "axe.min.js").exists():
        return "node_modules absent : lancer `npm ci` (scripts/installer.sh le fait)"
    if not shutil.which("node"):
        return "node introuvable"
    if not Path(CHROMIUM).exists():
        return "Chromium introuvable (paquet Debian chromium)"
    return None


def lighthouse(url: str, timeout: float = 240) -> dict:
    """Scores Lighthouse (0–100) de ``url`` au préréglage mobile, et quelques mesures utiles."""
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rapport.json"
        cmd = ["node", str(NODE_MODULES / "lighthouse" / "cli" / "index.js"), url,
               "--quiet", "--output=json", f"--output-path={out}", "--form-factor=mobile",
               f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"Lighthouse a échoué sur {url} :\n{proc.stderr[-2000:]}")
        rapport = json.loads(out.read_text(encoding="utf-8"))
    scores = {c: round(100 * (rapport["categories"][c]["score"] or 0)) for c in CATEGORIES}
    audits = rapport["audits"]
    scores["mesures"] = {k: audits[k].get("displayValue", "") for k in
                         ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
                          "cumulative-layout-shift", "speed-index") if k in audits}
    scores["échecs"] = sorted(
        f"{k} ({a.get('displayValue', '')})" for k, a in audits.items()
        if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings"))
    return scores


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 1000}


def pages_de_la_toc() -> list[str]:
    """Les pages de la table des matières, dans l'ordre (``_toc.yml``)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p.get("chapters", [])]


def ouvrir_page(browser, url: str, page_path: str, viewport=PHONE, dark: bool = False):
    """Ouvre une page dans un nouveau contexte Playwright (clair ou sombre), attend MathJax ;
    rend ``(contexte, page)``."""
    context = browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.goto(f"{url}/{page_path}.html", wait_until="load")
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
    if dark:
        page.evaluate("() => document.documentElement.setAttribute('data-theme', 'dark')")
    return context, page


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe(page) -> list[dict]:
    """Violations axe-core de la page Playwright ``page`` (déjà chargée) : id, impact, cibles."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(NODE_MODULES / "axe-core" / "axe.min.js"))
    result = page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [{"id": v["id"], "impact": v["impact"], "n": len(v["nodes"]),
             "cibles": [" ".join(map(str, n["target"])) for n in v["nodes"][:3]]}
            for v in result["violations"]]


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / "html")
    with servir(site) as url:
        print(f"Site servi (gzip) sur {url}/ — Ctrl-C pour arrêter")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
