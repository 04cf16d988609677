"""Extension Sphinx locale : un site léger et accessible, sur téléphone comme sur ordinateur.

Mesuré par Lighthouse et axe-core (``benchmarks/bench_site.py``, ``tests/site``). Sur chaque page :

1. Pas de ressource bloquante inutile. Les feuilles du thème et de sphinx-design sont remplacées
   par leurs versions allégées de ce que le site n'utilise pas (``profond_css``). Le thème charge sur toutes les pages, dans ``<head>`` et de
   façon bloquante, l'index et les outils de recherche (``searchindex.js``, ``searchtools.js``,
   ``language_data.js``) : on ne les garde que sur la page de recherche (la boîte de recherche des
   autres pages y envoie). ``fontawesome.js`` (1,4 Mo) redessine en SVG des icônes que la feuille
   du thème affiche déjà avec la police Font Awesome : on le retire. Les scripts du site sont
   différés (``defer``, ordre conservé), sauf ``documentation_options.js``.
2. MathJax seulement sur les pages qui ont encore des formules à composer (``profond_maths`` les
   compose à la construction ; Jupyter Book installe MathJax partout), et tard et paresseux : chargé après l'événement ``load`` (le texte s'affiche d'abord), une formule
   n'est composée que quand elle approche de l'écran (``ui/lazy``).
3. Animations : les images d'une animation matplotlib (``to_jshtml``, jusqu'à 800 Kio en base64
   dans la page) partent dans un fichier ``_anim/<empreinte>.js`` chargé quand le lecteur approche
   de l'écran ; la page garde la première image, et l'image reçoit ses dimensions (pas de saut de
   mise en page).
4. Images des cellules : dimensions (``width``/``height``, pas de saut de mise en page) et
   chargement différé hors de l'écran (``loading="lazy"``).
5. Bibliographie : les entrées de la liste de références ont le rôle ``listitem`` attendu par
   ``role="list"`` (docutils leur donne ``doc-biblioentry``, que la liste n'accepte pas).
6. Une balise ``<meta name="description">`` tirée du premier paragraphe de la page (moteurs de
   recherche, aperçus de lien).
7. ``node_modules`` (outils de mesure npm) n'est jamais lu comme une source du livre.

Les règles de mise en page pour téléphone sont dans ``static/mobile.css`` et
``static/perf-mobile.js`` (formules, tableaux et code qui défilent avec un indice visible).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from html import escape
from pathlib import Path

from sphinx.application import Sphinx

from profond_css import bundle_links, lighter_links

TEMPLATE_NAME = "profond-perf-page.html"
# Le gabarit de page du thème, dont on filtre deux blocs de l'en-tête.
TEMPLATE = """{%- extends "page.html" %}
{%- block css %}{{ super() | perf_sans_scripts(false) }}{% endblock %}
{%- block extrahead %}{{ super() | perf_sans_scripts(true) }}{% endblock %}
"""
SEARCH_SCRIPTS = ("searchindex.js", "searchtools.js", "language_data.js")
DESCRIPTION_MAX = 155


def sans_scripts(html: str, search_too: bool) -> str:
    """Retire de ``html`` la balise de ``fontawesome.js`` (et celles de la recherche si demandé)."""
    names = ("fontawesome.js",) + (SEARCH_SCRIPTS if search_too else ())
    pattern = r'\s*<script[^>]*src="[^"]*(?:%s)[^"]*"[^>]*></script>' % "|".join(map(re.escape, names))
    return re.sub(pattern, "", str(html))


def register_template(app: Sphinx) -> None:
    if app.builder.format != "html" or not hasattr(app.builder, "templates"):
        return
    from jinja2 import DictLoader
    from markupsafe import Markup

    templates = app.builder.templates
    templates.loaders.insert(0, DictLoader({TEMPLATE_NAME: TEMPLATE}))
    bundles = app.__dict__.setdefault("_profond_bundles", {})  # profond_css : feuilles réunies

    def head_filter(html, search_too):
        html = sans_scripts(html, search_too)
        return Markup(html if search_too else bundle_links(lighter_links(html), bundles))

    templates.environment.filters["perf_sans_scripts"] = head_filter


def exclude_node_modules(app: Sphinx, config) -> None:
    if "node_modules" not in config.exclude_patterns:
        config.exclude_patterns.append("node_modules")


# --- 2. MathJax ----------------------------------------------------------------------------------

MATHJAX_LAZY = "ui/lazy.js"


def lazy_mathjax(app: Sphinx, config) -> None:
    """MathJax ne compose une formule que quand elle approche de l'écran (extension ``ui/lazy``) :
    une page de 50 formules ne bloque plus le fil principal pendant des secondes au chargement."""
    cfg = dict(config.mathjax3_config or {})
    loader = dict(cfg.get("loader", {}))
    load = list(loader.get("load", []))
    if "ui/lazy" not in load:
        load.append("ui/lazy")
    loader["load"] = load
    cfg["loader"] = loader
    config.mathjax3_config = cfg


def copy_mathjax_lazy(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from importlib import metadata

    import shutil

    dist = metadata.distribution("sphinx-mathjax-offline")
    for f in dist.files or ():
        if str(f).endswith("static/mathjax/" + MATHJAX_LAZY):
            target = Path(app.outdir) / "_static" / "mathjax" / MATHJAX_LAZY
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dist.locate_file(f), target)
            return
    raise RuntimeError(f"MathJax {MATHJAX_LAZY} introuvable dans sphinx-mathjax-offline.")


# --- 3. Animations -----------------------------------------------------------------------------

_FRAME = re.compile(r'\n\s*frames\[(\d+)\] = "(data:image/[a-z]+;base64,[^"]*)";?')
_ANIM_SCRIPT = re.compile(
    r'(<script language="javascript">\s*/\* Instantiate the Animation class\. \*/.*?'
    r'var img_id = "(_anim_img[0-9a-f]+)";.*?var frames = new Array\((\d+)\);)(.*?)(\n\s*/\* set a timeout)',
    re.S)
ANIM_LOADER = """
    for (var i = 1; i < frames.length; i++) frames[i] = frames[0];
    window.profondAnimFrames = window.profondAnimFrames || function (id, data) {
      var a = window["anim" + id];
      if (!a) { setTimeout(function () { window.profondAnimFrames(id, data); }, 50); return; }
      for (var i = 0; i < data.length; i++) a.frames[i + 1].src = data[i];
    };
    (function (id, src) {
      var box = document.getElementById("_anim_img" + id).parentNode, done = false;
      function load() {
        if (done) return; done = true;
        var s = document.createElement("script"); s.src = src; s.async = true; document.head.appendChild(s);
      }
      if ("IntersectionObserver" in window) {
        var io = new IntersectionObserver(function (es) {
          if (es.some(function (e) { return e.isIntersecting; })) { io.disconnect(); load(); }
        }, {rootMargin: "800px 0px"});
        io.observe(box);
      } else { load(); }
      box.addEventListener("pointerdown", load, true);
      box.addEventListener("focusin", load, true);
    })("%(id)s", "%(src)s");"""


def _png_size(data_uri: str) -> tuple[int, int] | None:
    b64 = data_uri.split(",", 1)[1].replace("\\\n", "").replace("\n", "")
    raw = base64.b64decode(b64[:32])
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", raw[16:24])


def externalize_animations(body: str, outdir: Path, root_rel: str) -> str:
    """Sort les images 2…N de chaque animation dans ``_anim/<empreinte>.js`` (voir le point 3)."""

    def replace(m: re.Match) -> str:
        head, img_id, n, frames_js, tail = m.groups()
        frames = [(int(i), uri.replace("\\\n", "")) for i, uri in _FRAME.findall(frames_js)]
        if len(frames) != int(n) or len(frames) < 2:
            return m.group(0)
        frames.sort()
        anim_id = img_id[len("_anim_img"):]
        rest = [uri for _, uri in frames[1:]]
        payload = 'window.profondAnimFrames("%s", [\n%s\n]);\n' % (anim_id, ",\n".join(f'"{u}"' for u in rest))
        digest = hashlib.sha1(payload.encode()).hexdigest()[:16]
        target = outdir / "_anim" / f"{digest}.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(payload, encoding="ascii")
        first = f'\n    frames[0] = "{frames[0][1]}";'
        loader = ANIM_LOADER % {"id": anim_id, "src": f"{root_rel}_anim/{digest}.js"}
        return head + first + loader + tail

    body = _ANIM_SCRIPT.sub(replace, body)

    def size_player_image(m: re.Match) -> str:
        tag, img_id = m.group(0), m.group(1)
        first = re.search(r'var img_id = "%s";.*?frames\[0\] = "([^"]*)"' % img_id, body, re.S)
        size = _png_size(first.group(1)) if first else None
        if not size or " width=" in tag:
            return tag
        return tag[:-1] + f' width="{size[0]}" height="{size[1]}">'

    return re.sub(r'<img [^>]*id="(_anim_img[0-9a-f]+)"[^>]*>', size_player_image, body)


# --- 4. Images -----------------------------------------------------------------------------------

def size_images(body: str, page_dir: Path) -> str:
    """``width``/``height`` d'après le fichier, et ``loading="lazy"`` sauf pour la première image."""
    from PIL import Image

    seen = 0

    def replace(m: re.Match) -> str:
        nonlocal seen
        tag, src = m.group(0), m.group(1)
        if "_images/" not in src or src.endswith(".svg"):
            return tag
        seen += 1
        extra = ""
        if " width=" not in tag and " height=" not in tag:
            try:
                with Image.open(page_dir / src) as im:
                    extra += f' width="{im.width}" height="{im.height}"'
            except OSError:
                pass
        if seen > 1 and "loading=" not in tag:
            extra += ' loading="lazy"'
        if "decoding=" not in tag:
            extra += ' decoding="async"'
        return tag[:-1].rstrip("/").rstrip() + extra + ">"

    return re.sub(r'<img [^>]*src="([^"]+)"[^>]*>', replace, body)


