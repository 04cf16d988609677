"""Initialisation des poids et propagation de la variance (partie 1, section
`intro-sec-initialisation`).

Trois schémas pour les couches ``nn.Linear`` : celui de PyTorch par défaut (loi uniforme de
variance :math:`1/(3 n_{\\text{in}})`, biais compris), celui de Glorot et Bengio (variance
:math:`2/(n_{\\text{in}} + n_{\\text{out}})`) et celui de He et al. (variance :math:`2/n_{\\text{in}}`),
ces deux derniers en loi normale avec des biais nuls. :func:`layer_statistics` mesure, couche par
couche, la dispersion des pré-activations et des gradients ; :func:`init_experiment` la mesure pour
chaque activation et chaque schéma.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from profond.utils import check_positive, check_positive_int, seed_everything

INIT_SCHEMES = ("défaut", "Glorot", "He")
"""Les schémas d'initialisation connus de :func:`init_linear_`."""


def default_std(fan_in: int) -> float:
    """Écart-type des poids de ``nn.Linear`` par défaut : loi uniforme sur
    :math:`[-1/\\sqrt{n_{\\text{in}}}, 1/\\sqrt{n_{\\text{in}}}]`, de variance :math:`1/(3 n_{\\text{in}})`
    (équation `intro-eq-init-defaut`).

    >>> round(default_std(3), 4)
    0.3333
    """
    fan_in = check_positive_int("fan_in", fan_in)
    return 1.0 / math.sqrt(3 * fan_in)


