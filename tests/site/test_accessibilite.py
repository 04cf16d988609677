"""Accessibilité mesurée par axe-core (npm ``axe-core``, injecté dans le Chromium de Debian) :
aucune violation grave ou critique sur aucune page de la table des matières, à 390 px et sur
ordinateur, en mode clair et en mode sombre (règles WCAG 2.1 A/AA et bonnes pratiques)."""

from __future__ import annotations

import pytest
from servir_site import DESKTOP, PHONE, axe, ouvrir_page, pages_de_la_toc

PAGES = pages_de_la_toc()
VIEWS = {"390px": (PHONE, False), "390px-sombre": (PHONE, True),
         "bureau": (DESKTOP, False), "bureau-sombre": (DESKTOP, True)}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("page_path", PAGES)
def test_no_serious_axe_violation(browser, server, node_tools, page_path, view):
    viewport, dark = VIEWS[view]
    context, page = ouvrir_page(browser, server, page_path, viewport, dark)
    try:
        violations = [v for v in axe(page) if v["impact"] in ("serious", "critical")]
        assert not violations, f"{page_path} ({view}) : " + " ; ".join(
            f"{v['id']} ({v['impact']}, {v['n']} : {', '.join(v['cibles'])})" for v in violations)
    finally:
        context.close()


def test_animation_sliders_are_labelled(browser, server, site):
    """La glissière de chaque lecteur d'animation a un nom (lecteurs d'écran)."""
    pages = [p for p in PAGES if (site / f"{p}.html").exists() and "_anim_img" in (site / f"{p}.html").read_text(encoding="utf-8")]
    if not pages:
        pytest.skip("aucune animation sur ce site (construction sans exécution ?)")
    for page_path in pages:
        context, page = ouvrir_page(browser, server, page_path)
        try:
            labels = page.eval_on_selector_all("input.anim-slider", "els => els.map(e => e.getAttribute('aria-label'))")
            assert labels and all(labels), f"{page_path} : glissière sans nom {labels}"
        finally:
            context.close()