# --- 6. Description ------------------------------------------------------------------------------

def description(doctree) -> str:
    """Le premier vrai paragraphe de la page, coupé à ~155 caractères sur une fin de mot."""
    from docutils import nodes

    for para in doctree.findall(nodes.paragraph):
        if any(isinstance(a, (nodes.admonition, nodes.Admonition, nodes.table, nodes.footnote, nodes.citation))
               for a in _ancestors(para)):
            continue
        text = " ".join(_text_without_math(para).split())
        if len(text) < 40:
            continue
        if len(text) > DESCRIPTION_MAX:
            text = text[:DESCRIPTION_MAX].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return text
    return ""


def _text_without_math(node) -> str:
    from docutils import nodes

    parts = []
    for t in node.findall(nodes.Text):
        if not any(isinstance(a, (nodes.math, nodes.math_block, nodes.raw)) for a in _ancestors(t)):
            parts.append(t.astext())
    text = "".join(parts)
    # une formule retirée laisse « paramètres  qui » : on resserre les espaces et la ponctuation
    return re.sub(r"\s+([,.;:)])", r"\1", re.sub(r"\s+", " ", text))


def _ancestors(node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def _has_math(body: str) -> bool:
    """Reste-t-il des formules à composer dans le navigateur ? (``profond_maths`` compose les
    autres à la construction : leur ``span.math`` ne contient plus de délimiteur.)"""
    return "\\(" in body or "\\[" in body or "$$" in body


LATE_LOADER = ("(function () { function go() { var s = document.createElement('script'); s.src = '%s'; "
               "s.async = true; document.head.appendChild(s); } "
               "if (document.readyState === 'complete') go(); else window.addEventListener('load', go); })();")


def _late_script(url: str):
    """MathJax chargé après l'événement ``load`` : le texte s'affiche d'abord, les formules ensuite,
    et le chargement de MathJax (1 Mo) ne retarde ni le premier affichage ni les images."""
    from sphinx.builders.html._assets import _JavaScript

    return _JavaScript(None, body=LATE_LOADER % url.replace("'", "%27"))


# Scripts de la page qui n'ont pas à bloquer l'affichage : tous nos fichiers, sauf
# documentation_options.js dont les scripts en ligne qui suivent ont besoin tout de suite. Les
# scripts différés s'exécutent dans l'ordre de la page, avant DOMContentLoaded.
SYNC_SCRIPTS = ("documentation_options.js",)


def _inline_documentation_options(app: Sphinx):
    """``documentation_options.js`` (quelques lignes, que les scripts en ligne qui suivent lisent
    tout de suite) écrit dans la page plutôt que chargé : un aller-retour bloquant de moins."""
    cached = getattr(app, "_profond_doc_options", None)
    if cached is None:
        import sphinx

        source = Path(sphinx.__file__).parent / "themes" / "basic" / "static" / "documentation_options.js.jinja"
        if not source.exists():
            return None
        from sphinx.builders.html._assets import _JavaScript

        body = app.builder.templates.render_string(source.read_text(encoding="utf-8"), app.builder.globalcontext)
        cached = app._profond_doc_options = _JavaScript(None, body=body)
    return cached


def _deferrable(name: str, attrs: dict) -> bool:
    if not name or "://" in name or "async" in attrs or "defer" in attrs:
        return False
    return Path(name.split("?")[0]).name not in SYNC_SCRIPTS


def on_page_context(app: Sphinx, pagename, templatename, context, doctree):
    if app.builder.format != "html":
        return None
    body = context.get("body", "")
    root_rel = "../" * pagename.count("/")
    if body:
        if "_anim_img" in body:
            body = externalize_animations(body, Path(app.outdir), root_rel)
        body = size_images(body, (Path(app.outdir) / pagename).parent)
        body = body.replace('role="doc-biblioentry"', 'role="listitem"')
        context["body"] = body
    scripts = context.get("script_files")
    if scripts is not None:
        keep = []
        for js in scripts:
            name = str(getattr(js, "filename", js) or "")
            attrs = getattr(js, "attributes", {})
            if pagename != "search" and Path(name.split("?")[0]).name in SYNC_SCRIPTS:
                inline = _inline_documentation_options(app)
                if inline is not None:  # dans la page : un aller-retour de moins avant l'affichage
                    keep.append(inline)
                    continue
            if pagename != "search" and ("mathjax" in name.lower() or "window.MathJax" in str(attrs.get("body", ""))):
                if not _has_math(body):
                    continue
                if name.endswith(".js"):
                    js = _late_script(context["pathto"](name, resource=True))
            # La page de recherche charge ses outils sans defer, après les nôtres : on n'y touche pas.
            if pagename != "search" and _deferrable(name, attrs) and hasattr(js, "attributes"):
                # une copie : les mêmes objets servent à toutes les pages (dont celle de recherche)
                from sphinx.builders.html._assets import _JavaScript

                js = _JavaScript(js.filename, priority=js.priority, **{**js.attributes, "defer": "defer"})
            keep.append(js)
        scripts[:] = keep
    if doctree is not None:
        text = description(doctree)
        if not text and context.get("title"):
            # une page sans paragraphe (bibliographie) : son titre et celui du cours
            title = re.sub(r"<[^>]+>", "", str(context["title"]))
            text = f"{title} — {context.get('docstitle') or app.config.html_title}"
        if text:
            context["metatags"] = context.get("metatags", "") + f'\n<meta name="description" content="{escape(text)}" />'
    if templatename == "page.html":
        return TEMPLATE_NAME
    return None


def setup(app: Sphinx):
    app.connect("config-inited", exclude_node_modules)
    app.connect("config-inited", lazy_mathjax)
    app.connect("build-finished", copy_mathjax_lazy)
    app.add_js_file("perf-mobile.js", priority=900)
    app.connect("builder-inited", register_template)
    app.connect("html-page-context", on_page_context, priority=1000)
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
