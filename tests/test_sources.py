"""Le rôle ``{source}`` (scripts/profond_source.py) et les encadrés d'algorithme du cours.

1. Sur un petit projet Sphinx construit dans ``tmp_path`` : le rôle mène en un clic à la page du
   code source, ancrée sur la définition, dans le texte comme dans un ``{prf:algorithm}``, en
   lecture parallèle ; une cible inconnue fait échouer la construction (``-W``), y compris en
   construction incrémentale quand la fonction citée est renommée.
2. Dans le cours : chaque encadré ``{prf:algorithm}`` cite son implémentation avec ``{source}``,
   la cible existe et la fonction est nommée dans un fichier de ``tests/`` (elle est testée).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import profond_source  # noqa: E402

ROLE = re.compile(r"\{source\}`([^`]*)`")


# ---------------------------------------------------------------- le rôle sur un petit projet
MODULE = '''\
"""Module jetable."""


def double(x):
    """Le double."""
    return 2 * x


class Pile:
    @staticmethod
    def vide():
        return []
'''

PAGE = """\
# Essai

Le code : {source}`paquet_essai.calculs.double`, réexporté : {source}`paquet_essai.double`,
une méthode : {source}`la pile vide <paquet_essai.calculs.Pile.vide>`.

```{prf:algorithm} Doubler
:label: algo-doubler

1. Renvoyer $2x$ ({source}`paquet_essai.calculs.double`).
```
"""


def make_project(root: Path, page: str = PAGE) -> Path:
    pkg = root / "paquet_essai"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("from .calculs import double\n", encoding="utf-8")
    (pkg / "calculs.py").write_text(MODULE, encoding="utf-8")
    (root / "conf.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(ROOT / 'scripts')!r})
        extensions = ["myst_nb", "sphinx_proof", "profond_source"]
        myst_enable_extensions = ["colon_fence", "dollarmath"]
        nb_execution_mode = "off"
        language = "fr"
        """), encoding="utf-8")
    (root / "index.md").write_text(page, encoding="utf-8")
    return root


