"""Les outils du site qui transforment les pages à la construction : formules composées en SVG
(``scripts/profond_maths.py``), feuilles de style allégées et réunies (``scripts/profond_css.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import profond_css as pc  # noqa: E402
import profond_maths as pm  # noqa: E402

BODY = ('<p>Soit <span class="math notranslate nohighlight">\\(a &lt; b\\)</span> et</p>\n'
        '<div class="math notranslate nohighlight" id="equation-x">\n<span class="eqno">(1)'
        '<a class="headerlink" href="#equation-x">#</a></span>\\[\\sum_i x_i^2\\]</div>')


def test_formulas_are_found_unescaped_with_their_kind():
    assert pm.formulas(BODY) == [("a < b", False), ("\\sum_i x_i^2", True)]


def test_compact_drops_tool_attributes_and_folds_single_glyph_groups():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" role="img" focusable="false" aria-hidden="true">'
           '<g stroke="currentColor" fill="currentColor" stroke-width="0" transform="scale(1,-1)">'
           '<g data-mml-node="math"><g data-mml-node="mi" transform="translate(5,0)">'
           '<use data-c="1D465" xlink:href="#MJX-TEX-I-1D465"></use></g></g></g></svg>')
    out = pm.compact(svg)
    assert out == ('<svg aria-hidden="true">'
                   '<use href="#MJX-TEX-I-1D465" transform="scale(1,-1) translate(5,0)"></use></svg>')


@pytest.mark.skipif(not pm.Composer.available(ROOT / "node_modules"), reason="Node ou mathjax-full absent")
def test_render_body_replaces_every_formula_and_keeps_the_equation_number():
    composer = pm.Composer(ROOT / "node_modules")
    try:
        out = pm.render_body(BODY, composer, "essai")
    finally:
        composer.close()
    assert "\\(" not in out and "\\[" not in out
    assert out.count("<mjx-container") == 2 and out.count("<mjx-assistive-mml") == 2
    assert out.rstrip().endswith("</svg>") and out.count('id="MJX-SVG-global-cache"') == 1  # glyphes, une fois, à la fin
    assert out.index("MJX-SVG-global-cache") > out.rindex("<mjx-container")
    assert '<span class="eqno">(1)' in out and "<mo>&lt;</mo>" in out  # MathML pour les lecteurs d'écran


def test_selector_kept_only_if_all_its_classes_and_ids_exist():
    names = {"a", "b", "main"}
    assert pc.selector_used(".a .b", names)
    assert not pc.selector_used(".a .c", names)
    assert pc.selector_used(".a:not(.zzz)", names)  # ce qui est dans :not() ne compte pas
    assert pc.selector_used("#main > p", names) and not pc.selector_used("#autre", names)
    assert pc.selector_used("html[data-theme=dark] .a", names)  # attributs : gardés dans le doute


def test_purge_filters_rules_and_media_blocks_and_keeps_fonts():
    css = ("@font-face{font-family:x;src:url(a.woff2)}.a{color:red}.c{color:blue}.a,.c{margin:0}"
           "@media (max-width:10px){.c{top:0}}@media print{.a{top:1px}}")
    out = pc.purge_stylesheet(css, {"a"})
    assert out == "@font-face{font-family:x;src:url(a.woff2)}.a{color:red}.a{margin:0}@media print{.a{top:1px}}"


def test_bundle_links_and_bundle_content(tmp_path):
    static = tmp_path / "_static"
    (static / "styles").mkdir(parents=True)
    (static / "basic.css").write_text(".b{background:url(file.png)}", encoding="utf-8")
    (static / "styles" / "theme.css").write_text('@import "../basic.css";\n.t{src:url(../fonts/f.woff2)}',
                                                 encoding="utf-8")
    (static / "cours.css").write_text('@charset "UTF-8";.c{}', encoding="utf-8")
    head = ('<link href="../_static/styles/theme.css?digest=1" rel="stylesheet" />\n'
            '<link rel="stylesheet" type="text/css" href="../_static/cours.css?v=2" />\n')
    bundles: dict[str, list[str]] = {}
    out = pc.bundle_links(head, bundles)
    (name, files), = bundles.items()
    assert out.strip() == f'<link rel="stylesheet" href="../_static/{name}" />'
    assert files == ["styles/theme.css", "cours.css"]
    pc.write_bundles(static, bundles)
    text = (static / name).read_text(encoding="utf-8")
    assert 'url("file.png")' in text and 'url("fonts/f.woff2")' in text  # chemins relatifs à _static
    assert "@import" not in text and text.count("@charset") == 1 and text.index(".b{") < text.index(".t{")


# --- Code coloré allégé (scripts/profond_code.py) ----------------------------------------------

def test_neutral_classes_are_exactly_those_drawn_in_the_base_colour():
    import profond_code

    neutral = profond_code.neutral_classes()
    assert {"n", "p", "w"} <= neutral
    assert not neutral & {"k", "o", "s2", "mi", "c1", "nf", "kn"}  # mots-clés, opérateurs, chaînes...
    # un style où les noms ont leur propre couleur : ``n`` n'est plus neutre
    assert "n" not in profond_code.neutral_classes(("a11y-high-contrast-light", "one-dark"))


def test_unwrap_keeps_the_text_and_only_touches_code_blocks():
    import html
    import re

    import profond_code

    code = ('<div class="highlight"><pre><span></span><span class="n">model</span><span class="o">=</span>'
            '<span class="n">nn</span><span class="o">.</span><span class="n">Linear</span><span class="p">(</span>'
            '<span class="mi">2</span><span class="p">)</span></pre></div>')
    outside = '<p><span class="n">texte</span></p>'
    out = profond_code.unwrap_neutral_spans(outside + code, profond_code.neutral_classes())
    assert out.startswith(outside)  # hors des blocs de code : inchangé
    assert html.unescape(re.sub(r"<[^>]+>", "", out)) == "textemodel=nn.Linear(2)"
    assert out[len(outside):].count("<span") == 4  # le span vide de Pygments, deux opérateurs, le nombre


# --- Script du thème sans « layout thrashing » (scripts/profond_theme_js.py) -------------------

def test_the_pinned_theme_script_gets_its_tab_stop_loop_batched():
    import pydata_sphinx_theme

    import profond_theme_js as tj

    script = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static" / "scripts"
              / "pydata-sphinx-theme.js").read_text(encoding="utf-8")
    fixed = tj.batch_tab_stops(script)
    assert fixed is not None and fixed != script and tj.BATCHED in fixed and tj.INTERLEAVED not in fixed
    assert len(fixed) - len(script) == len(tj.BATCHED) - len(tj.INTERLEAVED)  # rien d'autre ne change
    assert tj.batch_tab_stops(fixed) == fixed  # une seconde construction ne réécrit rien


@pytest.mark.skipif(__import__("shutil").which("node") is None, reason="node absent")
def test_batched_loop_gives_the_same_tab_stops_as_the_theme():
    import json
    import subprocess

    import profond_theme_js as tj

    # Trois faux éléments : débordant en largeur, en hauteur, pas du tout.
    sizes = [(500, 300, 10, 10), (100, 300, 50, 10), (100, 300, 10, 10)]
    program = """
    const make = () => %s.map(([sw, cw, sh, ch]) => ({scrollWidth: sw, clientWidth: cw, scrollHeight: sh, clientHeight: ch}));
    const run = (loop) => { const l = make(); eval("l" + loop); return l.map(e => e.tabIndex); };
    console.log(JSON.stringify([run(%s), run(%s)]));
    """ % (json.dumps(sizes), json.dumps(tj.INTERLEAVED), json.dumps(tj.BATCHED))
    theirs, ours = json.loads(subprocess.run(["node", "-e", program], capture_output=True, text=True, check=True).stdout)
    assert theirs == ours == [0, 0, -1]


# --- Polices d'icônes réduites (scripts/profond_icones.py) --------------------------------------

def test_icon_fonts_are_subset_to_the_icons_the_css_keeps(tmp_path):
    import io
    import shutil

    import pydata_sphinx_theme
    from fontTools.ttLib import TTFont

    import profond_icones as pi

    theme_static = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
    webfonts = tmp_path / pi.WEBFONTS
    webfonts.mkdir(parents=True)
    for name in ("fa-solid-900", "fa-brands-400"):
        for ext in ("ttf", "woff2"):
            shutil.copy(theme_static / pi.WEBFONTS / f"{name}.{ext}", webfonts)
    github, rocket = "\uf09b", "\uf135"
    css = ('@font-face{font-family:X;src:url(../vendor/fontawesome/webfonts/fa-solid-900.woff2) format("woff2"),'
           'url(../vendor/fontawesome/webfonts/fa-solid-900.ttf) format("truetype")}'
           '@font-face{font-family:Y;src:url(../vendor/fontawesome/webfonts/fa-brands-400.woff2) format("woff2")}'
           f'.fa-github:before{{content:"{github}"}}.fa-rocket:before{{content:"{rocket}"}}')
    out, sizes = pi.subset_icon_fonts(tmp_path, css)
    assert ".woff2" not in out and out.count('format("woff")') == 2
    assert set(sizes) == {"fa-solid-900", "fa-brands-400"}
    for name, (before, after) in sizes.items():
        assert before > 100_000 and after < 5_000, (name, before, after)
    solid = TTFont(io.BytesIO(next(webfonts.glob("fa-solid-900.sous-ensemble-*.woff")).read_bytes()))
    brands = TTFont(io.BytesIO(next(webfonts.glob("fa-brands-400.sous-ensemble-*.woff")).read_bytes()))
    assert ord(rocket) in solid.getBestCmap() and ord(github) in brands.getBestCmap()  # les icônes y sont
    assert len(solid.getBestCmap()) <= 3  # et rien d'autre (au plus un caractère de plus)
    # une seconde construction remplace le sous-ensemble au lieu de l'accumuler
    pi.subset_icon_fonts(tmp_path, css)
    assert len(list(webfonts.glob("fa-solid-900.sous-ensemble-*.woff"))) == 1
