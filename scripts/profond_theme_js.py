"""Extension Sphinx du cours : le script de pydata-sphinx-theme sans « layout thrashing ».

Au chargement de chaque page (et à chaque mutation du contenu), pydata-sphinx-theme rend
atteignables au clavier les blocs qui défilent (``pre``, sorties de cellules, tableaux) : pour
chacun, il **lit** ``scrollWidth`` puis **écrit** ``tabIndex``. Chaque écriture invalide la mise
en page, que la lecture suivante doit refaire : sur les pages riches en code, c'était la plus longue
tâche du chargement sur téléphone (≈ 300 ms au processeur ralenti de Lighthouse). On réécrit cette
boucle à la fin de la construction pour lire toutes les tailles d'abord, puis écrire : même
résultat, une seule mise en page.

La réécriture porte sur le script minifié de la version épinglée du thème (``requirements.txt``) :
si le motif n'est plus trouvé (thème mis à jour), la construction émet un avertissement, donc
échoue avec ``-W`` ; il suffit alors de vérifier si le nouveau thème a encore le défaut.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

THEME_SCRIPT = Path("_static") / "scripts" / "pydata-sphinx-theme.js"
# Lecture puis écriture, élément par élément (pydata-sphinx-theme 0.16–0.17, minifié).
INTERLEAVED = ".forEach(e=>{e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1})"
# Toutes les lectures, puis toutes les écritures.
BATCHED = (".forEach((e,i,l)=>{i||(l.d=Array.from(l,e=>e.scrollWidth>e.clientWidth||"
           "e.scrollHeight>e.clientHeight));e.tabIndex=l.d[i]?0:-1})")


def batch_tab_stops(script: str) -> str | None:
    """Le script du thème avec la boucle lecture/écriture regroupée, ou ``None`` si le motif est
    absent (déjà réécrit : le script est rendu inchangé).

    >>> batch_tab_stops("x" + INTERLEAVED) == "x" + BATCHED
    True
    >>> batch_tab_stops("x" + BATCHED) == "x" + BATCHED and batch_tab_stops("x") is None
    True
    """
    if BATCHED in script:
        return script
    if script.count(INTERLEAVED) != 1:
        return None
    return script.replace(INTERLEAVED, BATCHED)


def rewrite_theme_script(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    path = Path(app.outdir) / THEME_SCRIPT
    if not path.exists():
        return
    script = path.read_text(encoding="utf-8")
    fixed = batch_tab_stops(script)
    if fixed is None:
        logger.warning("profond_theme_js : boucle tabIndex de pydata-sphinx-theme introuvable "
                       "(thème mis à jour ?), script laissé tel quel : %s", path)
    elif fixed != script:
        path.write_text(fixed, encoding="utf-8")


def setup(app: Sphinx):
    app.connect("build-finished", rewrite_theme_script)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
