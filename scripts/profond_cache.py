"""Extension Sphinx locale du cours : le cache d'exécution tient compte du code importé.

Le cache de myst-nb (jupyter-cache) reconnaît un notebook à ses seules cellules : modifier une
fonction de ``src/profond`` ne réexécutait aucune page, et le site montrait des nombres périmés.
Ici, la clé d'une page comprend aussi le code de chaque module local qu'elle importe,
transitivement :

1. pour chaque page exécutable (celles que myst-nb lit comme notebooks), on trouve par analyse
   statique (``ast``, sans rien importer) les modules importés par ses cellules de code, puis ceux
   qu'ils importent, etc. ; on garde les modules locaux, c'est-à-dire dont le fichier est dans le
   dossier du livre, hors ``site-packages`` (``profond`` en mode éditable, ou un paquet voisin) ;
   on garde l'empreinte (sha256) du fichier de chacun, et de son fichier C compagnon s'il en a un
   (``ckernels.c`` pour ``ckernels.py``, compilé à l'exécution) ;
2. à chaque exécution mise en cache, on note à côté de l'enregistrement de jupyter-cache les
   empreintes avec lesquelles il a été produit (``<cache>/profond_dependances/<clé>.json``) ;
3. à la construction suivante (``env-get-outdated``), une page dont un module a changé depuis
   est relue, et son enregistrement est retiré du cache (``env-before-read-docs``) : myst-nb la
   réexécute. Les autres pages gardent leurs sorties.

Un enregistrement sans empreintes (cache produit avant cette extension) compte comme périmé.
Revenir à l'ancienne version d'un module ne réutilise pas l'ancienne exécution (elle a été
retirée) : c'est le prix d'une règle simple. Sans cache (``execute_notebooks: force`` ou
``auto``), une page relue est réexécutée de toute façon : l'étape 3 suffit (empreintes gardées
dans l'environnement de Sphinx). Rien à faire avec ``off``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import os
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from profond_source import _absolute_module, module_source_path, track_per_document

logger = logging.getLogger(__name__)

DEPS_DIRNAME = "profond_dependances"


# ---------------------------------------------------------------- analyse statique des imports
def _python_source(cell_source: str) -> str:
    """Le code Python d'une cellule (les commandes magiques d'IPython traduites ou retirées)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython est là dès qu'un noyau l'est
        return "\n".join(line for line in cell_source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return TransformerManager().transform_cell(cell_source)


def imported_names(tree: ast.AST, modname: str = "", is_package: bool = False) -> set[str]:
    """Noms de modules que ce code peut importer (avec leurs paquets parents, exécutés avant eux).

    ``from a.b import c`` donne ``a``, ``a.b`` et ``a.b.c`` (``c`` peut être un sous-module) ;
    les imports relatifs sont résolus depuis ``modname``. Les imports placés dans une fonction
    comptent aussi : mieux vaut une réexécution de trop qu'un nombre périmé.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute_module(modname, is_package, node)
            found = [base] + [f"{base}.{alias.name}" if base else alias.name
                              for alias in node.names if alias.name != "*"]
        else:
            continue
        for name in filter(None, found):
            parts = name.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return names


def _is_local(path: Path, root: Path) -> bool:
    path = path.resolve()
    return path.is_relative_to(root) and not {"site-packages", "dist-packages"} & set(path.parts)


def local_dependencies(code_cells: list[str], root: Path) -> dict[str, str]:
    """Module local → sha256 de son fichier, pour tout ce que ces cellules importent transitivement."""
    todo: set[str] = set()
    for source in code_cells:
        try:
            todo |= imported_names(ast.parse(_python_source(source)))
        except SyntaxError:
            continue  # la cellule échouera à l'exécution, avec un vrai message
    seen: set[str] = set()
    deps: dict[str, str] = {}
    root = root.resolve()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_source_path(name)
        if path is None or not _is_local(path, root):
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data)
        companion = path.with_suffix(".c")  # noyaux C compilés par le module (profond.nn.ckernels)
        if companion.is_file():
            digest.update(companion.read_bytes())
        deps[name] = digest.hexdigest()
        try:
            tree = ast.parse(data, filename=str(path))
        except SyntaxError:
            continue
        todo |= imported_names(tree, name, path.name == "__init__.py") - seen
    return dict(sorted(deps.items()))


# ---------------------------------------------------------------- les pages exécutables
def _execution_mode(app: Sphinx) -> str:
    config = getattr(app.env, "mystnb_config", None)
    return getattr(config, "execution_mode", "off") if config is not None else "off"


def read_notebook(app: Sphinx, docname: str):
    """Le notebook tel que myst-nb le lit, ou ``None`` si la page n'en est pas un."""
    from myst_nb.core.read import create_nb_reader

    env = app.env
    path = env.doc2path(docname)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    reader = create_nb_reader(str(path), env.myst_config, env.mystnb_config, text)
    if reader is None:
        return None
    try:
        return reader.read(text)
    except Exception:  # noqa: BLE001 - myst-nb signalera l'erreur en lisant la page
        return None


def page_dependencies(app: Sphinx, docname: str) -> dict[str, str] | None:
    notebook = read_notebook(app, docname)
    if notebook is None:
        return None
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    return local_dependencies(cells, Path(app.srcdir))


def _current(app: Sphinx) -> dict[str, dict[str, str]]:
    """Dépendances actuelles de chaque page exécutable (calculées une fois par construction)."""
    if getattr(app, "_profond_deps_now", None) is None:
        importlib.invalidate_caches()  # un module ajouté depuis le dernier passage (sphinx-autobuild)
        now = {}
        for doc in sorted(app.env.found_docs):
            deps = page_dependencies(app, doc)
            if deps is not None:
                now[doc] = deps
        app._profond_deps_now = now
    return app._profond_deps_now


def _changed(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    if old is None:
        return ["empreintes inconnues"]
    return sorted(m for m in set(old) | set(new) if old.get(m) != new.get(m))


# ---------------------------------------------------------------- jupyter-cache
def _cache(app: Sphinx):
    path = getattr(app.env.mystnb_config, "execution_cache_path", "")
    if _execution_mode(app) != "cache" or not path or not Path(path).exists():
        return None
    from jupyter_cache import get_cache

    return get_cache(path)


def _record(cache, app: Sphinx, docname: str):
    notebook = read_notebook(app, docname)
    if notebook is None:
        return None
    try:
        return cache.match_cache_notebook(notebook)
    except KeyError:
        return None


def _provenance_file(app: Sphinx, hashkey: str) -> Path:
    return Path(app.env.mystnb_config.execution_cache_path) / DEPS_DIRNAME / f"{hashkey}.json"


def _provenance(app: Sphinx, hashkey: str) -> dict[str, str] | None:
    try:
        return json.loads(_provenance_file(app, hashkey).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _stale_cached_pages(app: Sphinx, docnames) -> dict[str, tuple[object, list[str]]]:
    """Pages dont l'exécution en cache a été produite avec d'autres versions des modules."""
    cache = _cache(app)
    if cache is None:
        return {}
    now = _current(app)
    stale = {}
    for doc in docnames:
        if doc not in now:
            continue
        record = _record(cache, app, doc)
        if record is None:
            continue
        changed = _changed(_provenance(app, record.hashkey), now[doc])
        if changed:
            stale[doc] = (record, changed)
    return stale


# ---------------------------------------------------------------- les événements de Sphinx
def init_build(app: Sphinx) -> None:
    app._profond_deps_now = None


def outdated_pages(app: Sphinx, env, added, changed, removed) -> list[str]:
    app._profond_deps_now = None  # premier événement de chaque lecture (sphinx-autobuild relance)
    if _execution_mode(app) == "off":
        return []
    candidates = [d for d in env.found_docs if d not in added and d not in changed]
    now = _current(app)
    outdated = {}
    for doc in candidates:  # relues depuis la dernière construction (tous les modes d'exécution)
        if doc in now and doc in env.profond_deps:
            diff = _changed(env.profond_deps[doc], now[doc])
            if diff:
                outdated[doc] = diff
    for doc, (_, diff) in _stale_cached_pages(app, candidates).items():  # cache d'une autre époque
        outdated.setdefault(doc, diff)
    for doc, diff in sorted(outdated.items()):
        logger.info("profond_cache : %s à réexécuter (modules modifiés : %s)", doc, ", ".join(diff))
    return sorted(outdated)


def drop_stale_records(app: Sphinx, env, docnames: list[str]) -> None:
    if _execution_mode(app) == "off":
        return
    cache = _cache(app)
    if cache is not None:
        for doc, (record, diff) in sorted(_stale_cached_pages(app, docnames).items()):
            logger.info("profond_cache : %s : exécution en cache n° %s retirée (%s)",
                        doc, record.pk, ", ".join(diff))
            cache.remove_cache(record.pk)
    now = _current(app)
    env.profond_deps_pending = {doc: now[doc] for doc in docnames if doc in now}


def remember_dependencies(app: Sphinx, doctree) -> None:
    """Après lecture (et exécution) d'une page : noter les empreintes avec lesquelles elle a tourné."""
    env = app.env
    deps = getattr(env, "profond_deps_pending", {}).get(env.docname)
    if deps is None:
        return
    env.profond_deps[env.docname] = deps
    cache = _cache(app)
    record = _record(cache, app, env.docname) if cache is not None else None
    if record is None:
        return
    target = _provenance_file(app, record.hashkey)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(deps, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)  # atomique : sûr en lecture parallèle


def forget_pending(app: Sphinx, env) -> list[str]:
    env.__dict__.pop("profond_deps_pending", None)  # pas de reste dans l'environnement sauvé
    app._profond_deps_now = None
    return []


def setup(app: Sphinx):
    app.setup_extension("myst_nb")
    app.connect("builder-inited", init_build)
    track_per_document(app, "profond_deps")  # empreintes avec lesquelles chaque page a été lue
    app.connect("env-get-outdated", outdated_pages)
    app.connect("env-before-read-docs", drop_stale_records)
    app.connect("doctree-read", remember_dependencies)
    app.connect("env-updated", forget_pending)
    return {"version": "0.1", "env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
