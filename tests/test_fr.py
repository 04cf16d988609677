"""Tests de profond.fr : nombres en français dans le texte et sur les figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch

from profond import fr

NNBSP = "\u202f"


@pytest.mark.parametrize("x, decimals, expected", [
    (0.9473, 3, "0,947"),
    (-12.0, 2, "−12,00"),
    (1234567.5, 1, f"1{NNBSP}234{NNBSP}567,5"),
    (9999, 0, "9999"),
    (12345, 0, f"12{NNBSP}345"),
    (-0.0001, 2, "0,00"),
    (float("nan"), 2, "NaN"),
])
def test_number(x, decimals, expected):
    assert fr.number(x, decimals) == expected


@pytest.mark.parametrize("x, expected", [
    (2.2e-16, "2,2 × 10⁻¹⁶"),
    (1.9e7, "1,9 × 10⁷"),
    (9.96e-3, "1,0 × 10⁻²"),
    (-3.0e5, "−3,0 × 10⁵"),
    (4.0, "4,0"),
])
def test_sci(x, expected):
    assert fr.sci(x) == expected.replace(" ", NNBSP)


def test_percent_auto_ratio_and_numpy_torch_inputs():
    assert fr.percent(0.079) == f"7,9{NNBSP}%"
    assert fr.auto(0.000123) == f"1,23{NNBSP}×{NNBSP}10⁻⁴"
    assert fr.auto(0.0123) == "0,0123"
    assert fr.auto(195.4) == "195"
    assert fr.ratio(1.234) == f"1,2{NNBSP}×"
    assert fr.number(np.float32(0.5), 1) == "0,5"
    assert fr.number(torch.tensor(0.25), 2) == "0,25"
    with pytest.raises(TypeError, match="nombre"):
        fr.number("0.5")


@pytest.mark.parametrize("text", [fr.number(0.905, 3), fr.number(0.6, 1), fr.percent(0.079), fr.sci(2.2e-16),
                                  fr.number(-12345.5, 1)])
def test_glued_text_comes_back_unchanged(text):
    # Le chemin de myst-nb : représentation text/plain d'IPython, puis relecture par literal_eval.
    from IPython.core.formatters import format_display_data
    from myst_nb.core.variables import format_plain_text

    data, _ = format_display_data(text)
    assert format_plain_text(data["text/plain"], "") == str(text)


def test_figure_ticks_use_decimal_comma():
    import matplotlib.pyplot as plt

    import profond  # noqa: F401  (applique le style)

    fig, ax = plt.subplots()
    ax.plot([0, 1], [-0.5, 0.5])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "0,0" in labels and "−0,4" in labels, labels
    assert not any("." in s for s in labels)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2f"))
    fig.canvas.draw()
    assert all("." not in t.get_text() for t in ax.get_yticklabels())
    plt.close(fig)
