"""Avant tout test : les mêmes noyaux de calcul que la construction du site (profond.kernels), pour
les tests qui calculent ici comme pour les noyaux Jupyter qu'ils lancent."""

from profond.kernels import pin_cpu_kernels

pin_cpu_kernels()