def sphinx_build(root: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent), "HOME": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", *extra, ".", "_build"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_source_role_links_to_highlighted_definition(tmp_path):
    root = make_project(tmp_path)
    done = sphinx_build(root, "-j", "2")
    assert done.returncode == 0, done.stderr
    page = (root / "_build" / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<a class="profond-source[^"]*" href="([^"]+)"[^>]*>(.*?)</a>', page, re.S)
    hrefs = [h for h, _ in links]
    assert hrefs == ["_modules/paquet_essai/calculs.html#double"] * 2 + [
        "_modules/paquet_essai/calculs.html#Pile.vide",
        "_modules/paquet_essai/calculs.html#double"]  # le dernier est dans l'encadré
    assert re.search(r'<code[^>]*><span class="pre">double</span></code>', links[0][1])
    assert "la pile vide" in links[2][1]
    assert page.count("algo-doubler") >= 1
    code = (root / "_build" / "_modules" / "paquet_essai" / "calculs.html").read_text(encoding="utf-8")
    assert "Code source de paquet_essai.calculs" in code
    # l'ancre est posée juste avant la ligne 4, celle du « def double »
    anchor = code.index('<div class="viewcode-block" id="double">')
    line4 = code.index('<span class="linenos"> 4</span>')
    assert anchor < line4 < code.index('<span class="linenos"> 5</span>')
    assert 'id="Pile.vide"' in code and 'id="Pile"' in code


def test_unknown_target_fails_the_build(tmp_path):
    page = PAGE + "\nEt {source}`paquet_essai.calculs.triple`, {source}`paquet_absent.f`.\n"
    root = make_project(tmp_path, page)
    done = sphinx_build(root)
    assert done.returncode != 0
    assert "« triple » n'est pas défini dans le module « paquet_essai.calculs »" in done.stderr
    assert "aucun module importable ne correspond à « paquet_absent.f »" in done.stderr


def test_renamed_function_is_caught_by_incremental_build(tmp_path):
    root = make_project(tmp_path)
    assert sphinx_build(root).returncode == 0
    calculs = root / "paquet_essai" / "calculs.py"
    calculs.write_text(MODULE.replace("def double", "def doubler"), encoding="utf-8")
    again = sphinx_build(root)  # même dossier de sortie : construction incrémentale
    assert again.returncode != 0
    assert "« double » n'est pas défini" in again.stderr


def test_resolve_follows_reexports_in_profond():
    assert profond_source.resolve("profond.rl.train_reinforce") == ("profond.rl.reinforce", "train_reinforce")
    assert profond_source.resolve("profond.rl.reinforce.train_reinforce") == (
        "profond.rl.reinforce", "train_reinforce")
    with pytest.raises(LookupError, match="n'est pas défini"):
        profond_source.resolve("profond.rl.reinforce.pas_de_fonction")


# ---------------------------------------------------------------- les encadrés d'algorithme du cours
def algorithm_boxes(text: str) -> list[tuple[str, int, str]]:
    """(label ou titre, ligne, contenu) de chaque ``{prf:algorithm}`` d'une page MyST."""
    lines = text.splitlines()
    boxes = []
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(`{3,}|:{3,})\{prf:algorithm\}\s*(.*)$", lines[i])
        if not m:
            i += 1
            continue
        fence, title, start = m.group(2), m.group(3).strip(), i
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        content = "\n".join(body)
        label = re.search(r"^\s*:label:\s*(\S+)", content, re.M)
        boxes.append((label.group(1) if label else title, start + 1, content))
        i += 1
    return boxes


def test_algorithm_box_parser():
    text = "x\n```{prf:algorithm} A\n:label: a-b\n\n1. {source}`m.f`\n```\n::::{prf:algorithm} B\nrien\n::::\n"
    boxes = algorithm_boxes(text)
    assert [(b[0], b[1]) for b in boxes] == [("a-b", 2), ("B", 7)]
    assert ROLE.findall(boxes[0][2]) == ["m.f"] and ROLE.findall(boxes[1][2]) == []


def box_problems(pages: list[Path], tests_text: str, root: Path = ROOT) -> list[str]:
    problems = []
    for page in pages:
        for name, line, content in algorithm_boxes(page.read_text(encoding="utf-8")):
            where = f"{page.relative_to(root)}:{line} ({name})"
            targets = [t.rsplit("<", 1)[-1].rstrip(">").strip() for t in ROLE.findall(content)]
            if not targets:
                problems.append(f"{where} : aucun {{source}}`...` vers l'implémentation")
            for target in targets:
                try:
                    _, qualname = profond_source.resolve(target)
                except LookupError as exc:
                    problems.append(f"{where} : {exc}")
                    continue
                short = qualname.rsplit(".", 1)[-1]
                if not re.search(rf"\b{re.escape(short)}\b", tests_text):
                    problems.append(f"{where} : « {short} » n'apparaît dans aucun test de tests/")
    return problems


def test_box_checker_catches_missing_and_untested(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```{prf:algorithm} Sans lien\n1. x\n```\n"
                    "```{prf:algorithm} Lien\n{source}`profond.rl.reinforce.train_reinforce`\n```\n",
                    encoding="utf-8")
    problems = box_problems([page], tests_text="", root=tmp_path)
    assert len(problems) == 2
    assert "aucun {source}" in problems[0]
    assert "« train_reinforce » n'apparaît dans aucun test" in problems[1]


def test_every_algorithm_box_links_to_tested_source():
    pages = sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "notebooks").glob("*.md"))
    tests_text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py")
                           if p.name != "test_sources.py")
    problems = box_problems(pages, tests_text)
    assert not problems, "Encadrés d'algorithme sans lien vers un code testé :\n" + "\n".join(problems)
