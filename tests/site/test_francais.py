"""Le site en français et navigable sur téléphone, vérifié dans Chromium sur chaque page de la table
des matières : 390 px et bureau, mode clair et sombre.

- navigation : le bouton ☰ ouvre la table des matières sur téléphone (et un lien y mène à la page)
  et replie / déplie la barre latérale sur bureau ; le bouton « sommaire de la page » ouvre le
  sommaire sur téléphone ;
- typographie : aucune espace sécable avant « : ; ! ? » ni à l'intérieur de « » dans le texte visible
  (hors code et formules) ;
- interface : aucune des chaînes anglaises relevées dans l'issue 10, pas de bouton Colab, citations
  « Sutton et Barto, 2018 » (jamais « and »).

Chaque test imprime un tableau par page (``pytest -s``) ; toutes les valeurs doivent être 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

_TOC = yaml.safe_load((Path(__file__).resolve().parents[2] / "_toc.yml").read_text(encoding="utf-8"))
PAGES = [_TOC["root"]] + [c["file"] for p in _TOC.get("parts", []) for c in p.get("chapters", [])]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 1000}

# Texte visible, hors code, formules et scripts (innerText ne garde que ce qui est affiché).
VISIBLE_TEXT_JS = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, kbd, samp, script, style, mjx-container, .math, .highlight, .cell_input, '
                         + '.output, .anim-controls, dialog:not([open])').forEach(e => e.remove());
  document.body.appendChild(clone);
  clone.style.position = 'absolute'; clone.style.left = '0'; clone.style.top = '0';
  const text = clone.innerText;
  clone.remove();
  return text;
}"""

# Tous les textes d'interface lus par un lecteur d'écran ou affichés en infobulle.
UI_TEXT_JS = """() => {
  const out = [document.title];
  for (const el of document.querySelectorAll('[title], [aria-label], [alt], [placeholder], [data-bs-title]')) {
    for (const a of ['title', 'aria-label', 'alt', 'placeholder', 'data-bs-title']) {
      const v = el.getAttribute(a);
      if (v && !(a === 'title' && el.closest('.bibtex-citation, .citation, .bibliography'))) out.push(v);
    }
  }
  return out;
}"""

# Chaînes anglaises de l'interface relevées dans l'issue 10 (et leurs cousines du thème).
ENGLISH_UI = (
    "Search this book", "Toggle primary sidebar", "Toggle secondary sidebar", "Toggle navigation",
    "Toggle hidden content", "Launch interactive content", "Launch on", "Binder logo", "Colab",
    "(source)", "(content)", "(output)", "Proof Index", "Par L'équipe", "Par L’équipe", "Click to show",
    "Click to hide", "Download this page", "Contents",
)

# Espace sécable avant « : ; ! ? » (ou avant »), ou après «.
BREAKABLE = re.compile(r"[ \t\n](?=[:;!?»])|«[ \t\n]")


def _context(browser, viewport, dark):
    return browser.new_context(viewport=viewport, color_scheme="dark" if dark else "light",
                               has_touch=viewport is PHONE, is_mobile=viewport is PHONE)


def _goto(page, server, page_path):
    page.goto(f"{server}/{page_path}.html", wait_until="load")


def _french_problems(page) -> dict[str, list[str]]:
    text = page.evaluate(VISIBLE_TEXT_JS)
    spaces = [text[max(m.start() - 25, 0): m.end() + 5].replace("\n", "⏎") for m in BREAKABLE.finditer(text)]
    ui = page.evaluate(UI_TEXT_JS)
    # Le texte du cours peut nommer Colab (page d'usage) : seuls les attributs sont cherchés pour lui.
    english = sorted({s for s in ENGLISH_UI for value in ui if s in value}
                     | {s for s in ENGLISH_UI if s in text and s != "Colab"})
    if page.locator('nav[aria-label="Main"]').count():
        english.append('aria-label="Main"')
    colab = page.locator('a[href*="colab.research.google.com"]').count()
    citations = page.eval_on_selector_all(".bibtex-citation, a[href*='bibliographie.html#']",
                                          "els => els.map(e => e.innerText)")
    english_cites = [c for c in citations if re.search(r"\band\b", c)]
    return {"espaces sécables": spaces, "anglais": english, "Colab": ["lien"] * colab, "citations « and »": english_cites}


@pytest.mark.parametrize("viewport, dark", [(PHONE, False), (PHONE, True), (DESKTOP, False), (DESKTOP, True)],
                         ids=["390px-clair", "390px-sombre", "bureau-clair", "bureau-sombre"])
def test_french_typography_and_interface(browser, server, viewport, dark):
    context = _context(browser, viewport, dark)
    page = context.new_page()
    table, failures = [], []
    try:
        for page_path in PAGES:
            _goto(page, server, page_path)
            problems = _french_problems(page)
            table.append((page_path, *(len(v) for v in problems.values())))
            failures += [f"{page_path} — {kind} : {values[:4]}" for kind, values in problems.items() if values]
    finally:
        context.close()
    print(f"\n{viewport['width']} px, {'sombre' if dark else 'clair'} — page | espaces sécables | anglais | Colab | citations « and »")
    for row in table:
        print(" | ".join(str(x) for x in row))
    assert not failures, "\n".join(failures)


