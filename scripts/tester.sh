#!/usr/bin/env bash
# Lance les tests du cours (installe d'abord ce qui manque). Arguments passés à pytest.
#   bash scripts/tester.sh               # tous les tests, notebooks compris
#   bash scripts/tester.sh -m "not notebook"   # sans exécuter les notebooks
# Les tests tournent sur tous les cœurs (pytest-xdist) ; PROFOND_TACHES=1 pour un seul processus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/installer.sh
set +e
.venv/bin/python -m pytest -n "${PROFOND_TACHES:-auto}" "$@"
rc=$?
set -e
# pytest renvoie 5 quand il n'a collecté aucun test : c'est une erreur pour nous.
if [ "$rc" -eq 5 ]; then echo "Aucun test collecté : échec." >&2; exit 1; fi
exit "$rc"
