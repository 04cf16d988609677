"""Les nombres en français : virgule décimale, espaces fines, vrai signe moins.

Tout nombre qu'une cellule insère dans le texte (``glue``) passe par ces fonctions, et les figures
utilisent la virgule décimale grâce à :func:`use_french_style` (appliqué à l'import de ``profond``).

>>> print(number(0.9473, 3), number(-12, 0))
0,947 −12
>>> number(1234567.5, 1).replace(THIN_NBSP, "␣")  # espaces fines insécables entre milliers
'1␣234␣567,5'
>>> print(sci(2.2e-16).replace(THIN_NBSP, "␣"), percent(0.079).replace(THIN_NBSP, "␣"))
2,2␣×␣10⁻¹⁶ 7,9␣%
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["FrenchText", "number", "sci", "percent", "auto", "ratio", "use_french_style"]

MINUS = "\N{MINUS SIGN}"
THIN_NBSP = "\N{NARROW NO-BREAK SPACE}"
_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class FrenchText(str):
    """Une chaîne de texte français produite par ce module. ``glue`` l'insère telle quelle :
    myst-nb relit la représentation ``text/plain`` (``'0,947'``) avec ``ast.literal_eval``, ce qui
    retire les guillemets — et c'est pourquoi le ``repr`` doit rester celui d'une chaîne : sans
    guillemets, « 0,905 » serait relu comme le couple ``(0, 905)``."""


def _check(x, name: str = "x") -> float:
    if isinstance(x, bool) or not isinstance(x, (Real, np.number)) and not (
        hasattr(x, "item") and getattr(x, "ndim", 1) == 0
    ):
        raise TypeError(f"`{name}` doit être un nombre, reçu {type(x).__name__}.")
    return float(x.item() if hasattr(x, "item") else x)


def _group(digits: str) -> str:
    """Groupe les chiffres par trois avec des espaces fines insécables (au-delà de 9 999)."""
    if len(digits) <= 4:
        return digits
    head = len(digits) % 3 or 3
    return THIN_NBSP.join([digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)])


def _fixed(x: float, decimals: int) -> str:
    s = f"{abs(x):.{decimals}f}"
    whole, _, frac = s.partition(".")
    out = _group(whole) + ("," + frac if frac else "")
    negative = x < 0 and float(s) != 0.0
    return (MINUS if negative else "") + out


def number(x, decimals: int = 3) -> FrenchText:
    """``x`` avec ``decimals`` décimales : virgule, espaces fines entre milliers, signe moins."""
    x = _check(x)
    if not math.isfinite(x):
        return FrenchText("NaN" if x != x else (MINUS if x < 0 else "") + "∞")
    return FrenchText(_fixed(x, int(decimals)))


def sci(x, digits: int = 1) -> FrenchText:
    """Notation scientifique française : ``sci(2.2e-16)`` donne « 2,2 × 10⁻¹⁶ » (espaces fines
    insécables autour du signe ×, pour qu'un retour à la ligne ne coupe pas le nombre)."""
    x = _check(x)
    if x == 0 or not math.isfinite(x):
        return number(x, 0)
    exponent = int(math.floor(math.log10(abs(x))))
    mantissa = round(x / 10**exponent, digits)
    if abs(mantissa) >= 10:
        mantissa /= 10
        exponent += 1
    head = _fixed(mantissa, digits)
    if exponent == 0:
        return FrenchText(head)
    return FrenchText(f"{head}{THIN_NBSP}×{THIN_NBSP}10{str(exponent).translate(_SUPERSCRIPTS)}")


def percent(fraction, decimals: int = 1) -> FrenchText:
    """Une fraction en pourcentage : ``percent(0.079)`` donne « 7,9 % » (espace fine insécable)."""
    return FrenchText(f"{number(100 * _check(fraction, 'fraction'), decimals)}{THIN_NBSP}%")


def auto(x, significant: int = 3) -> FrenchText:
    """Choisit l'écriture : décimale entre 10⁻³ et 10⁶, scientifique au-delà, avec
    ``significant`` chiffres significatifs."""
    x = _check(x)
    if x == 0 or not math.isfinite(x):
        return number(x, 0)
    magnitude = int(math.floor(math.log10(abs(x))))
    if -3 <= magnitude < 6:
        return number(x, max(0, significant - 1 - magnitude))
    return sci(x, significant - 1)


def ratio(x, significant: int = 2) -> FrenchText:
    """Un rapport « k × » : ``ratio(1.234)`` donne « 1,2 × » (espace fine insécable)."""
    return FrenchText(f"{auto(x, significant)}{THIN_NBSP}×")


# --- Figures -------------------------------------------------------------------------------------

def _french_decimal(s: str) -> str:
    """Virgule décimale dans une étiquette de graduation (``{,}`` en mode mathématique)."""
    if "." not in s:
        return s
    if s.startswith("$") and s.endswith("$"):
        return s.replace(".", "{,}")
    return s.replace(".", ",")


_STYLE_APPLIED = False


def use_french_style() -> None:
    """Virgule décimale et vrai signe moins sur les graduations de toutes les figures matplotlib.

    Les formateurs de matplotlib passent leurs étiquettes par ``Formatter.fix_minus`` ; on
    l'enrichit pour qu'il remplace aussi le point décimal. Les légendes et titres écrits à la
    main utilisent :func:`number`. Idempotent.
    """
    global _STYLE_APPLIED
    if _STYLE_APPLIED:
        return
    import matplotlib as mpl
    from matplotlib import ticker

    original = ticker.Formatter.fix_minus

    def fix_minus(s):
        return _french_decimal(original(s))

    ticker.Formatter.fix_minus = staticmethod(fix_minus)
    # Ces formateurs n'appellent pas ``fix_minus`` : on enveloppe leur rendu.
    for cls in (ticker.FormatStrFormatter, ticker.StrMethodFormatter, ticker.PercentFormatter):
        call = cls.__call__

        def french_call(self, x, pos=None, _call=call):
            return _french_decimal(_call(self, x, pos))

        cls.__call__ = french_call
    mpl.rcParams["axes.unicode_minus"] = True
    mpl.rcParams["axes.formatter.use_locale"] = False
    _STYLE_APPLIED = True
