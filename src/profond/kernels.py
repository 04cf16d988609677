"""Les mêmes nombres sur tout processeur x86-64 : les noyaux de calcul de PyTorch, MKL et oneDNN
fixés avant le premier calcul (``import profond``, l'extension Sphinx du cours, ``tests/conftest.py``)."""

from __future__ import annotations

import os

#: Les mêmes noyaux de calcul sur toute machine x86-64 : sans cela, PyTorch (ATen), MKL et oneDNN
#: choisissent leurs instructions (AVX2, AVX-512...) selon le processeur, l'ordre des additions
#: change, et une comparaison serrée du cours peut basculer d'une machine à l'autre. ``STRICT`` :
#: MKL donne aussi les mêmes résultats quel que soit l'alignement des tableaux en mémoire.
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def pin_cpu_kernels(environ=os.environ) -> dict:
    """Fixe (sans écraser un réglage explicite) les jeux d'instructions de PyTorch, MKL et oneDNN
    sur AVX2, pour que les nombres du cours soient les mêmes sur tout processeur x86-64 récent.

    Ces bibliothèques lisent ces variables à leur premier calcul : il faut donc appeler cette
    fonction avant toute opération torch (``import profond`` le fait), ou dans le processus qui
    lance les noyaux Jupyter (l'extension du cours le fait pour la construction, ``tests/conftest.py``
    pour les tests). Sans effet sur un processeur sans AVX2 (ARM, par exemple). Renvoie les
    valeurs en vigueur.

    >>> env = {"MKL_CBWR": "COMPATIBLE"}
    >>> pin_cpu_kernels(env)["MKL_CBWR"], env["ATEN_CPU_CAPABILITY"]
    ('COMPATIBLE', 'avx2')
    """
    for name, value in PINNED_KERNELS.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in PINNED_KERNELS}
