"""Le site sur un téléphone de 390 px, clair et sombre : rien de plus large que l'écran.

Ce qui ne peut pas se couper (formule, tableau, code, sortie) défile dans son cadre avec un indice
visible (``data-deborde`` : le bord s'estompe) ; les figures ne sont jamais agrandies et, réduites
sous 75 %, se touchent pour s'afficher en taille réelle ; le lecteur d'animation tient dans la
colonne. Les captures d'écran (``captures/390__*.png``, ``captures/390_sombre__*.png``) sont à
regarder avant de publier.
"""

from __future__ import annotations

import pytest
from servir_site import PHONE, ouvrir_page, pages_de_la_toc

PAGES = pages_de_la_toc()

# Fait défiler toute la page (MathJax compose les formules quand elles approchent de l'écran,
# perf-mobile.js mesure les cadres à ce moment-là), puis revient en haut.
SCROLL_THROUGH_JS = """async () => {
  const pause = ms => new Promise(r => setTimeout(r, ms));
  // la hauteur change pendant le défilement (formules composées) : on la relit à chaque pas
  for (let y = 0; y < document.documentElement.scrollHeight; y += Math.round(window.innerHeight * 0.8)) {
    window.scrollTo(0, y); await pause(40);
  }
  for (let pass = 0; pass < 3; pass++) {  // MathJax paresseux : revenir sur les formules pas encore composées
    const waiting = Array.from(document.querySelectorAll('div.math')).filter(d => !d.querySelector('mjx-container') || d.querySelector('mjx-lazy'));
    if (!waiting.length) break;
    for (const d of waiting) { d.scrollIntoView({block: 'center'}); await pause(120); }
  }
  window.scrollTo(0, 0);
  await pause(300);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  // toutes les images décodées (chargement paresseux compris), puis une image d'écran pour que les
  // observateurs de taille du site aient marqué les figures réduites
  await Promise.all(Array.from(document.images).map(i => (i.loading = 'eager', i.decode().catch(() => null))));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  await pause(200);
}"""

LAYOUT_JS = """() => {
  const W = document.documentElement.clientWidth;
  const scrolls = el => { const o = getComputedStyle(el).overflowX; return o === 'auto' || o === 'scroll'; };
  const insideScroller = el => { for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (p !== el && (scrolls(p) || getComputedStyle(p).overflowX === 'hidden' || getComputedStyle(p).display === 'none')) return true; }
    return false; };
  const tooWide = [];
  document.querySelectorAll('.bd-article *').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width && getComputedStyle(el).visibility !== 'hidden' && r.right > W + 1 && !insideScroller(el)) tooWide.push(`${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.right)} px)`);
  });
  // Un cadre dans un bloc replié (<details> fermé) n'est pas affiché : on le vérifiera ouvert.
  const shown = el => !el.closest('details:not([open])') && (!el.checkVisibility || el.checkVisibility());
  const frames = sel => Array.from(document.querySelectorAll(sel)).filter(shown).map(el => ({
    over: el.scrollWidth - el.clientWidth > 1, scrolls: scrolls(el), cue: el.getAttribute('data-deborde'),
    focusable: el.tabIndex >= 0, typeset: el.matches('mjx-container') && !el.querySelector('mjx-lazy'),
    what: (el.id || el.className || el.tagName).toString().slice(0, 60)}));
  // Les images des animations suivent le lecteur (voir players) : on ne regarde que les figures.
  const images = Array.from(document.querySelectorAll('.bd-article img')).filter(i => !i.closest('.animation') && i.naturalWidth && i.getBoundingClientRect().width).map(i => ({
    src: (i.getAttribute('src') || i.id).slice(-50), ratio: i.getBoundingClientRect().width / i.naturalWidth,
    upscaled: i.getBoundingClientRect().width > i.naturalWidth + 1,
    marked: !!(i.closest('.perf-figure') && i.closest('.perf-figure').hasAttribute('data-reduite'))}));
  const players = Array.from(document.querySelectorAll('.animation')).map(a => {
    const col = a.parentElement.getBoundingClientRect();
    return Array.from(a.querySelectorAll('.anim-controls > *, .anim-buttons button')).map(c => c.getBoundingClientRect())
      .filter(r => r.width).every(r => r.right <= col.right + 1 && r.left >= col.left - 1);
  });
  return {W, docWidth: document.documentElement.scrollWidth, tooWide: tooWide.slice(0, 8),
          math: frames('.bd-article div.math > mjx-container'), nmath: document.querySelectorAll('.bd-article div.math').length,
          tables: frames('.bd-article .pst-scrollable-table-container, .bd-article .cell_output .output.text_html'),
          code: frames('.bd-article div.highlight pre, .bd-article .cell_output pre'), images, players};
}"""


