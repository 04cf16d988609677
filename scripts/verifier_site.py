"""Vérifications du site construit, sans navigateur (lancées après chaque construction).

- chaque page exécutable de la table des matières contient des sorties de cellules (une page
  « exécutée » sans aucune sortie trahit un notebook traité comme du Markdown simple) ;
- chaque image a un texte alternatif, en français (pas le « Figure made with TikZ » par défaut)
  et son fichier existe ;
- poids de chaque page (HTML + images qu'elle référence + images de ses animations, que
  ``profond_perf`` sort dans ``_anim/``) ≤ 1,5 Mo ; MathJax, partagé par tout le site, est compté
  une fois à part ;
- ce que ``profond_perf`` garantit pour la vitesse : pas d'index de recherche ni de
  ``fontawesome.js`` hors de la page de recherche, MathJax seulement sur les pages à formules (et
  son extension ``ui/lazy`` présente), une balise ``<meta name="description">`` par page.

Usage : python scripts/verifier_site.py _build/html
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
LIMITE_OCTETS = int(1.5 * 1024 * 1024)


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.cell_outputs = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if "cell_output" in (a.get("class") or "").split():
            self.cell_outputs += 1


def pages_de_la_toc() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p.get("chapters", [])]
    return files


def est_executable(source: Path) -> bool:
    head = source.read_text(encoding="utf-8")[:600]
    return head.startswith("---") and "format_name: myst" in head


def poids_page(html_path: Path, parser: _Page) -> int:
    total = html_path.stat().st_size
    vus = set()
    for src in re.findall(r'"([^"]*_anim/[0-9a-f]+\.js)"', html_path.read_text(encoding="utf-8")):
        f = (html_path.parent / src).resolve()
        if f not in vus and f.exists():
            vus.add(f)
            total += f.stat().st_size
    for img in parser.images:
        src = img.get("src") or ""
        if src.startswith("data:") or urlparse(src).scheme:
            continue
        f = (html_path.parent / unquote(src)).resolve()
        if f not in vus and f.exists():
            vus.add(f)
            total += f.stat().st_size
    return total


BLOQUANTS = ("searchindex.js", "searchtools.js", "language_data.js", "fontawesome.js")


def verifier_vitesse(doc: str, html: str) -> list[str]:
    """Ce que l'extension ``profond_perf`` promet sur chaque page de contenu."""
    erreurs = []
    tete = html.split("</head>", 1)[0]
    for nom in BLOQUANTS:
        if re.search(r'<script[^>]*src="[^"]*%s' % re.escape(nom), tete):
            erreurs.append(f"{doc} : {nom} chargé hors de la page de recherche")
    a_des_formules = re.search(r'class="[^"]*\bmath\b', html) is not None
    if not a_des_formules and "mathjax/tex-mml-chtml.js" in tete:
        erreurs.append(f"{doc} : MathJax chargé sur une page sans formule")
    if not re.search(r'<meta name="description" content="[^"]{40,}"', tete):
        erreurs.append(f"{doc} : pas de <meta name=\"description\"> (premier paragraphe)")
    return erreurs


def verifier(site: Path) -> list[str]:
    erreurs: list[str] = []
    poids: list[tuple[int, str]] = []
    for doc in pages_de_la_toc():
        html = site / f"{doc}.html"
        if not html.exists():
            erreurs.append(f"{doc} : page absente du site")
            continue
        p = _Page()
        p.feed(html.read_text(encoding="utf-8"))
        if est_executable(ROOT / f"{doc}.md") and p.cell_outputs == 0:
            erreurs.append(f"{doc} : page exécutable sans aucune sortie de cellule")
        for img in p.images:
            alt = (img.get("alt") or "").strip()
            src = img.get("src") or ""
            if not alt or alt == "Figure made with TikZ" or alt.startswith("../"):
                erreurs.append(f"{doc} : image sans texte alternatif français ({src[:60]})")
            if not src.startswith("data:") and not urlparse(src).scheme:
                if not (html.parent / unquote(src)).exists():
                    erreurs.append(f"{doc} : image introuvable {src}")
        erreurs += verifier_vitesse(doc, html.read_text(encoding="utf-8"))
        w = poids_page(html, p)
        poids.append((w, doc))
        if w > LIMITE_OCTETS:
            erreurs.append(f"{doc} : page trop lourde ({w / 1e6:.2f} Mo > 1,5 Mio)")
    mathjax = sum(f.stat().st_size for f in (site / "_static" / "mathjax").rglob("*") if f.is_file())
    if mathjax == 0:
        erreurs.append("MathJax absent de _static/mathjax : les formules ne s'afficheraient pas hors ligne")
    elif not (site / "_static" / "mathjax" / "ui" / "lazy.js").exists():
        erreurs.append("_static/mathjax/ui/lazy.js absent : MathJax échouerait (chargé par la configuration)")
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    poids.sort(reverse=True)
    print(f"Pages vérifiées : {len(poids)}")
    for w, doc in poids[:5]:
        print(f"  {w / 1024:8.0f} Kio  {doc}")
    print(f"MathJax (compté une fois) : {mathjax / 1024:.0f} Kio ; site entier : {total / 1e6:.1f} Mo")
    return erreurs


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / "html")
    erreurs = verifier(site)
    for e in erreurs:
        print("ERREUR :", e, file=sys.stderr)
    sys.exit(1 if erreurs else 0)
