"""Extension Sphinx locale du cours.

1. Titre des preuves en français : la directive ``prf:proof`` de sphinx-proof écrit « Proof. » en
   dur, sans passer par son catalogue de traductions ; on la remplace par une sous-classe qui
   traduit ce titre selon ``language``.
2. Une page sans erreur dans la console : sphinx-thebe déclare deux fois ses constantes
   (``const THEBE_JS_URL``, une exception JavaScript à chaque page) ; on retire les scripts en double.
   Le thème reçoit un mode d'affichage par défaut (« auto ») au lieu d'une chaîne vide.
3. Le tableau des temps d'exécution de myst-nb (``{nb-exec-table}``) a des en-têtes en anglais :
   on les traduit.
4. MathJax servi par le site lui-même (aucun CDN) : à la fin de la construction, on copie dans
   ``_static/mathjax`` le strict nécessaire (``tex-mml-chtml.js``, les polices woff-v2 et les
   extensions TeX) depuis le paquet PyPI ``sphinx-mathjax-offline``. ``mathjax_path`` pointe dessus.
5. Typographie française (espaces insécables, apostrophes, guillemets) : ``profond_typo``.
6. Citations et bibliographie en français (« Sutton et Barto, 2018 ») : ``profond_biblio``.
7. Interface en français et boutons de navigation qui marchent sur téléphone : ``profond_interface``.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx

PROOF_TITLES = {"fr": "Preuve", "en": "Proof", "de": "Beweis", "es": "Demostración"}
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions")


def _mathjax_source() -> Path:
    dist = metadata.distribution("sphinx-mathjax-offline")
    for f in dist.files or ():
        if str(f).endswith("static/mathjax/tex-mml-chtml.js"):
            return Path(dist.locate_file(f)).parent
    raise RuntimeError("MathJax introuvable : installer `sphinx-mathjax-offline` (requirements.txt).")


def copy_mathjax(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = _mathjax_source()
    dst = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s, d = src / part, dst / part
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


def deduplicate_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (str(getattr(js, "filename", js) or ""), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique


def default_theme_mode(app: Sphinx, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


EXEC_TABLE_HEADERS = {
    "fr": {"Document": "Page", "Modified": "Modifiée le", "Method": "Méthode",
           "Run Time (s)": "Durée (s)", "Status": "État"},
}


def translate_exec_table(app: Sphinx, doctree, docname) -> None:
    from docutils import nodes

    headers = EXEC_TABLE_HEADERS.get((app.config.language or "en").split("_")[0])
    if not headers:
        return
    for table in doctree.findall(nodes.table):
        for head in table.findall(nodes.thead):
            for text in list(head.findall(nodes.Text)):
                if text.astext() in headers:
                    text.parent.replace(text, nodes.Text(headers[text.astext()]))


def _french_proof_directive(app: Sphinx):
    from sphinx_proof.directive import ProofDirective

    class TranslatedProofDirective(ProofDirective):
        """``prf:proof`` avec un titre traduit (« Preuve. » en français)."""

        def run(self):
            language = (self.env.config.language or "en").split("_")[0]
            title = PROOF_TITLES.get(language, "Proof")
            # La directive d'origine préfixe le contenu par « Proof. » : on le remplace.
            from docutils import nodes as docutils_nodes

            result = super().run()
            for text in result[0].findall(docutils_nodes.Text):
                if text.astext().startswith("Proof. "):
                    text.parent.replace(text, docutils_nodes.Text(title + ". " + text.astext()[len("Proof. "):]))
                    break
            return result

    return TranslatedProofDirective


def setup(app: Sphinx):
    from profond.kernels import pin_cpu_kernels

    pin_cpu_kernels()  # les noyaux Jupyter lancés par la construction héritent de ces variables
    import profond_biblio
    import profond_interface
    import profond_typo

    profond_typo.setup(app)
    profond_biblio.setup(app)
    profond_interface.setup(app)
    app.setup_extension("sphinx_proof")
    app.add_directive_to_domain("prf", "proof", _french_proof_directive(app), override=True)
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", deduplicate_scripts, priority=999)
    app.connect("config-inited", default_theme_mode)
    app.connect("doctree-resolved", translate_exec_table)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
