"""Vitesse et accessibilité du site construit, mesurées par les outils standard.

Pour chaque page : les quatre scores Lighthouse (préréglage mobile : téléphone simulé, réseau
4G lent, processeur ralenti) sur le site servi en gzip comme GitHub Pages, puis, avec ``--axe``,
le nombre de violations axe-core graves ou critiques (390 px et bureau, clair et sombre).

    .venv/bin/python benchmarks/bench_site.py                      # toutes les pages, _build/html
    .venv/bin/python benchmarks/bench_site.py --site _build/f2/_build/html book/optimisation
    .venv/bin/python benchmarks/bench_site.py --axe --sans-lighthouse

Les scores de performance varient de quelques points d'un lancement à l'autre (machine partagée) :
comparer deux versions dans le même lancement, ou prendre ``--repetitions 3`` (médiane).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from servir_site import (CATEGORIES, CHROMIUM, axe, lighthouse, outils_node_manquants, ouvrir_page,  # noqa: E402
                         pages_de_la_toc, servir)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
VUES = [("390 px", {"width": 390, "height": 844}, "light"), ("390 px sombre", {"width": 390, "height": 844}, "dark"),
        ("bureau", {"width": 1280, "height": 1000}, "light"), ("bureau sombre", {"width": 1280, "height": 1000}, "dark")]


def violations_axe(url: str, pages: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Pour chaque page et chaque vue, les violations axe graves ou critiques."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, list[dict]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for page_path in pages:
            out[page_path] = {}
            for nom, viewport, scheme in VUES:
                context, page = ouvrir_page(browser, url, page_path, viewport, dark=scheme == "dark")
                out[page_path][nom] = [v for v in axe(page) if v["impact"] in ("serious", "critical")]
                context.close()
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="pages de la table des matières (défaut : toutes)")
    parser.add_argument("--site", default="_build/html", help="dossier du site construit")
    parser.add_argument("--repetitions", type=int, default=1, help="lancements Lighthouse par page (médiane)")
    parser.add_argument("--axe", action="store_true", help="compter aussi les violations axe-core")
    parser.add_argument("--sans-lighthouse", action="store_true")
    parser.add_argument("--details", action="store_true", help="afficher les audits Lighthouse en échec")
    args = parser.parse_args()
    raison = outils_node_manquants()
    if raison:
        print(raison, file=sys.stderr)
        return 2
    pages = args.pages or pages_de_la_toc()
    site = (ROOT / args.site).resolve()
    with servir(site) as url:
        if not args.sans_lighthouse:
            print(f"Lighthouse (mobile, gzip), médiane de {args.repetitions} lancement(s) — {site}")
            print(f"{'page':28s} {'perf.':>6s} {'access.':>8s} {'bonnes pr.':>11s} {'SEO':>5s}   FCP / LCP / TBT / CLS")
            for page_path in pages:
                runs = [lighthouse(f"{url}/{page_path}.html") for _ in range(args.repetitions)]
                med = {c: int(statistics.median(r[c] for r in runs)) for c in CATEGORIES}
                m = runs[-1]["mesures"]
                print(f"{page_path:28s} {med['performance']:6d} {med['accessibility']:8d} {med['best-practices']:11d} "
                      f"{med['seo']:5d}   {m.get('first-contentful-paint', '')} / {m.get('largest-contentful-paint', '')} / "
                      f"{m.get('total-blocking-time', '')} / {m.get('cumulative-layout-shift', '')}", flush=True)
                if args.details:
                    for e in runs[-1]["échecs"]:
                        print(f"    · {e}")
        if args.axe:
            print("\naxe-core : violations graves ou critiques (nombre de règles) par vue")
            print(f"{'page':28s} " + " ".join(f"{nom:>14s}" for nom, _, _ in VUES))
            for page_path, vues in violations_axe(url, pages).items():
                print(f"{page_path:28s} " + " ".join(f"{len(vues[nom]):14d}" for nom, _, _ in VUES))
                regles = sorted({f"{v['id']} ({v['impact']}, {v['n']})" for vs in vues.values() for v in vs})
                for r in regles:
                    print(f"    · {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
