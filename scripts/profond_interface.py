"""L'interface du site en français, et des boutons de navigation qui marchent sur téléphone.

Chargé par ``profond_sphinx`` (extension locale du cours). Tout passe par les mécanismes du thème
(options, gabarits, catalogue de traductions) ou par des nœuds du document, jamais par le HTML produit.

1. Navigation. pydata-sphinx-theme ≥ 0.17 remplit ``navbar_persistent`` (champ de recherche) quand
   l'utilisateur ne l'a pas fixé ; l'en-tête de pydata est alors produit, caché sur téléphone, avec
   ses propres boutons ``.primary-toggle`` / ``.secondary-toggle``. Le script du thème attache son
   gestionnaire au *premier* de ces boutons (``querySelector``) : le bouton caché, et le menu visible
   de sphinx-book-theme ne fait plus rien (pydata/pydata-sphinx-theme#2451). On fixe
   ``navbar_persistent = []`` : plus d'en-tête pydata, les seuls boutons sont ceux de
   sphinx-book-theme, qui reçoivent les gestionnaires (tiroir sur téléphone, repli de la barre
   latérale sur grand écran).
2. Textes de l'interface : champ de recherche, boutons de lancement (catalogue de repli pour les
   messages que la traduction française de sphinx-book-theme n'a pas), gabarits ``_templates/``
   (boutons de barre latérale, navigation principale, auteur), bascules de cellules de myst-nb
   (« Afficher le code » au lieu de « (source) » / « (content) »), bouton des solutions
   (``togglebutton_fr.js``).
3. Le titre de la page d'accueil n'est pas répété dans l'onglet (« X — X ») : ``_templates/layout.html``.
"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from sphinx.application import Sphinx

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "_templates"

SEARCH_TEXT = "Rechercher dans le cours…"

# Messages de sphinx-book-theme absents de sa traduction française (0.17/1.3.0).
BOOKTHEME_FR = {
    "Launch interactive content": "Lancer le contenu interactif",
    "Launch on": "Lancer sur",
    "Launch Thebe": "Exécuter dans la page (Thebe)",
    "logo": "(logo)",
    "By": "Par",
}

# Valeurs de ``{type}`` dans ``nb_code_prompt_show`` / ``nb_code_prompt_hide`` (myst-nb).
CELL_PARTS = {"source": "le code", "content": "la cellule", "output": "la sortie"}


class _Fallback(gettext.NullTranslations):
    """Catalogue minimal (un dictionnaire) placé en repli derrière celui du thème."""

    def __init__(self, messages: dict[str, str]):
        super().__init__()
        self.messages = messages

    def gettext(self, message):
        if message in self.messages:
            return self.messages[message]
        return super().gettext(message)


def configure_theme(app: Sphinx, config) -> None:
    """Options du thème et gabarits du cours (à ``config-inited``, avant le thème)."""
    options = dict(config.html_theme_options or {})
    options["navbar_persistent"] = []
    if (config.language or "en").startswith("fr"):
        options["search_bar_text"] = SEARCH_TEXT
        options.setdefault("toc_title", "Sur cette page")
    config.html_theme_options = options
    templates = [str(TEMPLATES)] + [p for p in (config.templates_path or []) if p != str(TEMPLATES)]
    config.templates_path = templates


def add_booktheme_messages(app: Sphinx) -> None:
    """Ajoute les messages manquants au catalogue « booktheme » (en repli : le thème garde la main)."""
    if not (app.config.language or "en").startswith("fr"):
        return
    from sphinx.locale import translators

    translator = translators.get(("general", "booktheme"))
    if translator is None or type(translator) is gettext.NullTranslations:
        translators[("general", "booktheme")] = _Fallback(BOOKTHEME_FR)
    elif not isinstance(translator, _Fallback):
        fallback = translator
        while getattr(fallback, "_fallback", None) is not None:
            if isinstance(fallback._fallback, _Fallback):
                return
            fallback = fallback._fallback
        translator.add_fallback(_Fallback(BOOKTHEME_FR))


def french_cell_prompt(text: str) -> str:
    """« Afficher source » → « Afficher le code » (``{type}`` remplacé par myst-nb en anglais)."""
    return re.sub(r"\b(source|content|output)\b", lambda m: CELL_PARTS[m.group(1)], text)


def _hide_cell_nodes():
    from myst_nb.sphinx_ import HideCodeCellNode

    return HideCodeCellNode


def visit_hide_cell(self, node) -> None:
    """Comme myst-nb, sans ``aria-label`` anglais : le nom accessible est le texte visible."""
    from html import escape

    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n<summary>\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(french_cell_prompt(node["prompt_show"]))}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(french_cell_prompt(node["prompt_hide"]))}</p>\n')
    self.body.append("</summary>\n")


def depart_hide_cell(self, node) -> None:
    self.body.append("</details>\n")


def plain_title(value) -> str:
    """Comme le filtre ``striptags`` de Jinja, mais sans changer les espaces insécables en espaces
    ordinaires (``str.split`` les traite comme des blancs) : titre de l'onglet en bon français."""
    from markupsafe import Markup

    text = Markup(re.sub(r"<[^>]*>", "", str(value or ""))).unescape()
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def add_template_filters(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["titre_brut"] = plain_title


def setup(app: Sphinx) -> None:
    app.connect("config-inited", configure_theme)
    app.connect("builder-inited", add_booktheme_messages)
    app.connect("builder-inited", add_template_filters)
    app.add_node(_hide_cell_nodes(), override=True, html=(visit_hide_cell, depart_hide_cell))
    app.add_js_file("togglebutton_fr.js", priority=600)
