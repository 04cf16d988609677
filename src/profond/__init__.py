"""profond : le code du cours « Apprentissage profond, en pratique ».

Chaque sous-module correspond à une partie du cours :

- :mod:`profond.perceptron`, :mod:`profond.scratch`, :mod:`profond.training`, :mod:`profond.data`
  (partie 1) ;
- :mod:`profond.optim` (partie 2) ;
- :mod:`profond.nn` (partie 3) ;
- :mod:`profond.rl` (partie 4).
"""

from profond.utils import seed_everything

__all__ = ["seed_everything"]
__version__ = "0.1.0"
