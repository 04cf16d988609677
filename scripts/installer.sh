#!/usr/bin/env bash
# Installe ce qui manque pour construire et tester le cours (idempotent) :
#  - paquets Debian : LaTeX (TikZ, classe standalone), pdf2svg, Chromium (tests du site) ;
#  - un environnement virtuel .venv avec les versions exactes de requirements.txt ;
#  - le paquet `profond` en mode éditable ;
#  - les outils de mesure du site (axe-core, Lighthouse) : `npm ci` depuis package-lock.json, dans
#    node_modules ; aucun navigateur téléchargé (Lighthouse et Playwright utilisent le Chromium de
#    Debian). Node et npm viennent de Debian s'ils manquent.
# Variables : PROFOND_SANS_APT=1 saute l'étape apt ; PROFOND_SANS_NPM=1 saute l'étape npm ;
# PYTHON choisit l'interpréteur (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PAQUETS=(texlive-latex-base texlive-pictures texlive-latex-extra pdf2svg chromium fonts-dejavu-core)

manquants=()
if [ "${PROFOND_SANS_APT:-0}" != "1" ]; then
  for p in "${APT_PAQUETS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || manquants+=("$p")
  done
  if [ "${PROFOND_SANS_NPM:-0}" != "1" ] && ! command -v npm >/dev/null; then
    manquants+=(nodejs npm)
  fi
  if [ ${#manquants[@]} -gt 0 ]; then
    echo "» Paquets Debian à installer : ${manquants[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${manquants[@]}" >/dev/null
  fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "» Création de l'environnement virtuel .venv"
  "$PY" -m venv .venv
fi
# On ne réinstalle que si requirements.txt ou pyproject.toml ont changé depuis la dernière fois.
empreinte=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.profond-installe 2>/dev/null)" != "$empreinte" ]; then
  echo "» Installation des paquets Python (requirements.txt)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$empreinte" > .venv/.profond-installe
fi
if [ "${PROFOND_SANS_NPM:-0}" != "1" ]; then
  empreinte_npm=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
  if [ "$(cat node_modules/.profond-installe 2>/dev/null)" != "$empreinte_npm" ]; then
    echo "» Installation des outils de mesure du site (npm ci : axe-core, Lighthouse)"
    PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROMIUM_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
      npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$empreinte_npm" > node_modules/.profond-installe
  fi
fi
echo "» Environnement prêt : $(.venv/bin/python -c 'import torch, profond; print("torch", torch.__version__, "· profond", profond.__version__)')"
