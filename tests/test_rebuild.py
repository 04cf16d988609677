"""Reconstruction sans résultats périmés (scripts/profond_cache.py).

Un petit livre de deux pages exécutables, construit avec la commande du cours
(``jupyter-book build . -W -n --keep-going``, cache d'exécution) dans ``tmp_path`` : la page A
importe ``jouet.alpha`` (qui importe ``jouet.commun``), la page B importe ``jouet.beta``. On
modifie un module entre deux constructions et on vérifie que seule la page qui en dépend est
réexécutée et montre le nouveau résultat, que l'autre garde son exécution en cache, et qu'une
reconstruction sans changement n'exécute rien.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import profond_cache  # noqa: E402

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"

PAGE = """\
---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  name: python3
---
# Page {nom}

```{{code-cell}} ipython3
%matplotlib inline
from jouet.{module} import valeur
print("résultat", valeur())
```

```{{prf:algorithm}} Lire la valeur
:label: algo-{nom}

1. {{source}}`jouet.{module}.valeur`
```
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def make_book(root: Path) -> Path:
    write(root / "jouet" / "__init__.py", '"""Paquet jetable."""\n')
    write(root / "jouet" / "commun.py", "def base():\n    return 10\n")
    write(root / "jouet" / "alpha.py", "from .commun import base\n\n\ndef valeur():\n    return base() + 1\n")
    write(root / "jouet" / "beta.py", "def valeur():\n    return 20\n")
    write(root / "_config.yml", f"""\
        title: Essai
        execute:
          execute_notebooks: cache
        sphinx:
          extra_extensions: [sphinx_proof]
          local_extensions:
            profond_cache: {ROOT / 'scripts'}
            profond_parallele: {ROOT / 'scripts'}
            profond_source: {ROOT / 'scripts'}
        """)
    write(root / "_toc.yml", "format: jb-book\nroot: index\nchapters:\n  - file: page_a\n  - file: page_b\n")
    write(root / "index.md", "# Accueil\n\nDeux pages.\n")
    write(root / "page_a.md", PAGE.format(nom="a", module="alpha"))
    write(root / "page_b.md", PAGE.format(nom="b", module="beta"))
    return root


