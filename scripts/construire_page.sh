#!/usr/bin/env bash
# Reconstruit une seule page (et la page d'accueil) dans _build/page, sans toucher au site complet.
#   bash scripts/construire_page.sh book/optimisation
#   bash scripts/construire_page.sh notebooks/tp_optimisation
#   PROFOND_SORTIE=_build/moi bash scripts/construire_page.sh book/politique   # autre dossier de sortie
set -euo pipefail
cd "$(dirname "$0")/.."
page="${1:?Donner la page à reconstruire, par exemple book/optimisation}"
page="${page%.md}"
[ -f "$page.md" ] || { echo "Page introuvable : $page.md" >&2; exit 2; }
bash scripts/installer.sh
toc=$(mktemp --suffix=.yml)
trap 'rm -f "$toc"' EXIT
printf 'format: jb-book\nroot: book/index\nchapters:\n  - file: %s\n  - file: book/bibliographie\n' "$page" > "$toc"
# Les renvois vers les autres pages ne peuvent pas être résolus ici : pas de -n.
sortie="${PROFOND_SORTIE:-_build/page}"
.venv/bin/jupyter-book build . --toc "$toc" --path-output "$sortie" --keep-going
echo "» Page construite : $(pwd)/$sortie/_build/html/$page.html"
