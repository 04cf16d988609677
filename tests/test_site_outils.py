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
