"""Typographie française par construction, dans le texte courant seulement.

Une seule fonction, :func:`typeset`, appliquée aux nœuds ``Text`` d'un document Sphinx, hors code,
formules, HTML brut et adresses (voir :data:`SKIP`). Elle tourne deux fois : à la lecture (pour
que les titres recueillis par Sphinx — table des matières, onglet, pages précédente/suivante —
soient justes) et en post-transformation (pour le texte inséré tard : ``glue``, renvois,
citations). Elle est idempotente.

Choix (tous deux admis par l'usage français ; celui-ci suit l'Imprimerie nationale) :

- espace fine insécable U+202F avant « ; ! ? » et avant « % » après un chiffre ;
- espace insécable U+00A0 avant « : » et à l'intérieur des guillemets « » ;
- apostrophe typographique « ’ » au lieu de « ' » ; guillemets droits "…" → « … ».

Les guillemets et apostrophes « intelligents » de docutils sont désactivés pour les guillemets
(``smartquotes_action = "De"`` : tirets et points de suspension seulement) : en français, docutils
rend une apostrophe suivie de gras (``l'**état**``) par un guillemet fermant anglais « ” ».
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

NBSP = "\u00a0"  # espace insécable
NNBSP = "\u202f"  # espace fine insécable
SPACES = " \t\n\u00a0\u202f"

# Nœuds dont le texte n'est jamais touché.
SKIP = (nodes.literal, nodes.literal_block, nodes.math, nodes.math_block, nodes.raw, nodes.comment,
        nodes.doctest_block, nodes.image, nodes.target, nodes.substitution_definition)

_BEFORE = {";": NNBSP, "!": NNBSP, "?": NNBSP, ":": NBSP, "»": NBSP}
_SPACE_BEFORE = re.compile(r"[ \t\n\u00a0\u202f]+([;!?:»])")
_NO_SPACE_BEFORE_GUILL = re.compile(r"(?<=[^\s\u00a0\u202f(\[])»")
_AFTER_GUILL = re.compile(r"«[ \t\n\u00a0\u202f]*")
_PERCENT = re.compile(r"(?<=\d)[ \t\n\u00a0]%")
_DOUBLE_QUOTES = re.compile(r'"')


def _skipped(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, SKIP):
            return True
        if isinstance(parent, nodes.reference):
            text = parent.astext()
            if text.startswith(("http://", "https://", "www.")) or text == parent.get("refuri"):
                return True
        classes = parent.get("classes", []) if isinstance(parent, nodes.Element) else []
        if "code" in classes or "pre" in classes:
            return True
        parent = parent.parent
    return False


def typeset_string(text: str) -> str:
    """Applique les règles à une chaîne de texte courant (sans contexte)."""
    text = text.replace("'", "’")
    text = _SPACE_BEFORE.sub(lambda m: _BEFORE[m.group(1)] + m.group(1), text)
    text = _AFTER_GUILL.sub("«" + NBSP, text)
    text = _NO_SPACE_BEFORE_GUILL.sub(NBSP + "»", text)
    text = _PERCENT.sub(NNBSP + "%", text)
    return text


def _quote(text: str, state: list[bool]) -> str:
    """Guillemets droits → « » ; ``state[0]`` vaut True à l'intérieur d'une citation."""
    out = []
    for ch in text:
        if ch != '"':
            out.append(ch)
            continue
        out.append(NBSP + "»" if state[0] else "«" + NBSP)
        state[0] = not state[0]
    return "".join(out)


def typeset(document: nodes.Node) -> int:
    """Corrige tous les nœuds texte du document ; renvoie le nombre de nœuds modifiés."""
    changed = 0
    if isinstance(document, nodes.document) and isinstance(document.get("title"), str):
        document["title"] = typeset_string(document["title"])  # <title> de la page
    for image in document.findall(nodes.image):
        if image.get("alt") and typeset_string(image["alt"]) != image["alt"]:
            image["alt"] = typeset_string(image["alt"])
            changed += 1
    for block in document.findall(nodes.TextElement):
        if isinstance(block, SKIP) or any(isinstance(p, nodes.TextElement) for p in _ancestors(block)):
            continue
        state = [False]
        previous: nodes.Text | None = None
        for text_node in list(block.findall(nodes.Text)):
            if _skipped(text_node):
                previous = None
                continue
            old = str(text_node)
            new = typeset_string(_quote(old, state) if '"' in old else old)
            # Ponctuation en tête de nœud : l'espace est à la fin du nœud précédent (« **gras** : »).
            if previous is not None and new[:1] in _BEFORE and str(previous)[-1:] in SPACES:
                fixed = str(previous).rstrip(SPACES) + _BEFORE[new[0]]
                if fixed != str(previous):
                    previous.parent.replace(previous, nodes.Text(fixed))
                    changed += 1
            if new != old:
                replacement = nodes.Text(new)
                text_node.parent.replace(text_node, replacement)
                text_node = replacement
                changed += 1
            previous = text_node
    return changed


def _ancestors(node: nodes.Node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _is_french(config) -> bool:
    return (config.language or "en").split("_")[0] == "fr"


class FrenchTypography(SphinxTransform):
    """À la lecture, après les guillemets de docutils (750) et avant ``doctree-read`` (880, où
    Sphinx recueille les titres) : les titres sont justes partout (menu, onglet, précédent/suivant)."""

    default_priority = 870

    def apply(self, **kwargs) -> None:
        if _is_french(self.config):
            typeset(self.document)


class FrenchTypographyResolved(SphinxPostTransform):
    """Après la résolution (glue, renvois, citations) : le texte inséré tard aussi."""

    default_priority = 900

    def run(self, **kwargs) -> None:
        if _is_french(self.config):
            typeset(self.document)


def no_smart_quotes(app, config) -> None:
    if _is_french(config):
        config.smartquotes_action = "De"


def setup(app) -> None:
    app.connect("config-inited", no_smart_quotes)
    app.add_transform(FrenchTypography)
    app.add_post_transform(FrenchTypographyResolved)
