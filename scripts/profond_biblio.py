"""Citations et bibliographie en français (sphinxcontrib-bibtex + pybtex).

- Style de renvoi ``auteur_annee`` : comme ``author_year`` de sphinxcontrib-bibtex, mais « Sutton et
  Barto, 2018 » et « Degris *et al.*, 2012 » (le style d'origine écrit « and »). Choisi dans
  ``_config.yml`` par ``bibtex_reference_style: auteur_annee``.
- Style de bibliographie ``francais`` : le style ``alpha`` de pybtex (même tri), avec « et » entre
  les auteurs (sans virgule avant le dernier) et les mots du gabarit en français (« Dans », « éd. »,
  « édition », « Thèse de doctorat »…). Choisi par ``bibtex_default_style: francais``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pybtex.plugin import register_plugin
from pybtex.style.formatting import alpha
from pybtex.style.template import Node, names, sentence
from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex_plugin
from sphinxcontrib.bibtex.style.referencing import PersonStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

# Mots écrits en dur dans les gabarits de pybtex (style unsrt, dont alpha hérite).
TEMPLATE_WORDS = {
    "In": "Dans",
    "edition": "édition",
    "editor": "éd.",
    "editors": "éd.",
    "Volume": "Volume",
    "volume": "volume",
    "Number": "Numéro",
    "number": "numéro",
    "of": "de",
    "in": "dans",
    "pages": "pages",
    "PhD thesis": "Thèse de doctorat",
    "Master's thesis": "Mémoire de master",
    "Technical Report": "Rapport technique",
    "chapter": "chapitre",
    "URL:": "URL\u00a0:",  # espace insécable avant le deux-points
}


def _french_person_style() -> PersonStyle:
    return PersonStyle(sep=", ", sep2=" et ", last_sep=" et ")


@dataclass
class AuteurAnneeReferenceStyle(AuthorYearReferenceStyle):
    """Renvois auteur–année en français : « Sutton et Barto, 2018 », « Degris *et al.*, 2012 »."""

    person: PersonStyle = field(default_factory=_french_person_style)


def translate_template(node):
    """Copie d'un gabarit pybtex où les mots anglais écrits en dur sont traduits."""
    if isinstance(node, str):
        return TEMPLATE_WORDS.get(node, node)
    if not isinstance(node, Node):
        return node
    copy = node._clone()
    copy.children = [translate_template(child) for child in node.children]
    copy.args = [translate_template(arg) if isinstance(arg, Node) else arg for arg in node.args]
    return copy


class FrenchStyle(alpha.Style):
    """Style ``alpha`` de pybtex, en français."""

    def format_names(self, role, as_sentence=True):
        formatted = names(role, sep=", ", sep2=" et ", last_sep=" et ")
        return sentence[formatted] if as_sentence else formatted

    def format_editor(self, e, as_sentence=True):
        return translate_template(super().format_editor(e, as_sentence))

    def format_edition(self, e):
        return translate_template(super().format_edition(e))

    def format_volume_and_series(self, e, as_sentence=True):
        return translate_template(super().format_volume_and_series(e, as_sentence))

    def format_chapter_and_pages(self, e):
        return translate_template(super().format_chapter_and_pages(e))

    def format_url(self, e):
        return translate_template(super().format_url(e))


def _translated(method):
    def get_template(self, e):
        return translate_template(method(self, e))

    get_template.__name__ = method.__name__
    return get_template


for _name in dir(alpha.Style):
    if _name.startswith("get_") and _name.endswith("_template"):
        setattr(FrenchStyle, _name, _translated(getattr(alpha.Style, _name)))


def setup(app) -> None:
    register_plugin("pybtex.style.formatting", "francais", FrenchStyle, force=True)
    register_bibtex_plugin("sphinxcontrib.bibtex.style.referencing", "auteur_annee",
                           AuteurAnneeReferenceStyle, force=True)
