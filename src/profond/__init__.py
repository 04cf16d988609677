"""profond : le code du cours « Apprentissage profond, en pratique ».

Chaque sous-module correspond à une partie du cours :

- :mod:`profond.perceptron`, :mod:`profond.scratch`, :mod:`profond.training`, :mod:`profond.data`
  (partie 1) ;
- :mod:`profond.optim` (partie 2) ;
- :mod:`profond.nn` (partie 3) ;
- :mod:`profond.rl` (partie 4).

Communs à toutes les parties : :mod:`profond.compare` (comparaisons loyales sur plusieurs graines,
chaque bras réglé par la même recherche) et :mod:`profond.fr` (nombres écrits en français, dans le
texte comme sur les figures : le style est appliqué à l'import).
"""

from profond.kernels import pin_cpu_kernels

pin_cpu_kernels()  # avant toute opération torch : mêmes nombres sur tout processeur x86-64

from profond.fr import use_french_style  # noqa: E402
from profond.utils import seed_everything  # noqa: E402

use_french_style()

__all__ = ["pin_cpu_kernels", "seed_everything"]
__version__ = "0.1.0"