def test_citations_are_french(browser, server, site):
    """« Sutton et Barto, 2018 », « Degris *et al.*, 2012 » : au moins une citation à deux auteurs
    et une à trois ou plus dans le site, toutes en français."""
    citations = []
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        for page_path in PAGES:
            _goto(page, server, page_path)
            citations += page.eval_on_selector_all(".bibtex-citation a", "els => els.map(e => e.innerText)")
    finally:
        context.close()
    assert citations, "aucune citation dans le site"
    assert any(re.search(r"\w et \w.*, \d{4}", c) for c in citations), citations[:10]
    assert any("et al." in c for c in citations), citations[:10]
    assert not [c for c in citations if re.search(r"\band\b", c)]
    html = (site / "book" / "bibliographie.html").read_text(encoding="utf-8")
    entries = re.findall(r'<div class="citation"[\s\S]*?</div>', html)
    assert len(entries) > 10, "bibliographie vide ?"
    text = re.sub(r"<[^>]+>", "", "".join(entries))
    for raw in ("$", "\\", "^{"):
        assert raw not in text, f"bibliographie : LaTeX brut {raw!r}"


def test_bibliography_style_is_french():
    """Le style ``francais`` (scripts/profond_biblio.py) sur toutes les entrées de references.bib :
    auteurs joints par « et » (jamais « and »), aucun LaTeX brut, mots du gabarit en français."""
    import sys

    from pybtex.database import parse_file

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "scripts"))
    import profond_biblio

    style = profond_biblio.FrenchStyle()
    data = parse_file(str(root / "references.bib"))
    entries = list(style.format_entries(data.entries.values()))
    assert len(entries) == len(data.entries) > 0
    several = with_url = 0
    for entry in entries:
        text = entry.text.render_as("text")
        persons = data.entries[entry.key].persons.get("author", [])
        authors = style.format_names("author", as_sentence=False).format_data(
            {"entry": data.entries[entry.key], "style": style, "bib_data": data}).render_as("text")
        assert " and " not in authors and not authors.endswith(" and"), (entry.key, authors)
        if len(persons) >= 2:
            several += 1
            assert " et " in authors, (entry.key, authors)
        for raw in ("$", "\\", "In ", " edition", "PhD thesis", "editors", "URL:"):
            assert raw not in text, (entry.key, raw, text)
        if data.entries[entry.key].fields.get("url"):
            with_url += 1
            assert "URL\u00a0: " in text, (entry.key, text)
    assert several > 0 and with_url > 0


def test_no_proof_index_and_single_home_title(site):
    assert not (site / "prf-prf.html").exists(), "page « Proof Index » (sphinx-proof) encore produite"
    home = (site / f"{PAGES[0]}.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", home).group(1)
    assert "&#8212;" not in title and "—" not in title, f"titre répété : {title}"


@pytest.mark.parametrize("page_path", PAGES)
def test_navigation_on_phone_and_desktop(browser, server, page_path):
    # Téléphone : ☰ ouvre la table des matières, un lien y mène à la page visée.
    context = _context(browser, PHONE, dark=False)
    page = context.new_page()
    try:
        _goto(page, server, page_path)
        toggles = page.locator(".primary-toggle:visible")
        assert toggles.count() == 1, f"{page_path} : {toggles.count()} bouton ☰ visible(s)"
        toggles.first.tap()
        dialog = page.locator("#pst-primary-sidebar-modal")
        page.wait_for_function("() => document.getElementById('pst-primary-sidebar-modal').open", timeout=5000)
        links = dialog.locator("a.reference.internal:visible")
        assert links.count() >= len(PAGES) - 1, f"{page_path} : {links.count()} liens dans le menu"
        target = next(p for p in PAGES[1:] if p != page_path)
        link = dialog.locator(f'a.reference.internal[href$="{Path(target).name}.html"]').first
        link.tap()
        page.wait_for_url(f"**/{target}.html", timeout=10000)

        # Sommaire de la page (s'il y en a un) : le bouton l'ouvre, un lien y mène à la rubrique.
        _goto(page, server, page_path)
        contents = page.locator(".secondary-toggle:visible")
        if page.locator("#pst-page-toc-nav a").count():
            assert contents.count() == 1, f"{page_path} : pas de bouton « sommaire » visible"
            contents.first.tap()
            page.wait_for_function("() => document.getElementById('pst-secondary-sidebar-modal').open", timeout=5000)
            entry = page.locator("#pst-secondary-sidebar-modal a.nav-link:visible").first
            href = entry.get_attribute("href")
            entry.tap()
            page.wait_for_function(f"() => location.hash === {href!r}", timeout=5000)
    finally:
        context.close()

    # Bureau : ☰ replie puis déplie la barre latérale ; le sommaire de la page est affiché.
    context = _context(browser, DESKTOP, dark=False)
    page = context.new_page()
    try:
        _goto(page, server, page_path)
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_function("() => getComputedStyle(document.getElementById('pst-primary-sidebar')).visibility === 'hidden'",
                               timeout=5000)
        assert not page.evaluate("() => document.getElementById('pst-primary-sidebar-modal').open")
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_function("() => getComputedStyle(document.getElementById('pst-primary-sidebar')).visibility === 'visible'",
                               timeout=5000)
        if page.locator("#pst-page-toc-nav a").count():
            assert page.locator("#pst-page-toc-nav").is_visible(), f"{page_path} : sommaire de la page caché sur bureau"
    finally:
        context.close()
