"""Extension Sphinx locale du cours : exécuter les pages en parallèle avant de les lire.

myst-nb (mode ``cache``) exécute chaque page au moment où Sphinx la lit, une après l'autre :
sur une machine à deux cœurs, l'un des deux attend. Jupyter Book 1.x n'expose pas l'option
``-j`` de Sphinx, et la lecture parallèle de Sphinx ne servirait pas ici (les extensions de
thème et de bibliographie la refusent).

Juste avant la lecture (``env-before-read-docs``, après le tri des exécutions périmées par
``profond_cache``), on cherche les pages qui seront lues et dont le cache de jupyter-cache n'a pas
d'exécution ; on les exécute dans des processus séparés, autant que de cœurs (ou
``PROFOND_TACHES``), la plus longue d'abord, exactement comme myst-nb le ferait (même lecteur,
même dossier de travail, même délai, même fonction ``single_nb_execution``) ; le processus
principal, seul à écrire dans la base du cache, y range chaque résultat. Quand Sphinx lit ensuite
la page, myst-nb trouve l'exécution en cache et ne fait rien de plus.

Une page qui échoue ici n'est pas mise en cache : myst-nb la réexécute en la lisant et signale
l'erreur comme d'habitude (la construction échoue avec son message). Les durées mesurées sont
notées dans le dossier du cache pour ordonner les exécutions suivantes (les plus longues d'abord).
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from profond_cache import DEPS_DIRNAME, _execution_mode, _record, read_notebook

logger = logging.getLogger(__name__)

DURATIONS_FILE = "durees.json"


def worker_count(n_pages: int) -> int:
    """Nombre de processus : ``PROFOND_TACHES`` s'il est donné, sinon le nombre de cœurs."""
    wanted = os.environ.get("PROFOND_TACHES", "")
    try:
        jobs = int(wanted) if wanted else (os.cpu_count() or 1)
    except ValueError:
        raise ValueError(f"PROFOND_TACHES doit être un entier, reçu {wanted!r}.") from None
    return max(1, min(jobs, n_pages))


def _execute(notebook, cwd: str, allow_errors: bool, timeout: int):
    """Dans un processus fils : exécute le notebook ; renvoie (notebook, durée, erreur ou None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    result = single_nb_execution(notebook, cwd=cwd, allow_errors=allow_errors, timeout=timeout,
                                 meta_override=True)
    error = None if result.err is None else f"{result.err.__class__.__name__}"
    return result.nb, result.time, error


def _durations_path(app: Sphinx) -> Path:
    return Path(app.env.mystnb_config.execution_cache_path) / DEPS_DIRNAME / DURATIONS_FILE


def _load_durations(app: Sphinx) -> dict[str, float]:
    try:
        return json.loads(_durations_path(app).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_durations(app: Sphinx, durations: dict[str, float]) -> None:
    target = _durations_path(app)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(durations, indent=1, sort_keys=True), encoding="utf-8")


def execute_missing(app: Sphinx, env, docnames: list[str]) -> None:
    """Exécute en parallèle les pages à lire qui n'ont pas d'exécution en cache."""
    path = getattr(app.env.mystnb_config, "execution_cache_path", "")
    if _execution_mode(app) != "cache" or not path:
        return
    from jupyter_cache import get_cache

    cache = get_cache(path)  # créé s'il n'existe pas encore (première construction)
    todo = []
    for doc in docnames:
        notebook = read_notebook(app, doc)
        if notebook is None or not any(c.cell_type == "code" for c in notebook.cells):
            continue
        if _record(cache, app, doc) is None:
            todo.append((doc, notebook))
    if len(todo) < 2:
        return  # rien à gagner : myst-nb s'en charge en lisant la page
    durations = _load_durations(app)
    # La plus longue d'abord (durée de la dernière exécution, sinon la taille du code).
    todo.sort(key=lambda item: -durations.get(item[0], sum(len(c.source) for c in item[1].cells
                                                           if c.cell_type == "code") / 1000))
    config = app.env.mystnb_config
    jobs = worker_count(len(todo))
    logger.info("profond_parallele : %d pages à exécuter, %d à la fois", len(todo), jobs)
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        futures = {}
        for doc, notebook in todo:
            cwd = str(Path(env.doc2path(doc)).parent.resolve())
            futures[pool.submit(_execute, notebook, cwd, config.execution_allow_errors,
                                config.execution_timeout)] = doc
        for future in as_completed(futures):
            doc = futures[future]
            path = str(env.doc2path(doc))
            try:
                executed, seconds, error = future.result()
            except Exception as exc:  # noqa: BLE001 - myst-nb réexécutera la page et dira pourquoi
                logger.info("%s: exécution parallèle impossible (%s) ; myst-nb s'en chargera", path, exc)
                continue
            if error is not None:
                logger.info("%s: échec de l'exécution parallèle (%s) ; myst-nb la relancera", path, error)
                continue
            from jupyter_cache.base import CacheBundleIn

            cache.cache_notebook_bundle(CacheBundleIn(executed, path, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            durations[doc] = round(seconds, 1)
            logger.info("%s: Executing notebook in parallel: %.1f s [profond_parallele]", path, seconds)
    _save_durations(app, durations)
    logger.info("profond_parallele : exécutions terminées en %.0f s", time.perf_counter() - start)


def setup(app: Sphinx):
    app.setup_extension("profond_cache")
    # Après profond_cache (priorité 500), qui retire d'abord les exécutions périmées.
    app.connect("env-before-read-docs", execute_missing, priority=600)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
