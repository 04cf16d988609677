"""Extension Sphinx locale du cours : des feuilles de style allégées de ce que le site n'utilise pas.

La feuille du thème (``pydata-sphinx-theme.css`` : Bootstrap, les icônes Font Awesome et le thème,
400 Kio) bloque le premier affichage de chaque page ; le cours n'en utilise qu'une petite partie.
À la fin de la construction, on en écrit une version allégée, à côté de l'originale (que Sphinx
recopie à chaque construction) ; les pages du cours chargent la version allégée
(``profond_perf`` réécrit le lien).

Règle (celle de PurgeCSS) : un sélecteur est gardé si chacune de ses classes et chacun de ses
identifiants apparaît quelque part dans le site, soit dans une page HTML (attributs ``class`` et
``id``), soit comme mot dans un script du site (les classes qu'un script ajoute : ``show``,
``collapsing``…). Ce qui est entre les parenthèses de ``:not()``, ``:is()``, ``:where()``,
``:has()`` ne compte pas (on garde dans le doute). Les règles ``@font-face``, ``@keyframes`` et
les variables restent ; une règle ``@media`` est filtrée de la même façon à l'intérieur.

Ensuite, les treize feuilles de l'en-tête (thème, Sphinx, extensions, cours) ne font plus qu'un
fichier, ``_static/cours-<empreinte>.css`` : sur un réseau mobile, chaque feuille bloquante coûte
un aller-retour avant le premier affichage (et ``theme.css`` en ajoutait un avec son
``@import``). Le paquet est la concaténation, dans l'ordre de la page, des feuilles (allégées)
avec leurs ``@import`` inclus et leurs ``url(…)`` recalculées ; il est réécrit à chaque
construction à partir des feuilles du moment (liste gardée dans ``_static/cours-paquets.json``),
et les pages y renvoient sans rien recopier.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import profond_icones
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

THEME_SHEET = "styles/pydata-sphinx-theme.css"
# feuille d'origine (dans _static) → version allégée (à côté)
LIGHTER = {
    "styles/pydata-sphinx-theme.css": "styles/pydata-sphinx-theme.allege.css",
    "sphinx-design.min.css": "sphinx-design.allege.css",
}
_CLASS_ATTR = re.compile(r'\bclass="([^"]*)"')
_ID_ATTR = re.compile(r'\bid="([^"]*)"')
_WORD = re.compile(r"[A-Za-z_][\w-]*")
_FUNCTIONAL = re.compile(r":(?:not|is|where|has|matches|-webkit-any)\(")
_SELECTOR_NAMES = re.compile(r"([.#])((?:[\w-]|\\.)+)")


def lighter_links(html: str) -> str:
    """Les liens vers les feuilles allégées à la place des originales (dans l'en-tête d'une page)."""
    for original, lighter in LIGHTER.items():
        html = html.replace(f"_static/{original}", f"_static/{lighter}")
    return html


_STYLESHEET = re.compile(r'<link(?=[^>]*rel="stylesheet")[^>]*href="([^"]*)"[^>]*/?>\s*')
_IMPORT = re.compile(r'@import\s+(?:url\()?["\']?([^"\')]+)["\']?\)?\s*;')
_URL = re.compile(r'url\(\s*(["\']?)([^"\')]+)\1\s*\)')
BUNDLES = "cours-paquets.json"


def bundle_links(html: str, bundles: dict[str, list[str]]) -> str:
    """Les feuilles de style locales de ``html`` remplacées par un seul lien vers leur paquet."""
    hrefs = _STYLESHEET.findall(html)
    files = [h.split("?")[0].split("_static/", 1)[-1] for h in hrefs if "_static/" in h and "://" not in h]
    if len(files) < 2 or len(files) != len(hrefs):
        return html
    name = "cours-" + hashlib.sha256("\n".join(files).encode()).hexdigest()[:12] + ".css"
    bundles[name] = files
    prefix = hrefs[0].split("_static/", 1)[0]
    first = True

    def replace(m: re.Match) -> str:
        nonlocal first
        if first:
            first = False
            return f'<link rel="stylesheet" href="{prefix}_static/{name}" />\n'
        return ""

    return _STYLESHEET.sub(replace, html)


def _inline(path: Path, static: Path, seen: set[Path]) -> str:
    """Le contenu de la feuille ``path``, ``@import`` inclus, ``url(…)`` relatives à ``static``."""
    if path in seen or not path.exists():
        return ""
    seen.add(path)
    css = path.read_text(encoding="utf-8")
    css = re.sub(r'@charset\s+"[^"]*";', "", css)

    def rebase(m: re.Match) -> str:
        url = m.group(2).strip()
        if url.startswith(("data:", "http:", "https:", "//", "/", "#")):
            return m.group(0)
        target = os.path.relpath((path.parent / url).resolve(), static)
        return f'url("{Path(target).as_posix()}")'

    # d'abord les url() de cette feuille, puis les feuilles importées (qui recalculent les leurs)
    css = _URL.sub(rebase, _IMPORT.sub(lambda m: "@import '" + m.group(1) + "';", css))
    return _IMPORT.sub(lambda m: _inline((path.parent / m.group(1)).resolve(), static, seen), css)


def write_bundles(static: Path, bundles: dict[str, list[str]]) -> None:
    registry = static / BUNDLES
    try:
        known = json.loads(registry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    known.update(bundles)
    for name, files in known.items():
        seen: set[Path] = set()
        parts = [f"/* {f} */\n" + _inline((static / f).resolve(), static.resolve(), seen) for f in files]
        (static / name).write_text('@charset "UTF-8";\n' + "\n".join(parts), encoding="utf-8")
    registry.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")


def used_names(site: Path, skip_dirs=("mathjax", "_anim")) -> set[str]:
    """Classes, identifiants (pages HTML) et mots (scripts) présents dans le site construit."""
    names: set[str] = set()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8", errors="replace")
        for value in _CLASS_ATTR.findall(text):
            names.update(value.split())
        names.update(_ID_ATTR.findall(text))
        # scripts en ligne de la page
        for script in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S):
            names.update(_WORD.findall(script))
    for script in site.rglob("*.js"):
        if set(script.relative_to(site).parts) & set(skip_dirs):
            continue
        names.update(_WORD.findall(script.read_text(encoding="utf-8", errors="replace")))
    return names


def _strip_functional(selector: str) -> str:
    """Le sélecteur sans le contenu des pseudo-classes fonctionnelles (parenthèses imbriquées)."""
    out, depth, i = [], 0, 0
    while i < len(selector):
        m = _FUNCTIONAL.match(selector, i) if depth == 0 else None
        if m:
            depth, i = 1, m.end()
            continue
        ch = selector[i]
        if depth:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def selector_used(selector: str, names: set[str]) -> bool:
    """Toutes les classes et tous les identifiants du sélecteur existent-ils dans le site ?"""
    for _, name in _SELECTOR_NAMES.findall(_strip_functional(selector)):
        if name.replace("\\", "") not in names:
            return False
    return True


def _split_selectors(prelude: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in prelude:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def purge_rules(rules, names: set[str]) -> str:
    """Les règles (tinycss2) qui servent, sérialisées."""
    import tinycss2

    out = []
    for rule in rules:
        if rule.type == "qualified-rule":
            prelude = tinycss2.serialize(rule.prelude)
            kept = [s for s in _split_selectors(prelude) if selector_used(s, names)]
            if kept:
                out.append(",".join(kept) + "{" + tinycss2.serialize(rule.content) + "}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports", "layer", "container") \
                and rule.content is not None:
            inner = purge_rules(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True), names)
            if inner:
                out.append("@" + rule.at_keyword + tinycss2.serialize(rule.prelude) + "{" + inner + "}")
        elif rule.type == "at-rule":
            out.append(tinycss2.serialize([rule]))
    return "".join(out)


def purge_stylesheet(css: str, names: set[str]) -> str:
    import tinycss2

    rules = tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)
    return purge_rules(rules, names)


def write_lighter_stylesheets(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    names = used_names(Path(app.outdir))
    for original, lighter in LIGHTER.items():
        source = static / original
        if not source.exists():
            logger.warning("profond_css : feuille de style introuvable : %s", source)
            continue
        css = source.read_text(encoding="utf-8")
        light = purge_stylesheet(css, names)
        if original == THEME_SHEET:  # polices d'icônes réduites aux icônes gardées (profond_icones)
            others = [f.read_text(encoding="utf-8", errors="ignore") for f in static.rglob("*.css")
                      if f.relative_to(static).as_posix() not in (THEME_SHEET, *LIGHTER.values())
                      and not f.name.startswith("cours-")]  # pas la feuille complète du thème
            light, sizes = profond_icones.subset_icon_fonts(static, light, others)
            for font, (before, after) in sizes.items():
                logger.info("profond_css : %s : %d → %d Kio", font, before // 1024, after // 1024)
        (static / lighter).write_text(light, encoding="utf-8")
        logger.info("profond_css : %s : %d → %d Kio", original, len(css) // 1024, len(light) // 1024)
    write_bundles(static, getattr(app, "_profond_bundles", {}))


def init(app: Sphinx) -> None:
    app.__dict__.setdefault("_profond_bundles", {})


def setup(app: Sphinx):
    app.connect("builder-inited", init)
    # Après le thème, qui réécrit pygments.css (couleurs claires et sombres) à la fin de la construction.
    app.connect("build-finished", write_lighter_stylesheets, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
