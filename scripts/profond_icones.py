"""Les polices d'icônes du thème réduites aux icônes que le site affiche.

pydata-sphinx-theme dessine ses icônes (GitHub, téléchargement, recherche, thème clair/sombre…)
avec les polices Font Awesome : 152 Kio pour ``fa-solid-900.woff2`` et 115 Kio pour
``fa-brands-400.woff2``, chargées par chaque page pour une quinzaine de glyphes. Sur un téléphone
en 4G lente, c'était le plus gros téléchargement de la page, devant le HTML, et la déclaration
``font-display: block`` retarde l'affichage des icônes jusqu'à leur arrivée.

Appelé par ``profond_css`` après l'allègement de la feuille du thème : les règles d'icônes qui y
restent (``.fa-github:before{content:"…"}``) sont celles que le site utilise. On en extrait les
caractères, avec ceux des variables (``--pst-icon-…``, icônes des encadrés) et des autres feuilles
du site (échappements ``\\f107``), on réduit chaque police à ces caractères (fontTools, déjà installé avec
matplotlib ; à partir des ``.ttf`` du thème, format WOFF, qui ne demande pas de module brotli), et
les ``@font-face`` de la feuille allégée pointent vers ces sous-ensembles.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

WEBFONTS = Path("vendor") / "fontawesome" / "webfonts"
_CONTENT = re.compile(r'content:\s*"([^"]*)"')
_ESCAPE = re.compile(r'\\([0-9a-fA-F]{1,6})\s?')
# src:url(…/fa-solid-900.woff2) format("woff2"),url(…/fa-solid-900.ttf) format("truetype")
_SRC = re.compile(r'src:url\((?P<dir>[^)]*?)(?P<name>fa-[\w-]+)\.woff2\)\s*format\("woff2"\)'
                  r'(?:,url\([^)]*?\.ttf\)\s*format\("truetype"\))?')


def icon_characters(css: str) -> set[str]:
    """Les caractères d'icônes que ``css`` peut afficher : ceux des règles ``content``, et tout
    caractère de la zone privée d'Unicode (U+E000–U+F8FF, celle des icônes), écrit tel quel (dans
    une variable ``--pst-icon-…`` par exemple) ou échappé (``"\\f107"``).

    >>> sorted(icon_characters('.a:before{content:"\uf09b"}.b:after{content: "x"}'))
    ['x', '\uf09b']
    >>> sorted(icon_characters(':root{--i:"\ue001"}.c:after{content:"\\\\f107"}'))
    ['\ue001', '\uf107']
    """
    def unescape(text: str) -> str:
        return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)

    chars = {ch for text in _CONTENT.findall(css) for ch in unescape(text)}
    return chars | {ch for ch in unescape(css) if 0xE000 <= ord(ch) <= 0xF8FF}


def subset_font(source: Path, characters: set[str]) -> bytes:
    """La police ``source`` (TrueType) réduite à ``characters``, au format WOFF."""
    import io

    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters))
    subsetter.subset(font)
    out = io.BytesIO()
    subset.save_font(font, out, options)
    return out.getvalue()


def subset_icon_fonts(static: Path, css: str, others=()) -> tuple[str, dict[str, tuple[int, int]]]:
    """``css`` (la feuille allégée du thème) dont les ``@font-face`` Font Awesome pointent vers des
    sous-ensembles écrits dans ``static/vendor/fontawesome/webfonts`` ; et, par police, la taille
    d'origine (woff2) et celle du sous-ensemble, en octets. Les sous-ensembles gardent les icônes de
    ``css`` et des autres feuilles ``others`` (textes). Une police sans ``.ttf`` reste telle quelle."""
    characters = set().union(icon_characters(css), *(icon_characters(o) for o in others))
    sizes: dict[str, tuple[int, int]] = {}

    def replace(m: re.Match) -> str:
        name = m.group("name")
        source = static / WEBFONTS / f"{name}.ttf"
        if not source.exists():
            return m.group(0)
        data = subset_font(source, characters)
        digest = hashlib.sha256(data).hexdigest()[:10]
        target = f"{name}.sous-ensemble-{digest}.woff"
        for old in (static / WEBFONTS).glob(f"{name}.sous-ensemble-*.woff"):  # ceux d'une construction passée
            old.unlink()
        (static / WEBFONTS / target).write_bytes(data)
        original = static / WEBFONTS / f"{name}.woff2"
        sizes[name] = (original.stat().st_size if original.exists() else 0, len(data))
        return f'src:url({m.group("dir")}{target}) format("woff")'

    return _SRC.sub(replace, css), sizes