def glorot_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Écart-type de l'initialisation de Glorot (ou Xavier) : :math:`\\sqrt{2 / (n_{\\text{in}} +
    n_{\\text{out}})}`, compromis entre les passes avant et arrière (équation `intro-eq-glorot`).

    >>> glorot_std(3, 5)
    0.5
    """
    fan_in, fan_out = check_positive_int("fan_in", fan_in), check_positive_int("fan_out", fan_out)
    return check_positive("gain", gain, strict=True) * math.sqrt(2.0 / (fan_in + fan_out))


def he_std(fan_in: int) -> float:
    """Écart-type de l'initialisation de He (ou Kaiming) pour la ReLU : :math:`\\sqrt{2 / n_{\\text{in}}}`
    (équation `intro-eq-he`).

    >>> he_std(8)
    0.5
    """
    return math.sqrt(2.0 / check_positive_int("fan_in", fan_in))


def init_linear_(layer: nn.Linear, scheme: str, generator: torch.Generator | None = None) -> nn.Linear:
    """Réinitialise ``layer`` en place selon ``scheme`` (l'un de :data:`INIT_SCHEMES`) et le renvoie.

    « défaut » retire les poids et les biais comme ``nn.Linear`` (uniformes sur
    :math:`\\pm 1/\\sqrt{n_{\\text{in}}}`) ; « Glorot » et « He » tirent les poids en loi normale
    d'écart-type :func:`glorot_std` ou :func:`he_std` et mettent les biais à zéro. Section
    `intro-sec-initialisation`.
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"`layer` doit être un nn.Linear, reçu {type(layer).__name__}.")
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"`scheme` doit être l'un de {INIT_SCHEMES}, reçu {scheme!r}.")
    fan_out, fan_in = layer.weight.shape
    with torch.no_grad():
        if scheme == "défaut":
            bound = 1.0 / math.sqrt(fan_in)
            layer.weight.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)
            return layer
        std = glorot_std(fan_in, fan_out) if scheme == "Glorot" else he_std(fan_in)
        layer.weight.normal_(0.0, std, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def init_weights_(model: nn.Module, scheme: str, generator: torch.Generator | None = None) -> nn.Module:
    """Applique :func:`init_linear_` à chaque ``nn.Linear`` de ``model``, dans l'ordre ; renvoie ``model``."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            init_linear_(module, scheme, generator)
    return model


@dataclass
class LayerStats:
    """Dispersions mesurées couche linéaire par couche linéaire, de l'entrée (indice 0) à la sortie
    (au moins deux couches).

    ``pre_std`` : écart-type des pré-activations :math:`\\mathbf a^k` (sorties de la couche) ;
    ``delta_std`` : écart-type de :math:`\\partial L / \\partial \\mathbf a^k` ;
    ``weight_grad_norm`` : norme de :math:`\\partial L / \\partial W^k`.
    """

    pre_std: list[float]
    delta_std: list[float]
    weight_grad_norm: list[float]

    @property
    def activation_ratio(self) -> float:
        """Écart-type des pré-activations de la dernière couche cachée divisé par celui de la
        première (1 : le signal garde son échelle ; bien moins que 1 : il s'éteint vers la sortie).
        La couche de sortie, de largeur différente, est exclue."""
        return self.pre_std[-2] / self.pre_std[0]

    @property
    def delta_ratio(self) -> float:
        """Écart-type de :math:`\\partial L / \\partial \\mathbf a^k` à la dernière couche cachée
        divisé par celui de la première (bien plus que 1 : le gradient disparaît en remontant vers
        l'entrée). La couche de sortie, de largeur différente, est exclue."""
        return self.delta_std[-2] / self.delta_std[0]

    @property
    def weight_grad_ratio(self) -> float:
        """Norme du gradient des poids de la dernière couche divisée par celle de la première."""
        return self.weight_grad_norm[-1] / self.weight_grad_norm[0]


def layer_statistics(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: nn.Module | None = None) -> LayerStats:
    """Une passe avant et une passe arrière de ``model`` sur ``(x, y)`` (coût ``loss``, entropie
    croisée par défaut), sans mise à jour ; renvoie les dispersions de chaque couche linéaire
    (:class:`LayerStats`). Les gradients des paramètres sont remis à zéro avant et après."""
    loss = nn.CrossEntropyLoss() if loss is None else loss
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(linears) < 2:
        raise ValueError("`model` doit contenir au moins deux couches nn.Linear.")
    outputs: list[torch.Tensor] = []

    def keep(_module, _inputs, out):
        out.retain_grad()
        outputs.append(out)

    handles = [m.register_forward_hook(keep) for m in linears]
    try:
        model.zero_grad(set_to_none=True)
        loss(model(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    stats = LayerStats(
        pre_std=[a.detach().std().item() for a in outputs],
        delta_std=[a.grad.std().item() for a in outputs],
        weight_grad_norm=[m.weight.grad.norm().item() for m in linears],
    )
    model.zero_grad(set_to_none=True)
    return stats


def init_experiment(activations=("sigmoid", "tanh", "relu"), schemes=INIT_SCHEMES, depth: int = 10,
                    width: int = 32, n_examples: int = 256, seeds=(0, 1, 2)) -> dict[tuple[str, str], list[LayerStats]]:
    """Pour chaque activation et chaque schéma : un MLP de ``depth`` couches linéaires de largeur
    ``width`` (:func:`profond.intro.make_mlp`), initialisé par :func:`init_weights_`, une passe
    avant et arrière sur ``n_examples`` chiffres standardisés ; une :class:`LayerStats` par graine.
    Section `intro-sec-initialisation`."""
    from profond.data import load_split, split_tensors
    from profond.intro import make_mlp

    depth = check_positive_int("depth", depth)
    if depth < 2:
        raise ValueError(f"`depth` doit valoir au moins 2, reçu {depth}.")
    x, y, _, _ = split_tensors(load_split("digits", seed=0, n_train=check_positive_int("n_examples", n_examples)))
    out: dict[tuple[str, str], list[LayerStats]] = {}
    for activation in activations:
        for scheme in schemes:
            runs = []
            for seed in seeds:
                g = seed_everything(seed)
                model = make_mlp([x.shape[1]] + [width] * (depth - 1) + [10], activation)
                init_weights_(model, scheme, g)
                runs.append(layer_statistics(model, x, y))
            out[(activation, scheme)] = runs
    return out