def build(root: Path, *extra: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run([str(JUPYTER_BOOK), "build", ".", "-W", "-n", "--keep-going", *extra],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def executed(log: str) -> set[str]:
    return set(re.findall(r"(page_\w)\.md: Executing notebook", log))


def shown(root: Path, page: str) -> int:
    html = (root / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8")
    return int(re.search(r"résultat (\d+)", html).group(1))


def records(root: Path) -> dict[str, float]:
    """Page → date de création de son exécution en cache (jupyter-cache)."""
    from jupyter_cache import get_cache

    cache = get_cache(root / "_build" / ".jupyter_cache")
    return {Path(r.uri).stem: r.created.timestamp() for r in cache.list_cache_records()}


@pytest.mark.slow
def test_rebuild_reexecutes_exactly_the_pages_whose_imports_changed(tmp_path):
    root = make_book(tmp_path)
    log = build(root)
    assert executed(log) == {"page_a", "page_b"}
    assert "profond_parallele : 2 pages à exécuter" in log  # les deux pages, en parallèle
    assert "in parallel" in log and "Executed notebook in" not in log  # myst-nb n'a rien refait
    assert (shown(root, "page_a"), shown(root, "page_b")) == (11, 20)
    first = records(root)

    # rien n'a changé : rien n'est exécuté
    assert executed(build(root)) == set()

    # un module importé directement par B
    (root / "jouet" / "beta.py").write_text("def valeur():\n    return 21\n", encoding="utf-8")
    log = build(root)
    assert executed(log) == {"page_b"}
    assert "page_b à réexécuter (modules modifiés : jouet.beta)" in log
    assert (shown(root, "page_a"), shown(root, "page_b")) == (11, 21)
    second = records(root)
    assert second["page_a"] == first["page_a"]  # A n'a pas tourné : même exécution en cache
    assert second["page_b"] > first["page_b"]

    # un module importé par A seulement à travers jouet.alpha (dépendance transitive)
    (root / "jouet" / "commun.py").write_text("def base():\n    return 30\n", encoding="utf-8")
    log = build(root)
    assert executed(log) == {"page_a"}
    assert (shown(root, "page_a"), shown(root, "page_b")) == (31, 21)
    third = records(root)
    assert third["page_b"] == second["page_b"] and third["page_a"] > second["page_a"]

    # environnement de Sphinx neuf (--all) mais cache gardé : les empreintes notées à côté du
    # cache suffisent, seule la page concernée tourne
    (root / "jouet" / "beta.py").write_text("def valeur():\n    return 22\n", encoding="utf-8")
    log = build(root, "--all")
    assert executed(log) == {"page_b"}
    assert (shown(root, "page_a"), shown(root, "page_b")) == (31, 22)
    assert records(root)["page_a"] == third["page_a"]


# ---------------------------------------------------------------- l'analyse des imports (rapide)
def test_imported_names_resolves_relative_imports_and_parents():
    tree = ast.parse("import a.b.c\nfrom .d import e\nfrom .. import f\ndef g():\n    from h import i\n")
    names = profond_cache.imported_names(tree, "pkg.sub.mod")
    assert names == {"a", "a.b", "a.b.c", "pkg", "pkg.sub", "pkg.sub.d", "pkg.sub.d.e", "pkg.f",
                     "h", "h.i"}
    tree = ast.parse("from . import x")
    assert profond_cache.imported_names(tree, "pkg.sub", is_package=True) == {"pkg", "pkg.sub", "pkg.sub.x"}


def test_local_dependencies_of_profond_rl_exclude_other_parts_and_libraries():
    cells = ["%matplotlib inline\nimport numpy as np\nfrom profond.rl import train_reinforce"]
    deps = profond_cache.local_dependencies(cells, ROOT)
    assert {"profond", "profond.rl", "profond.rl.reinforce", "profond.rl.estimators"} <= set(deps)
    assert not any(m.startswith(("profond.optim", "profond.nn")) for m in deps)
    assert not any(m.split(".")[0] in {"numpy", "torch"} for m in deps)  # hors du dossier du livre
    assert all(len(h) == 64 for h in deps.values())


def test_local_dependencies_change_with_a_transitive_module(tmp_path):
    write(tmp_path / "p" / "__init__.py", "")
    write(tmp_path / "p" / "a.py", "from p.b import f\n")
    write(tmp_path / "p" / "b.py", "def f():\n    return 1\n")
    write(tmp_path / "p" / "c.py", "def g():\n    return 2\n")
    sys.path.insert(0, str(tmp_path))
    try:
        before = profond_cache.local_dependencies(["import p.a"], tmp_path)
        assert set(before) == {"p", "p.a", "p.b"}
        (tmp_path / "p" / "b.py").write_text("def f():\n    return 3\n", encoding="utf-8")
        after = profond_cache.local_dependencies(["import p.a"], tmp_path)
        assert profond_cache._changed(before, after) == ["p.b"]
        assert profond_cache._changed(None, after) == ["empreintes inconnues"]
        assert profond_cache.local_dependencies(["x = (", "import p.c"], tmp_path).keys() == {"p", "p.c"}
        (tmp_path / "p" / "b.c").write_text("int f(void) { return 1; }\n", encoding="utf-8")  # compagnon C
        with_c = profond_cache.local_dependencies(["import p.a"], tmp_path)
        assert profond_cache._changed(after, with_c) == ["p.b"]
        (tmp_path / "p" / "b.c").write_text("int f(void) { return 2; }\n", encoding="utf-8")
        assert profond_cache._changed(with_c, profond_cache.local_dependencies(["import p.a"], tmp_path)) == ["p.b"]
    finally:
        sys.path.remove(str(tmp_path))


# ---------------------------------------------------------------- le cours lui-même (rapide)
def course_pages_by_part() -> dict[str, list[Path]]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return {part["caption"]: [ROOT / f"{ch['file']}.md" for ch in part.get("chapters", [])]
            for part in toc["parts"]}


def page_dependencies(page: Path) -> dict[str, str] | None:
    """Comme l'extension, mais en lisant le notebook avec jupytext (sans Sphinx)."""
    import jupytext

    head = page.read_text(encoding="utf-8")[:600]
    if not (head.startswith("---") and "format_name: myst" in head):
        return None
    cells = [c.source for c in jupytext.read(page).cells if c.cell_type == "code"]
    return profond_cache.local_dependencies(cells, ROOT)


def test_course_build_uses_the_dependency_aware_cache():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "cache"
    assert {"profond_cache", "profond_source"} <= set(config["sphinx"]["local_extensions"])
    assert "jupyter-book build ." in (ROOT / "scripts" / "construire.sh").read_text(encoding="utf-8")


def test_editing_profond_rl_reexecutes_part_4_only():
    """Les pages qui dépendent de ``profond.rl`` sont exactement les pages exécutables de la partie 4."""
    parts = course_pages_by_part()
    deps = {page: page_dependencies(page) for pages in parts.values() for page in pages}
    executable = {page for page, d in deps.items() if d is not None}
    part4 = {p for caption, pages in parts.items() if caption.startswith("Partie 4") for p in pages}
    on_rl = {page for page in executable if any(m.startswith("profond.rl") for m in deps[page])}
    assert on_rl == part4 & executable and on_rl
    for prefix, part in (("profond.optim", "Partie 2"), ("profond.nn", "Partie 3")):
        own = {p for caption, pages in parts.items() if caption.startswith(part) for p in pages}
        users = {page for page in executable if any(m.startswith(prefix) for m in deps[page])}
        assert users and users <= own, f"{prefix} est importé hors de la {part} : {sorted(users - own)}"
