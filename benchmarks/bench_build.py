"""Temps de construction du site : à froid (aucun cache, toutes les pages exécutées), puis
reconstruction sans aucun changement (cache), et poids de la page la plus lourde.

    .venv/bin/python benchmarks/bench_build.py                      # tout le site
    .venv/bin/python benchmarks/bench_build.py book/optimisation notebooks/tp_optimisation

La construction se fait dans un dossier temporaire (le _build du dépôt n'est pas touché). Le
rapport reconstruction / froid est mesuré dans le même lancement. Ce n'est pas un test chronométré.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import verifier_site  # noqa: E402


def build(out: Path, toc: Path | None) -> float:
    cmd = [str(ROOT / ".venv" / "bin" / "jupyter-book"), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-3000:] + res.stderr[-3000:])
        raise SystemExit("la construction a échoué")
    return elapsed


def main(pages: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        toc = None
        if pages:
            toc = tmp / "toc.yml"
            toc.write_text("format: jb-book\nroot: book/index\nchapters:\n"
                           + "".join(f"  - file: {p}\n" for p in pages + ["book/bibliographie"]), encoding="utf-8")
        out = tmp / "site"
        cold = build(out, toc)
        cached = build(out, toc)
        html = out / "_build" / "html"
        heaviest = 0
        name = ""
        for doc in (pages or verifier_site.pages_de_la_toc()):
            page = html / f"{doc}.html"
            parser = verifier_site._Page()
            parser.feed(page.read_text(encoding="utf-8"))
            w = verifier_site.poids_page(page, parser)
            if w > heaviest:
                heaviest, name = w, doc
        print(f"pages construites            : {'toutes' if not pages else ', '.join(pages)}")
        print(f"construction à froid         : {cold:7.1f} s")
        print(f"reconstruction sans changement : {cached:5.1f} s  (rapport {cached / cold:.2f} × la construction à froid)")
        print(f"page la plus lourde          : {name} ({heaviest / 1024:.0f} Kio avec ses images)")


if __name__ == "__main__":
    main(sys.argv[1:])
