"""Chaque étiquette du cours citée dans le code de ``src/profond`` (Python et C) existe dans le livre ;
aucun module du paquet ne dépasse 400 lignes.

Les docstrings (et les commentaires) renvoient au chapitre par étiquette : ``bn-eq-mean``,
``optim-sec-profondeur``, ``pg-algo-reinforce``, ``sec-donnees``… Une étiquette qui n'existe pas
envoie le lecteur nulle part. Une étiquette est définie dans une page de ``book/`` ou de
``notebooks/`` par ``(étiquette)=``, ``:label: étiquette``, ``:name: étiquette`` ou
``$$ (étiquette)`` (équation numérotée de MyST).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# `bn-eq-mean`, ``optim-sec-profondeur`` : un mot à tirets entre accents graves (docstrings)
BACKTICKED = re.compile(r"(?<![`\w])`{1,2}([a-z][a-z0-9]*(?:-[a-z0-9]+)+)`{1,2}(?![`\w])")
# bn-eq-mean, sec-donnees sans accents graves : préfixe de partie, puis la sorte d'étiquette
BARE = re.compile(r"(?<![\w/.-])((?:[a-z]+-)?(?:eq|sec|algo|fig|code|def|thm|prop|tab|chap)-[a-z0-9]+(?:-[a-z0-9]+)*)(?![\w/-])")

DEFINITIONS = (
    re.compile(r"^\s*\(([^()\s]+)\)=\s*$", re.M),  # (étiquette)=
    re.compile(r"^\s*:(?:label|name):\s*(\S+)\s*$", re.M),  # :label: / :name:
    re.compile(r"^\s*\$\$\s*\(([^()\s]+)\)\s*$", re.M),  # $$ (étiquette)
)


C_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def _c_comments(source: str) -> list[tuple[int, str, bool]]:
    """(ligne, texte, False) des commentaires d'un fichier C (les noyaux de profond.nn.ckernels)."""
    return [(source.count("\n", 0, m.start()) + 1, m.group(), False) for m in C_COMMENT.finditer(source)]


def _texts(source: str, suffix: str = ".py") -> list[tuple[int, str, bool]]:
    """(ligne, texte, est_une_docstring) des docstrings et des commentaires d'un module."""
    if suffix == ".c":
        return _c_comments(source)
    out = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                out.append((node.body[0].lineno, doc, True))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out.append((tok.start[0], tok.string, False))
    return out


def cited_labels(files: list[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """Étiquette → endroits (``fichier:ligne``) qui la citent."""
    cited: dict[str, list[str]] = {}
    for path in files:
        for line, text, is_doc in _texts(path.read_text(encoding="utf-8"), path.suffix):
            found = set(BARE.findall(text))
            if is_doc:
                found |= set(BACKTICKED.findall(text))
            for label in found:
                cited.setdefault(label, []).append(f"{path.relative_to(root)}:{line}")
    return cited


def defined_labels(pages: list[Path]) -> set[str]:
    labels: set[str] = set()
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for pattern in DEFINITIONS:
            labels.update(pattern.findall(text))
    return labels


def missing_labels(files: list[Path], pages: list[Path], root: Path = ROOT) -> list[str]:
    defined = defined_labels(pages)
    return [f"{label} (cité dans {', '.join(where)})"
            for label, where in sorted(cited_labels(files, root).items()) if label not in defined]


def test_checker_finds_missing_labels(tmp_path):
    (tmp_path / "m.py").write_text(
        '"""Module (section ``x-sec-la``)."""\n\n\n'
        "def f():\n"
        '    """Équation `x-eq-b` et x-eq-c, pas https://exemple.fr/x-eq-url ni `drop-last`."""\n'
        "    return 1  # éq. x-eq-d\n\n\n"
        'TEXTE = "x-eq-pas-une-citation"\n', encoding="utf-8")
    (tmp_path / "page.md").write_text(
        "(x-sec-la)=\n## Titre\n\n$$\na = b\n$$ (x-eq-b)\n\n```{math}\n:label: x-eq-d\nc\n```\n",
        encoding="utf-8")
    cited = cited_labels([tmp_path / "m.py"], tmp_path)
    assert set(cited) == {"x-sec-la", "x-eq-b", "x-eq-c", "x-eq-d", "drop-last"}
    assert cited["x-eq-d"] == ["m.py:6"]
    assert defined_labels([tmp_path / "page.md"]) == {"x-sec-la", "x-eq-b", "x-eq-d"}
    missing = missing_labels([tmp_path / "m.py"], [tmp_path / "page.md"], tmp_path)
    assert missing == ["drop-last (cité dans m.py:5)", "x-eq-c (cité dans m.py:5)"]
    (tmp_path / "k.c").write_text("/* x-eq-b,\n * x-eq-e */\nint f(void) { return 1; } // x-sec-la\n", encoding="utf-8")
    assert cited_labels([tmp_path / "k.c"], tmp_path) == {"x-eq-b": ["k.c:1"], "x-eq-e": ["k.c:1"], "x-sec-la": ["k.c:3"]}


def test_every_label_cited_in_the_package_exists_in_the_book():
    files = sorted((ROOT / "src" / "profond").rglob("*.py")) + sorted((ROOT / "src" / "profond").rglob("*.c"))
    pages = sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.md"))
    assert files and pages
    missing = missing_labels(files, pages)
    assert not missing, "Étiquettes citées dans src/profond mais absentes du livre :\n" + "\n".join(missing)


def test_no_module_of_the_package_exceeds_400_lines():
    """Un module se lit d'un coup d'œil : au plus 400 lignes (au-delà, on le découpe par thème)."""
    lengths = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
               for p in (ROOT / "src" / "profond").rglob("*.py")}
    assert lengths and not {p: n for p, n in lengths.items() if n > 400}
