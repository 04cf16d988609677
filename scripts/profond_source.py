"""Extension Sphinx locale du cours : rôle ``{source}``, le code d'une fonction en un clic.

``{source}`profond.rl.reinforce.train_reinforce` `` affiche ``train_reinforce`` (en police de code),
lien vers une page du site qui montre le code source coloré du module, ancrée sur la définition
(``_modules/profond/rl/reinforce.html#train_reinforce``). Un titre explicite est permis :
``{source}`l'entraînement <profond.rl.train_reinforce>` ``. Un nom réexporté (``profond.rl.train_reinforce``,
importé dans ``profond/rl/__init__.py``) mène à sa vraie définition.

Tout est statique : le module n'est pas importé (``importlib.util.find_spec`` sur le paquet de tête
pour trouver le fichier, puis ``ast`` pour les définitions). Une cible inconnue produit un
avertissement (la construction tourne avec ``-W`` : elle échoue). Si le fichier d'un module cité
change, les pages qui le citent sont relues (une fonction renommée est signalée aussi en
construction incrémentale). Compatible avec les lectures et écritures parallèles.

Les fonctions ``module_source_path`` et ``resolve`` servent aussi à ``profond_cache``.
"""

from __future__ import annotations

import ast
import hashlib
import html
import importlib.machinery
import importlib.util
import posixpath
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole
from sphinx.util.nodes import make_refnode, split_explicit_title

logger = logging.getLogger(__name__)

OUTPUT_DIRNAME = "_modules"
REFTYPE = "profond-source"


