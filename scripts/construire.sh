#!/usr/bin/env bash
# Construit le site du cours (installe d'abord ce qui manque), puis l'ouvre.
#   bash scripts/construire.sh            # construction incrémentale, puis ouverture : ne réexécute que les
#                                         # pages dont les cellules ou le code de profond qu'elles importent
#                                         # (même indirectement) ont changé (scripts/profond_cache.py)
#   bash scripts/construire.sh --propre   # tout réexécuter depuis zéro (ce que fait la CI)
#   bash scripts/construire.sh --sans-ouvrir
set -euo pipefail
cd "$(dirname "$0")/.."
propre=0; ouvrir=1
for a in "$@"; do
  case "$a" in
    --propre) propre=1 ;;
    --sans-ouvrir) ouvrir=0 ;;
    *) echo "Option inconnue : $a (attendu --propre ou --sans-ouvrir)" >&2; exit 2 ;;
  esac
done
bash scripts/installer.sh
[ "$propre" = 1 ] && rm -rf _build
# Avertissements traités comme des erreurs ; une cellule en erreur fait échouer la construction.
.venv/bin/jupyter-book build . -W -n --keep-going
.venv/bin/python scripts/verifier_site.py _build/html
page="$(pwd)/_build/html/index.html"
echo "» Site construit : $page"
if [ "$ouvrir" = 1 ] && [ -z "${CI:-}" ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && command -v xdg-open >/dev/null; then
    xdg-open "$page" >/dev/null 2>&1 &
  else
    echo "» Pas d'écran ici : servez le site avec"
    echo "    .venv/bin/python -m http.server 8000 --directory _build/html"
    echo "  puis ouvrez http://localhost:8000 dans un navigateur."
  fi
fi
