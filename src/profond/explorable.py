"""Figures explorables sans noyau : des images précalculées, choisies par des curseurs.

Comme les animations (:mod:`profond.animation`), tout est calculé à la construction du site et
intégré à la page : le lecteur déplace des curseurs (un par paramètre) et voit l'image
correspondante, sans Python. Chaque curseur a une étiquette et annonce sa valeur en français
(lecteurs d'écran).
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from html import escape
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt

from profond.animation import palette_png

__all__ = ["explorable_html"]


def explorable_html(draw: Callable[..., None], sliders: Mapping[str, Sequence],
                    labels: Mapping[str, tuple[str, Callable]],
                    alt: str, initial: Mapping[str, int] | None = None, figsize=(5.0, 3.6), dpi: int = 80,
                    max_bytes: int = 1_200_000):
    """Une figure pilotée par des curseurs.

    ``sliders`` associe à chaque nom de paramètre la liste de ses valeurs ; ``draw(fig, **valeurs)``
    dessine l'image d'une combinaison (sur une figure vide) ; ``labels[nom]`` vaut
    ``(symbole affiché, format)``, où ``format(valeur)`` écrit la valeur en français (par exemple
    avec :func:`profond.fr.number`). Toutes les
    combinaisons sont précalculées : leur nombre est le produit des longueurs.
    """
    from IPython.display import HTML

    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("`alt` doit être un texte non vide décrivant la figure.")
    names = list(sliders)
    if not names or any(len(sliders[n]) == 0 for n in names):
        raise ValueError("Il faut au moins un curseur, chacun avec au moins une valeur.")
    if set(labels) != set(names):
        raise ValueError(f"`labels` doit donner un format pour chaque curseur : {names}.")
    frames, total = {}, 0
    fig = plt.figure(figsize=figsize)
    for idx in itertools.product(*(range(len(sliders[n])) for n in names)):
        fig.clear()
        draw(fig, **{n: sliders[n][i] for n, i in zip(names, idx)})
        data = base64.b64encode(palette_png(fig, dpi)).decode("ascii")
        total += len(data)
        if total > max_bytes:
            plt.close(fig)
            raise ValueError(f"La figure explorable dépasse {max_bytes} octets : moins de valeurs, ou un dpi plus bas.")
        frames[",".join(map(str, idx))] = data
    plt.close(fig)
    start = [int((initial or {}).get(n, 0)) for n in names]
    uid = "explo" + uuid.uuid5(uuid.NAMESPACE_URL, alt).hex[:8]
    texts = {n: [str(labels[n][1](v)) for v in sliders[n]] for n in names}
    symbols = {n: str(labels[n][0]) for n in names}
    controls = []
    for k, n in enumerate(names):
        controls.append(
            f'<div class="profond-curseur"><label for="{uid}-{k}">{escape(symbols[n])} = '
            f'<output id="{uid}-{k}-val">{escape(texts[n][start[k]])}</output></label>'
            f'<input type="range" id="{uid}-{k}" min="0" max="{len(sliders[n]) - 1}" step="1" '
            f'value="{start[k]}" aria-valuetext="{escape(symbols[n])} = {escape(texts[n][start[k]])}"></div>'
        )
    first = frames[",".join(map(str, start))]
    html = (
        f'<div class="profond-explorable" id="{uid}">'
        f'<img id="{uid}-img" alt="{escape(alt)}" width="{round(figsize[0] * dpi)}" '
        f'height="{round(figsize[1] * dpi)}" style="max-width:100%;height:auto" '
        f'src="data:image/png;base64,{first}">'
        + "".join(controls)
        + f"<script>(function(){{const F={json.dumps(frames)};const T={json.dumps([texts[n] for n in names])};"
        f"const N={json.dumps([symbols[n] for n in names])};const n={len(names)};"
        f"const ins=[...Array(n).keys()].map(k=>document.getElementById('{uid}-'+k));"
        f"function maj(){{const idx=ins.map(i=>i.value);"
        f"document.getElementById('{uid}-img').src='data:image/png;base64,'+F[idx.join(',')];"
        f"ins.forEach((inp,k)=>{{const t=T[k][inp.value];document.getElementById('{uid}-'+k+'-val').textContent=t;"
        f"inp.setAttribute('aria-valuetext',N[k]+' = '+t);}});}}"
        f"ins.forEach(i=>i.addEventListener('input',maj));}})();</script></div>"
    )
    return HTML(html)
