"""Exécute chaque page exécutable du cours (chapitres MyST et TP) de haut en bas.

Une page est exécutable si elle porte l'en-tête jupytext MyST ; sans lui myst-nb la traiterait en
Markdown simple et n'exécuterait rien, d'où la vérification du nombre de cellules de code.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[Path]:
    """Les fichiers de la table des matières, dans l'ordre."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part.get("chapters", [])]
    return [ROOT / f"{f}.md" for f in files]


def is_executable(path: Path) -> bool:
    head = path.read_text(encoding="utf-8")[:600]
    return head.startswith("---") and "format_name: myst" in head and "kernelspec" in head


PAGES = [p for p in toc_files() if is_executable(p)]


def test_every_notebook_page_is_executable():
    """Chaque fichier de notebooks/ est dans la table des matières et porte l'en-tête MyST."""
    notebooks = sorted((ROOT / "notebooks").glob("*.md"))
    assert notebooks, "aucun notebook dans notebooks/"
    in_toc = set(toc_files())
    for nb in notebooks:
        assert nb in in_toc, f"{nb.name} n'est pas dans _toc.yml"
        assert is_executable(nb), f"{nb.name} n'a pas l'en-tête jupytext MyST : rien n'y serait exécuté"


@pytest.mark.notebook
@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_executes(path: Path):
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells, f"{path.name} ne contient aucune cellule de code"
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    executed = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    assert len(executed) == len(code_cells), f"{path.name} : {len(executed)}/{len(code_cells)} cellules exécutées"
    errors = [o for c in code_cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} : erreur dans une cellule"
    print(f"{path.relative_to(ROOT)} : {len(code_cells)} cellules en {elapsed:.1f} s")
    report = os.environ.get("PROFOND_NOTEBOOK_TIMES")
    if report:
        report = ROOT / report
        report.parent.mkdir(parents=True, exist_ok=True)
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(f"{path.relative_to(ROOT)}\t{len(code_cells)}\t{elapsed:.1f}\n")
