"""Lighthouse (npm ``lighthouse``, Chromium de Debian, préréglage mobile : téléphone simulé, 4G
lente, processeur ralenti) sur les trois pages les plus lourdes, servies en gzip comme GitHub Pages.

Seuils : performance ≥ 80 (cible 90 ; ``PROFOND_LIGHTHOUSE_PERF`` le change, par exemple sur une
machine très chargée), accessibilité ≥ 98, bonnes pratiques 100, SEO ≥ 95. La table complète :
``benchmarks/bench_site.py``.
"""

from __future__ import annotations

import os
import re

import pytest
from servir_site import lighthouse, pages_de_la_toc

MIN_SCORES = {"performance": int(os.environ.get("PROFOND_LIGHTHOUSE_PERF", "80")),
              "accessibility": 98, "best-practices": 100, "seo": 95}


def heaviest_pages(site, n=3) -> list[str]:
    """Les ``n`` pages les plus lourdes : HTML + images + images d'animation qu'elles chargent."""
    def weight(page_path):
        html = site / f"{page_path}.html"
        text = html.read_text(encoding="utf-8")
        total = html.stat().st_size
        for src in set(re.findall(r'src="([^"]+\.(?:png|jpg|svg|gif))"', text)) | set(re.findall(r'"([^"]*_anim/[0-9a-f]+\.js)"', text)):
            f = (html.parent / src).resolve()
            total += f.stat().st_size if f.exists() else 0
        return total
    pages = [p for p in pages_de_la_toc() if (site / f"{p}.html").exists()]
    return sorted(pages, key=weight, reverse=True)[:n]


def test_lighthouse_scores_of_heaviest_pages(site, server, node_tools):
    failures, table = [], []
    for page_path in heaviest_pages(site):
        scores = lighthouse(f"{server}/{page_path}.html")
        table.append(f"{page_path}: " + ", ".join(f"{k} {scores[k]}" for k in MIN_SCORES))
        failures += [f"{page_path} : {k} {scores[k]} < {v} ({scores['mesures']}; {scores['échecs'][:6]})"
                     for k, v in MIN_SCORES.items() if scores[k] < v]
    print("\n".join(table))
    assert not failures, "\n".join(failures)
