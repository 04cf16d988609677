"""Extension Sphinx locale du cours : les formules composées à la construction, en SVG.

Dans le navigateur, MathJax (1 Mo de script) compose chaque formule après le chargement : sur un
téléphone, c'est plusieurs secondes de calcul, et le premier paragraphe, qui contient souvent une
formule, n'est dessiné pour de bon qu'à la fin (Lighthouse le compte dans le « plus grand
affichage »). Ici, le même moteur (MathJax 3, paquet npm ``mathjax-full``, lancé par Node dans
``scripts/maths_svg.cjs``) compose les formules pendant la construction :

- chaque formule ``\\(…\\)`` ou ``\\[…\\]`` que Sphinx écrit dans la page (``span.math``,
  ``div.math``) est remplacée par son ``mjx-container`` SVG ; le numéro d'équation et son ancre
  restent en place ;
- les glyphes de la page sont écrits une seule fois, dans un ``<svg>`` caché à la fin du texte
  (cache de police « global ») ;
- chaque formule garde sa traduction MathML (``mjx-assistive-mml``) pour les lecteurs d'écran ;
  le SVG suit la couleur du texte (``currentColor``) : rien à faire pour le mode sombre ;
- une page sans formule restante ne charge plus MathJax (``profond_perf``).

Une formule que MathJax refuse (commande inconnue, accolade manquante) est un avertissement de
construction, avec sa page. Sans Node ou sans ``mathjax-full`` (``PROFOND_SANS_NPM=1``),
l'extension ne fait rien et MathJax compose les formules dans le navigateur, comme avant.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent
SCRIPT = ROOT / "maths_svg.cjs"
CSS_NAME = "maths-svg.css"

# Ce que le rendu « mathjax » de Sphinx écrit : \(…\) dans un span, \[…\] dans un div (précédé,
# pour une équation numérotée, de son numéro).
_MATH = re.compile(
    r'(?P<open><(?P<tag>span|div) class="math notranslate nohighlight"[^>]*>)'
    r'(?P<eqno>\s*<span class="eqno">.*?</span>)?'
    r'(?P<tex>\s*\\[(\[].*?\\[)\]]\s*)(?P<close></(?P=tag)>)',
    re.S)


def formulas(body: str) -> list[tuple[str, bool]]:
    """Les formules de ``body`` : (source TeX, en display ?), dans l'ordre."""
    out = []
    for m in _MATH.finditer(body):
        tex = m.group("tex").strip()
        out.append((html.unescape(tex[2:-2]), tex.startswith("\\[")))
    return out


