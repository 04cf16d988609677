"""Exécute une page du cours (chapitre ou TP au format MyST) de haut en bas et affiche sa durée.

    .venv/bin/python scripts/chronometrer.py notebooks/tp_pieges.md [autre_page.md ...]

Utile pour tenir le budget de construction : chaque cellule est exécutée comme dans la
construction du site (même noyau, même dossier de travail), et la durée de chaque cellule de plus
d'une seconde est affichée.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient


def chronometrer(path: Path) -> float:
    nb = jupytext.read(path)
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    debut = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t = time.perf_counter()
            client.execute_cell(cell, index)
            duree = time.perf_counter() - t
            if duree > 1.0:
                premiere = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                print(f"  cellule {index:3d} : {duree:6.1f} s   {premiere[:70]}")
    return time.perf_counter() - debut


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for arg in sys.argv[1:]:
        page = Path(arg)
        if not page.is_file():
            sys.exit(f"Page introuvable : {page}")
        print(f"» {page} : {chronometrer(page):.1f} s")
