"""Animations matplotlib intégrées aux pages du cours (parties 2 et 4).

:func:`animation_html` transforme une ``FuncAnimation`` en HTML autonome : images PNG à palette
réduite (pages légères), texte alternatif obligatoire, lecteur traduit en français et sans police
d'icônes chargée depuis un CDN (le site fonctionne hors ligne).
"""

from __future__ import annotations

import base64
import re
import tempfile
from html import escape
from io import BytesIO
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import animation


def palette_png(fig, dpi: int = 80, colors: int = 64, **savefig_kwargs) -> bytes:
    """La figure en PNG réduit à une palette de ``colors`` couleurs (3 à 4 fois plus léger pour des
    figures au trait) : les images des animations et des figures explorables."""
    from PIL import Image

    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig_kwargs)
    image = Image.open(BytesIO(buf.getvalue())).convert("RGB").quantize(
        colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    out = BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


class PalettePNGWriter(animation.HTMLWriter):
    """Le lecteur HTML de matplotlib, avec des images PNG réduites à une palette de ``colors``
    couleurs : des figures au trait y perdent peu, et la page pèse 3 à 4 fois moins."""

    def __init__(self, *args, colors: int = 64, **kwargs):
        super().__init__(*args, embed_frames=True, **kwargs)
        self.colors = colors

    def grab_frame(self, **savefig_kwargs):
        data = base64.encodebytes(palette_png(self.fig, self.dpi, self.colors, **savefig_kwargs)).decode("ascii")
        self._total_bytes += len(data)
        if self._total_bytes >= self._bytes_limit:
            raise ValueError(
                f"L'animation dépasse {self._bytes_limit} octets : réduire `n_frames`, `dpi` ou la taille."
            )
        self._saved_frames.append(data)


def animation_html(anim: animation.FuncAnimation, alt: str, colors: int = 64):
    """L'animation en HTML autonome (images intégrées, lecteur JavaScript de matplotlib), avec des
    images à palette réduite (:class:`PalettePNGWriter`).

    ``alt`` est le texte alternatif de l'image animée (lecteurs d'écran). La figure est fermée
    d'abord, sinon le notebook en afficherait aussi une copie statique."""
    from IPython.display import HTML

    if not isinstance(alt, str) or not alt.strip():
        raise ValueError("`alt` doit être un texte non vide décrivant l'animation.")

    plt.close(anim._fig)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "animation.html")
        writer = PalettePNGWriter(fps=1000 / anim._interval, default_mode="once", colors=colors)
        writer.frame_format = "png"
        anim.save(str(path), writer=writer)
        html = path.read_text(encoding="utf-8")
    return HTML(localize_player(html).replace('<img id="_anim_img', f'<img alt="{escape(alt)}" id="_anim_img', 1))


#: Les boutons du lecteur de matplotlib, traduits ; leurs icônes Font Awesome (chargées depuis un
#: CDN, donc absentes hors ligne) sont remplacées par des caractères Unicode.
_PLAYER_LABELS = {
    "Decrease speed": ("Ralentir", "−"),
    "First frame": ("Première image", "|◀"),
    "Previous frame": ("Image précédente", "◁"),
    "Play backwards": ("Lecture à rebours", "◀"),
    "Pause": ("Pause", "||"),
    "Play": ("Lecture", "▶"),
    "Next frame": ("Image suivante", "▷"),
    "Last frame": ("Dernière image", "▶|"),
    "Increase speed": ("Accélérer", "+"),
}


def localize_player(html: str) -> str:
    """Le lecteur d'animation de matplotlib en français et sans ressource externe."""
    html = re.sub(r'<link rel="stylesheet"\s*href="https://[^"]*font-awesome[^"]*">', "", html)
    for english, (french, symbol) in _PLAYER_LABELS.items():
        html = re.sub(
            rf'title="{english}" aria-label="{english}"(\s*onclick="[^"]*")>\s*<i class="[^"]*"></i>',
            rf'title="{french}" aria-label="{french}"\1>{symbol}',
            html,
        )
    html = html.replace('title="Repetition mode" aria-label="Repetition mode"',
                        'title="Mode de répétition" aria-label="Mode de répétition"')
    # La glissière choisit l'image affichée : elle a besoin d'un nom pour les lecteurs d'écran.
    html = html.replace('type="range" class="anim-slider"',
                        'type="range" class="anim-slider" aria-label="Image de l\'animation"')
    for english, french in (("Once", "Une fois"), ("Loop", "En boucle"), ("Reflect", "Aller-retour")):
        html = re.sub(rf'(<label for="_anim_radio\d_[^"]*">){english}</label>', rf"\1{french}</label>", html)
    return html