class Composer:
    """Un processus Node qui compose les formules, page après page (lancé au premier besoin)."""

    def __init__(self, node_modules: Path):
        self.node_modules = node_modules
        self.proc = None

    @staticmethod
    def available(node_modules: Path) -> bool:
        return shutil.which("node") is not None and (node_modules / "mathjax-full" / "js" / "mathjax.js").exists()

    def _start(self) -> None:
        env = {"NODE_PATH": str(self.node_modules), "PATH": __import__("os").environ.get("PATH", "")}
        self.proc = subprocess.Popen(["node", str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, encoding="utf-8", env=env, cwd=str(ROOT.parent))

    def compose(self, items: list[tuple[str, bool]]) -> dict:
        if self.proc is None:
            self._start()
        request = {"formules": [{"tex": tex, "display": display} for tex, display in items]}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("le processus Node de composition des formules s'est arrêté")
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
            self.proc = None


# Ce que MathJax écrit pour ses propres outils (menu, explorateur) et dont une page statique n'a
# pas besoin : retiré, la page pèse 3 à 4 fois moins et compte moitié moins d'éléments.
_COMPACT = [
    (re.compile(r' data-mml-node="[^"]*"| data-c="[^"]*"| focusable="false"| xmlns(?::xlink)?="[^"]*"'
                r'| unselectable="on"| data-mjx-texclass="[^"]*"'), ""),
    (re.compile(r'xlink:href='), "href="),
    (re.compile(r' style="position: relative;"'), ""),  # dans maths-svg.css
    (re.compile(r' role="img"(?=[^>]* aria-hidden="true")'), ""),  # caché aux lecteurs d'écran (MathML à côté)
    # couleur et trait : dans maths-svg.css (currentColor), pas sur chaque formule
    (re.compile(r'<g stroke="currentColor" fill="currentColor" stroke-width="0" '), "<g "),
]
_BARE_GROUP = re.compile(r'<g>((?:<(?:use|rect) [^>]*></(?:use|rect)>)+)</g>')  # un groupe sans attribut
# un groupe qui ne fait que déplacer un seul glyphe : le déplacement passe sur le glyphe
_MOVED_GLYPH = re.compile(r'<g transform="([^"]*)"><use ([^>]*)></use></g>')
SVG_CSS = """
mjx-container[jax="SVG"] { position: relative; }
mjx-container[jax="SVG"] > svg { stroke: currentColor; fill: currentColor; stroke-width: 0; }
"""


def _move(m: re.Match) -> str:
    """``<g transform="A"><use … transform="B">`` → ``<use … transform="A B">`` (même effet)."""
    outer, attrs = m.group(1), m.group(2)
    inner = re.search(r' transform="([^"]*)"', attrs)
    if inner:
        attrs = attrs.replace(inner.group(0), "")
        outer = f"{outer} {inner.group(1)}"
    return f'<use {attrs} transform="{outer}"></use>'


def compact(svg: str) -> str:
    """Le SVG d'une formule, sans les attributs réservés aux outils interactifs de MathJax."""
    for pattern, repl in _COMPACT:
        svg = pattern.sub(repl, svg)
    previous = None
    while previous != svg:
        previous, svg = svg, _MOVED_GLYPH.sub(_move, _BARE_GROUP.sub(r"\1", svg))
    return svg


def render_body(body: str, composer: Composer, pagename: str) -> str:
    """``body`` avec ses formules composées en SVG (les glyphes en tête, une fois)."""
    items = formulas(body)
    if not items:
        return body
    result = composer.compose(items)
    for index, message in result["erreurs"]:
        tex = items[index][0]
        logger.warning("formule refusée par MathJax (%s) : %s", message, tex[:120], location=pagename)
    rendered = iter(result["html"])

    def replace(m: re.Match) -> str:
        svg = next(rendered)
        if svg is None:  # laissée à MathJax dans le navigateur
            return m.group(0)
        return m.group("open") + (m.group("eqno") or "") + compact(svg) + m.group("close")

    # Les glyphes à la fin du texte : le navigateur affiche le début de la page sans attendre
    # leurs tracés (les formules ont déjà leur taille ; un <use> trouve sa cible plus bas).
    return _MATH.sub(replace, body) + compact(result["defs"])


def on_page_context(app: Sphinx, pagename, templatename, context, doctree):
    composer = getattr(app, "_profond_composer", None)
    body = context.get("body", "")
    if composer is None or not body:
        return
    context["body"] = render_body(body, composer, pagename)


def init(app: Sphinx) -> None:
    app._profond_composer = None
    if app.builder.format != "html":
        return
    node_modules = Path(app.confdir) / "node_modules"
    if not Composer.available(node_modules):
        logger.info("profond_maths : Node ou mathjax-full absent, MathJax composera les formules dans le navigateur")
        return
    app._profond_composer = Composer(node_modules)
    # La feuille de style des formules SVG (celle que MathJax ajoute dans le navigateur).
    css = subprocess.run(["node", str(SCRIPT), "--css"], capture_output=True, text=True, check=True,
                         env={"NODE_PATH": str(node_modules), "PATH": __import__("os").environ.get("PATH", "")},
                         cwd=str(ROOT.parent)).stdout
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / CSS_NAME).write_text(css + SVG_CSS, encoding="utf-8")
    app.add_css_file(CSS_NAME, priority=600)


def finish(app: Sphinx, exception) -> None:
    composer = getattr(app, "_profond_composer", None)
    if composer is not None:
        composer.close()


def setup(app: Sphinx):
    app.connect("builder-inited", init)
    # Avant profond_perf (priorité 1000), qui décide de charger MathJax ou non selon ce qui reste.
    app.connect("html-page-context", on_page_context, priority=900)
    app.connect("build-finished", finish)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": False}
