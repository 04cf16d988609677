"""Le site tel qu'un apprenant le voit : chargement sans erreur, formules composées, images,
animations, recherche, liens internes, poids des pages."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

_TOC = yaml.safe_load((Path(__file__).resolve().parents[2] / "_toc.yml").read_text(encoding="utf-8"))
PAGES = [_TOC["root"]] + [c["file"] for p in _TOC.get("parts", []) for c in p.get("chapters", [])]

# Texte visible hors code : on retire blocs de code, scripts, formules déjà composées.
VISIBLE_TEXT_JS = """() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_input, .anim-controls')
       .forEach(e => e.remove());
  return clone.innerText;
}"""


def _open(browser, server, page_path, dark=False):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme="dark" if dark else "light")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"exception JS : {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"requête échouée : {req.url}"))
    page.on("request", lambda req: problems.append(f"requête hors du site : {req.url}")
            if not req.url.startswith(server) and not req.url.startswith("data:") else None)
    page.goto(f"{server}/{page_path}.html", wait_until="load")
    # MathJax compose les formules après le chargement : on attend qu'il ait fini.
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : null")
    return context, page, problems


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_cleanly_with_math_and_images(browser, server, screenshots, page_path):
    context, page, problems = _open(browser, server, page_path)
    try:
        text = page.evaluate(VISIBLE_TEXT_JS)
        for raw in ("\\(", "\\)", "$$", "\\begin{", "\\frac"):
            assert raw not in text, f"{page_path} : formule non composée ({raw!r}) dans le texte visible"
        if page.locator("div.math, span.math").count():
            assert page.locator("mjx-container").count() > 0, f"{page_path} : MathJax n'a rien composé"
        # Les images hors de l'écran sont chargées paresseusement : on les demande toutes, puis on attend.
        page.evaluate("""async () => { const imgs = Array.from(document.querySelectorAll('main img'));
            imgs.forEach(i => { i.loading = 'eager'; });
            await Promise.all(imgs.map(i => i.decode().catch(() => null))); }""")
        images = page.evaluate("""() => Array.from(document.querySelectorAll('main img')).map(i => ({
            src: i.getAttribute('src'), alt: i.getAttribute('alt') || '', ok: i.complete && i.naturalWidth > 0}))""")
        for img in images:
            assert img["alt"].strip() and img["alt"] != "Figure made with TikZ", f"{page_path} : image sans alt français {img['src'][:80]}"
            if not img["src"].startswith("data:"):
                assert img["ok"], f"{page_path} : image non chargée {img['src']}"
        page.screenshot(path=str(screenshots / f"{page_path.replace('/', '__')}.png"), full_page=True)
        assert not problems, f"{page_path} : " + " ; ".join(problems[:5])
    finally:
        context.close()


def test_tikz_figures_readable_in_dark_mode(browser, server, site, screenshots):
    pages = [p for p in PAGES if 'src="../_images/tikz-' in (site / f"{p}.html").read_text(encoding="utf-8")]
    assert pages, "aucune figure TikZ sur le site"
    for page_path in pages:
        context, page, problems = _open(browser, server, page_path, dark=True)
        try:
            page.evaluate("() => document.documentElement.setAttribute('data-theme', 'dark')")
            backgrounds = page.evaluate("""() => Array.from(document.querySelectorAll('img[src*="tikz-"]'))
                .map(i => getComputedStyle(i).backgroundColor)""")
            assert backgrounds and all(b == "rgb(255, 255, 255)" for b in backgrounds), (page_path, backgrounds)
            page.locator('img[src*="tikz-"]').first.screenshot(path=str(screenshots / f"sombre__{page_path.replace('/', '__')}.png"))
        finally:
            context.close()


def test_animations_play(browser, server, site):
    pages = [p for p in PAGES if "_anim_img" in (site / f"{p}.html").read_text(encoding="utf-8")]
    assert pages, "aucune animation sur le site"
    for page_path in pages:
        context, page, problems = _open(browser, server, page_path)
        try:
            players = page.locator("div.animation")
            assert players.count() > 0
            for i in range(players.count()):
                player = players.nth(i)
                player.scroll_into_view_if_needed()
                img = player.locator("img").first
                before = img.get_attribute("src")
                player.locator('button[title="Lecture"]').click()
                page.wait_for_timeout(1200)
                after = img.get_attribute("src")
                assert before != after, f"{page_path} : l'animation {i} ne change pas d'image après « Lecture »"
            assert not problems, " ; ".join(problems[:5])
        finally:
            context.close()


SEARCHES = {
    "rétropropagation": "book/introduction",
    "normalisation": "book/normalisation",
    "politique": "book/politique",
    "momentum": "book/optimisation",
}


@pytest.mark.parametrize("word, expected", list(SEARCHES.items()))
def test_search_finds_french_words(browser, server, word, expected):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{server}/search.html?q={word}", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=15000)
        deadline = time.time() + 10
        hrefs: list[str] = []
        while time.time() < deadline:
            hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
            if any(expected in h for h in hrefs):
                break
            page.wait_for_timeout(300)
        assert any(expected in h for h in hrefs), f"« {word} » : {expected} absent des résultats {hrefs[:8]}"
    finally:
        context.close()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])


def test_internal_links_and_anchors_resolve(site):
    parsed: dict[Path, _Links] = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            p = _Links()
            p.feed(path.read_text(encoding="utf-8"))
            parsed[path] = p
        return parsed[path]

    broken = []
    n_links = 0
    for page_path in PAGES:
        html = site / f"{page_path}.html"
        for href in parse(html).hrefs:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:")):
                continue
            n_links += 1
            target = html if not url.path else (html.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page_path} → {href}")
                continue
            if url.fragment and target.suffix == ".html" and unquote(url.fragment) not in parse(target).ids:
                broken.append(f"{page_path} → {href} (ancre absente)")
    assert n_links > 50
    assert not broken, "\n".join(broken[:20])


def test_page_weight_and_executed_pages(site):
    """Les vérifications de scripts/verifier_site.py (poids ≤ 1,5 Mio, pages exécutées, alt)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("verifier_site", Path(__file__).resolve().parents[2] / "scripts" / "verifier_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.verifier(site) == []


def test_notebook_pages_offer_ipynb_download(site):
    for page_path in PAGES:
        if not page_path.startswith("notebooks/"):
            continue
        html = (site / f"{page_path}.html").read_text(encoding="utf-8")
        name = Path(page_path).name
        assert re.search(rf'href="[^"]*_sources/notebooks/{name}\.ipynb"', html), f"{page_path} : pas de lien .ipynb"
        assert (site / "_sources" / "notebooks" / f"{name}.ipynb").exists()