def measure(page) -> dict:
    page.evaluate(SCROLL_THROUGH_JS)
    return page.evaluate(LAYOUT_JS)


def _cut_without_cue(frames: list[dict]) -> list[str]:
    """Cadres dont le contenu dépasse sans défiler, ou sans indice visible, ou hors clavier."""
    return [f["what"] for f in frames if f["over"] and not (f["scrolls"] and f["cue"] and f["focusable"])]


@pytest.mark.parametrize("dark", [False, True], ids=["clair", "sombre"])
@pytest.mark.parametrize("page_path", PAGES)
def test_nothing_wider_than_a_phone(browser, server, screenshots, page_path, dark):
    context, page = ouvrir_page(browser, server, page_path, PHONE, dark)
    try:
        m = measure(page)
        name = ("390_sombre__" if dark else "390__") + page_path.replace("/", "__")
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        assert m["docWidth"] <= PHONE["width"], f"{page_path} : page large de {m['docWidth']} px ({m['tooWide']})"
        assert not m["tooWide"], f"{page_path} : éléments qui dépassent l'écran : {m['tooWide']}"
        untypeset = [f["what"] for f in m["math"] if not f["typeset"]]
        assert len(m["math"]) == m["nmath"] and not untypeset, f"{page_path} : formules non composées après défilement : {untypeset[:5]}"
        for kind in ("math", "tables", "code"):
            bad = _cut_without_cue(m[kind])
            assert not bad, f"{page_path} : {kind} coupés sans défilement ni indice : {bad[:5]}"
        upscaled = [i["src"] for i in m["images"] if i["upscaled"]]
        assert not upscaled, f"{page_path} : images agrandies au-delà de leur taille : {upscaled}"
        unmarked = [i["src"] for i in m["images"] if i["ratio"] < 0.75 and not i["marked"]]
        assert not unmarked, f"{page_path} : images réduites sans moyen de les voir en taille réelle : {unmarked}"
        assert all(m["players"]), f"{page_path} : les commandes d'une animation dépassent la colonne"
    finally:
        context.close()


def test_reduced_figure_opens_at_natural_size(browser, server, site):
    """Un toucher sur une figure réduite l'affiche en taille réelle, dans un cadre qui défile."""
    pages = [p for p in PAGES if (site / f"{p}.html").exists()
             and 'src="../_images/' in (site / f"{p}.html").read_text(encoding="utf-8")]
    if not pages:
        pytest.skip("aucune figure de cellule sur ce site (construction sans exécution ?)")
    for page_path in pages:
        context, page = ouvrir_page(browser, server, page_path, PHONE)
        try:
            page.evaluate(SCROLL_THROUGH_JS)
            boxes = page.locator(".perf-figure[data-reduite] > img")
            if boxes.count() == 0:
                continue
            img = boxes.first
            img.scroll_into_view_if_needed()
            img.click()
            state = img.evaluate("""i => ({w: i.getBoundingClientRect().width, n: i.naturalWidth,
                over: i.parentElement.scrollWidth > i.parentElement.clientWidth,
                cue: i.parentElement.getAttribute('data-deborde'),
                docWidth: document.documentElement.scrollWidth})""")
            assert abs(state["w"] - state["n"]) <= 1, state
            assert state["over"] and state["cue"] == "droite", state
            assert state["docWidth"] <= PHONE["width"], state
            img.click()
            assert img.evaluate("i => i.getBoundingClientRect().width < i.naturalWidth"), "second toucher sans effet"
            return
        finally:
            context.close()
    pytest.skip("aucune figure réduite sous 75 % à 390 px")
