"""Extension Sphinx du cours : un code coloré plus léger pour le navigateur.

Pygments entoure chaque mot d'un ``<span class="…">``, même ceux que les deux thèmes (clair et
sombre) affichent dans la couleur ordinaire du code : noms (``n``), ponctuation (``p``), blancs
(``w``)… Sur une page du cours, ces éléments inutiles représentaient près d'un quart des nœuds
du DOM (≈ 3 600 sur 15 500 dans ``introduction``), et le téléphone doit tous les styler et les
placer. On retire ces ``<span>`` au moment d'écrire la page (le texte reste identique au
caractère près : copie, recherche et lecteurs d'écran n'y voient aucune différence).

Les classes retirées se déduisent des styles Pygments du thème : une classe est « neutre » si,
dans chaque style, sa seule règle est la couleur de base du bloc de code (ou si elle n'a pas de
règle).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pygments.formatters import HtmlFormatter
from sphinx.application import Sphinx

# Styles par défaut de pydata-sphinx-theme (``pygments_light_style`` / ``pygments_dark_style``).
DEFAULT_STYLES = ("a11y-high-contrast-light", "a11y-high-contrast-dark")
_RULE = re.compile(r"^\.highlight(?: \.(?P<cls>[\w-]+))? \{ (?P<decl>[^}]*?) \}", re.M)
_BLOCK = re.compile(r'(<div class="highlight[^"]*"><pre>)(.*?)(</pre></div>)', re.S)


@lru_cache(maxsize=None)
def _rules(style: str) -> tuple[str, dict[str, str]]:
    """La couleur de base du bloc de code et les déclarations de chaque classe, pour ``style``."""
    base, rules = "", {}
    for m in _RULE.finditer(HtmlFormatter(style=style).get_style_defs(".highlight")):
        decl = m.group("decl").strip().rstrip(";")
        if m.group("cls") is None:
            colour = [d for d in decl.split(";") if d.strip().startswith("color:")]
            base = colour[0].split(":", 1)[1].strip().lower() if colour else ""
        else:
            rules[m.group("cls")] = decl.replace(" ", "").lower()
    return base, rules


def neutral_classes(styles=DEFAULT_STYLES) -> frozenset[str]:
    """Les classes Pygments affichées comme le texte ordinaire du code dans tous les ``styles``.

    >>> {"n", "p"} <= neutral_classes() and "k" not in neutral_classes()
    True
    """
    def neutral_in(style: str, cls: str) -> bool:  # sans règle, ou la seule couleur de base
        base, rules = _rules(style)
        return cls not in rules or rules[cls] == f"color:{base}"

    every = set().union(*(_rules(style)[1] for style in styles))
    return frozenset(c for c in every if all(neutral_in(style, c) for style in styles))


def unwrap_neutral_spans(html: str, classes: frozenset[str]) -> str:
    """``html`` où, dans les blocs de code, les ``<span>`` des ``classes`` neutres sont remplacés
    par leur texte.

    >>> unwrap_neutral_spans('<div class="highlight"><pre><span class="n">x</span>'
    ...                      '<span class="o">=</span><span class="mi">1</span></pre></div>', frozenset({"n"}))
    '<div class="highlight"><pre>x<span class="o">=</span><span class="mi">1</span></pre></div>'
    """
    if not classes:
        return html
    span = re.compile(r'<span class="(?:%s)">([^<]*)</span>' % "|".join(map(re.escape, sorted(classes))))
    return _BLOCK.sub(lambda m: m.group(1) + span.sub(r"\1", m.group(2)) + m.group(3), html)


def on_page_context(app: Sphinx, pagename, templatename, context, doctree):
    body = context.get("body")
    if body:
        context["body"] = unwrap_neutral_spans(body, app._profond_neutral)


def init(app: Sphinx) -> None:
    options = app.config.html_theme_options or {}
    styles = (options.get("pygments_light_style", DEFAULT_STYLES[0]),
              options.get("pygments_dark_style", DEFAULT_STYLES[1]))
    app._profond_neutral = neutral_classes(styles)


def setup(app: Sphinx):
    app.connect("builder-inited", init)
    app.connect("html-page-context", on_page_context, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