# ---------------------------------------------------------------- trouver le code, sans l'importer
def module_source_path(modname: str) -> Path | None:
    """Fichier ``.py`` du module ``modname``, trouvé sans exécuter le paquet (``None`` si absent)."""
    parts = modname.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    try:
        spec = importlib.util.find_spec(parts[0])  # le paquet de tête : trouvé, pas importé
    except (ImportError, ValueError):
        return None
    for part in parts[1:]:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def definitions(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Nom qualifié → (première ligne, décorateurs compris ; dernière ligne) de chaque def/class."""
    out: dict[str, tuple[int, int]] = {}

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + node.name
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                out[name] = (start, node.end_lineno or node.lineno)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, name + ".")

    walk(tree.body, "")
    return out


def _absolute_module(modname: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = modname.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def resolve(target: str, _depth: int = 0) -> tuple[str, str]:
    """``"profond.rl.train_reinforce"`` → ``("profond.rl.reinforce", "train_reinforce")``.

    Le module est le plus long préfixe qui existe ; un nom importé dans ce module (réexport) est
    suivi jusqu'à sa définition. Lève ``LookupError`` (message en français) si rien ne correspond.
    """
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        modname, qualname = ".".join(parts[:i]), ".".join(parts[i:])
        path = module_source_path(modname)
        if path is None:
            continue
        tree = _parse(path)
        if qualname in definitions(tree):
            return modname, qualname
        head, _, rest = qualname.partition(".")
        if _depth < 10:
            for node in tree.body:
                if isinstance(node, ast.ImportFrom):
                    for alias in node.names:
                        if (alias.asname or alias.name) == head:
                            origin = _absolute_module(modname, path.name == "__init__.py", node)
                            full = ".".join(filter(None, [origin, alias.name, rest]))
                            return resolve(full, _depth + 1)
        raise LookupError(f"« {qualname} » n'est pas défini dans le module « {modname} » ({path})")
    raise LookupError(f"aucun module importable ne correspond à « {target} »")


def source_hash(modname: str) -> str:
    path = module_source_path(modname)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path else ""


def pagename_for(modname: str) -> str:
    return posixpath.join(OUTPUT_DIRNAME, *modname.split("."))


# ---------------------------------------------------------------- le rôle
class SourceRole(SphinxRole):
    """``{source}`module.fonction` `` : lien vers le code source de la fonction."""

    def run(self):
        has_title, title, target = split_explicit_title(self.text)
        target = target.strip()
        try:
            modname, qualname = resolve(target)
        except (LookupError, SyntaxError, OSError) as exc:
            logger.warning("{source}`%s` : cible introuvable : %s", target, exc,
                           location=self.get_location(), type="profond", subtype="source")
            return [nodes.literal(self.rawtext, title if has_title else target)], []
        env = self.env
        env.profond_source_refs.setdefault(env.docname, {})[modname] = source_hash(modname)
        short = qualname.rsplit(".", 1)[-1]
        content = nodes.inline(title, title) if has_title else nodes.literal(short, short)
        ref = addnodes.pending_xref(
            self.rawtext, refdomain="std", reftype=REFTYPE, refdoc=env.docname,
            reftarget=pagename_for(modname), refid=qualname, refexplicit=True)
        ref["classes"].append("profond-source")
        ref += content
        return [ref], []


def resolve_source_reference(app: Sphinx, env, node, contnode):
    if node.get("reftype") != REFTYPE:
        return None
    if app.builder.format != "html" or app.builder.name.startswith("epub"):
        return contnode
    ref = make_refnode(app.builder, node["refdoc"], node["reftarget"], node["refid"], contnode,
                       title=f"Code source de {node['refid']}")
    ref["classes"].append("profond-source")
    return ref


# ---------------------------------------------------------------- l'environnement (incrémental, parallèle)
def track_per_document(app: Sphinx, attribute: str) -> None:
    """Une donnée de l'environnement par page (``env.<attribute>[docname]``) : créée, purgée quand la
    page est relue, fusionnée après une lecture parallèle. Sert aussi à ``profond_cache``."""

    def init(app: Sphinx) -> None:
        if not hasattr(app.env, attribute):
            setattr(app.env, attribute, {})

    def purge(app: Sphinx, env, docname: str) -> None:
        getattr(env, attribute, {}).pop(docname, None)

    def merge(app: Sphinx, env, docnames, other) -> None:
        init(app)
        theirs = getattr(other, attribute, {})
        getattr(env, attribute).update({doc: theirs[doc] for doc in docnames if doc in theirs})

    app.connect("builder-inited", init)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)


def outdated_citing_pages(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Relit les pages qui citent un module dont le fichier a changé depuis leur lecture."""
    current: dict[str, str] = {}
    stale = []
    for doc, mods in getattr(env, "profond_source_refs", {}).items():
        if doc in removed or doc in changed or doc not in env.all_docs:
            continue
        for mod, digest in mods.items():
            if mod not in current:
                current[mod] = source_hash(mod)
            if current[mod] != digest:
                stale.append(doc)
                break
    return stale


# ---------------------------------------------------------------- les pages de code
def _highlighted_lines(app: Sphinx, code: str) -> list[str]:
    highlighted = app.builder.highlighter.highlight_block(code, "python", linenos="inline")
    lines = highlighted.splitlines()
    before, after = lines[0].split("<pre>", 1)
    lines[0:1] = [before + "<pre>", after]  # lines[k] est maintenant la ligne k du fichier
    return lines


def collect_pages(app: Sphinx):
    env = app.builder.env
    modnames = sorted({m for mods in getattr(env, "profond_source_refs", {}).values() for m in mods})
    for modname in modnames:
        path = module_source_path(modname)
        if path is None:
            continue  # la page qui le cite a déjà été signalée à la relecture
        code = path.read_text(encoding="utf-8")
        lines = _highlighted_lines(app, code)
        last = len(lines) - 1
        for name, (start, end) in sorted(definitions(ast.parse(code)).items(), key=lambda kv: kv[1][0]):
            # ni saut de ligne ajouté : on est dans un <pre>, il s'afficherait
            lines[start] = f'<div class="viewcode-block" id="{html.escape(name)}">' + lines[start]
            lines[min(end, last)] += "</div>"
        title = f"Code source de {modname}"
        body = (f"<h1>{html.escape(title)}</h1>\n"
                f"<p>Fichier <code>{html.escape(_display_path(path))}</code> du dépôt.</p>\n"
                + "\n".join(lines))
        yield pagename_for(modname), {"title": title, "body": body, "parents": []}, "page.html"


def _display_path(path: Path) -> str:
    parts = path.parts
    if "src" in parts:
        return "/".join(parts[parts.index("src"):])
    return path.name


def setup(app: Sphinx):
    app.add_role("source", SourceRole())
    track_per_document(app, "profond_source_refs")
    app.connect("env-get-outdated", outdated_citing_pages)
    app.connect("missing-reference", resolve_source_reference)
    app.connect("html-collect-pages", collect_pages)
    return {"version": "0.2", "env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
