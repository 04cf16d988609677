"""Deux pièges de l'optimisation et leurs remèdes (TP « Pièges : Adam et la profondeur ») :
le contre-exemple de Reddi et al. (2018), où Adam converge vers le pire point et AMSGrad non
(section `piege-sec-amsgrad`), la connexion résiduelle qui garde le gradient d'un réseau
profond (section `piege-sec-residuel`), et l'explosion du gradient d'un réseau plat trop grand à
l'initialisation, tenue par l'écrêtage (section `piege-sec-explosion`). Adam + L2, AdamW et
l'échauffement sont dans :mod:`profond.optim.adam_study`."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.optim.rules import adam_step
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["reddi_gradient", "online_adam_path", "ResidualMLP", "depth_gradient_ratios", "plain_net",
           "block_gradient_norms", "clipping_run", "clipped_fraction"]


def reddi_gradient(t: int, c: float = 3.0) -> float:
    """Gradient au pas ``t`` (compté à partir de 1) du problème en ligne de Reddi et al. (équation
    `piege-eq-reddi`) : :math:`f_t(x) = c\\,x` si :math:`t \\equiv 1 \\pmod 3`, sinon :math:`-x`."""
    return float(c) if t % 3 == 1 else -1.0


def online_adam_path(amsgrad: bool, steps: int = 3000, c: float = 3.0, lr: float = 0.5,
                     betas: tuple[float, float] = (0.0, 0.1)) -> np.ndarray:
    """Adam (ou AMSGrad) sur le problème de :func:`reddi_gradient`, avec le taux
    :math:`\\alpha_t = \\alpha/\\sqrt t` et une projection sur [−1, 1] après chaque pas ; renvoie
    :math:`x_t` pour t = 1 … ``steps``. La règle est :func:`profond.optim.rules.adam_step`."""
    steps = check_positive_int("steps", steps)
    lr = check_positive("lr", lr, strict=True)
    x = torch.zeros(1, dtype=torch.float64)
    state, path = None, np.empty(steps)
    for t in range(1, steps + 1):
        g = torch.tensor([reddi_gradient(t, c)], dtype=torch.float64)
        x, state = adam_step(x, g, state, lr=lr / math.sqrt(t), betas=betas, eps=1e-8, amsgrad=amsgrad)
        x = x.clamp(-1.0, 1.0)
        path[t - 1] = x.item()
    return path


class ResidualMLP(nn.Module):
    """Un réseau de ``depth`` blocs résiduels :math:`\\mathbf h \\leftarrow \\mathbf h + s\\,\\varphi(W\\mathbf h + \\mathbf b)`
    (équation `piege-eq-residuel`) entre une couche d'entrée et une couche de sortie linéaires ;
    ``branch_scale`` est le facteur :math:`s` de la branche (1 par défaut, :math:`1/\\sqrt{L}` pour
    que la variance ne croisse plus avec la profondeur). ``residual=False`` donne le réseau « plat »
    de même forme, :math:`\\mathbf h \\leftarrow \\varphi(W\\mathbf h + \\mathbf b)`."""

    def __init__(self, n_in: int, width: int, depth: int, n_out: int, activation: str = "relu",
                 residual: bool = True, branch_scale: float = 1.0):
        super().__init__()
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
        if activation not in acts:
            raise ValueError(f"`activation` doit être l'une de {sorted(acts)}, reçu {activation!r}.")
        self.inp = nn.Linear(check_positive_int("n_in", n_in), check_positive_int("width", width))
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(check_positive_int("depth", depth)))
        self.act = acts[activation]()
        self.out = nn.Linear(width, check_positive_int("n_out", n_out))
        self.residual = bool(residual)
        self.branch_scale = check_positive("branch_scale", branch_scale, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x))
        for layer in self.blocks:
            h = h + self.branch_scale * self.act(layer(h)) if self.residual else self.act(layer(h))
        return self.out(h)


def depth_gradient_ratios(depths: Sequence[int], activation: str = "relu", width: int = 32,
                          seeds: Sequence[int] = (0, 1, 2), n_examples: int = 256) -> dict[tuple[str, int], list[float]]:
    """Pour chaque profondeur, réseau plat, réseau résiduel et réseau résiduel à branches réduites
    par :math:`1/\\sqrt{L}`, à l'initialisation de PyTorch : le rapport des normes du gradient des
    poids entre le **dernier** et le **premier** des ``depth`` blocs (mêmes formes, même facteur
    de branche), une valeur par graine, sur des chiffres standardisés. Un rapport proche de 1 : le
    gradient traverse le réseau ; très grand, il disparaît en remontant vers l'entrée ; très petit,
    il explose."""
    from profond.data import load_split, split_tensors
    from profond.init import layer_statistics

    x, y, _, _ = split_tensors(load_split("digits", seed=0, n_train=check_positive_int("n_examples", n_examples)))
    out: dict[tuple[str, int], list[float]] = {}
    for depth in depths:
        for kind in ("plat", "résiduel", "résiduel, branches × 1/√L"):
            ratios = []
            for seed in seeds:
                seed_everything(seed)
                model = ResidualMLP(x.shape[1], width, depth, 10, activation, residual=kind != "plat",
                                    branch_scale=1 / math.sqrt(depth) if kind.endswith("√L") else 1.0)
                norms = layer_statistics(model, x, y).weight_grad_norm  # [entrée, blocs..., sortie]
                ratios.append(norms[depth] / norms[1])
            out[(kind, depth)] = ratios
    return out


# --- Explosion du gradient et écrêtage (section `piege-sec-explosion`) ---------------------------


def plain_net(depth: int, gain: float, width: int = 64, activation: str = "relu", n_in: int = 64,
              n_out: int = 10) -> ResidualMLP:
    """Réseau « plat » de ``depth`` blocs (:class:`ResidualMLP` avec ``residual=False``) dont les
    poids des blocs sont tirés en loi normale d'écart-type :math:`\\sigma_w/\\sqrt{n}` avec
    :math:`\\sigma_w` = ``gain`` (:math:`n` = ``width``), biais nuls (équation `piege-eq-explosion`) :
    pour ReLU, :math:`\\sigma_w = \\sqrt 2` (He) garde la norme du signal d'un bloc à l'autre, au-delà
    elle est multipliée par :math:`\\sigma_w/\\sqrt 2` à chaque bloc, et le gradient aussi. Le
    générateur global de torch fixe le tirage (``seed_everything`` avant l'appel)."""
    gain = check_positive("gain", gain, strict=True)
    model = ResidualMLP(n_in, width, depth, n_out, activation, residual=False)
    with torch.no_grad():
        for layer in model.blocks:
            layer.weight.normal_(0.0, gain / math.sqrt(width))
            layer.bias.zero_()
    return model


def block_gradient_norms(depth: int, gain: float, seeds: Sequence[int] = (0, 1, 2), width: int = 64,
                         n_examples: int = 256, activation: str = "relu") -> np.ndarray:
    """Norme du gradient des poids de chaque bloc de :func:`plain_net`, à l'initialisation, sur
    ``n_examples`` chiffres (pixels dans [0, 1]) : un tableau ``(graines, depth)``, du premier bloc
    (près de l'entrée) au dernier. Avec :func:`profond.init.layer_statistics`, comme
    :func:`depth_gradient_ratios` pour la disparition."""
    from profond.data import digits_tensors
    from profond.init import layer_statistics

    x, y, _, _ = digits_tensors(check_positive_int("n_examples", n_examples), 0)
    rows = []
    for seed in seeds:
        seed_everything(seed)
        norms = layer_statistics(plain_net(depth, gain, width, activation), x, y).weight_grad_norm
        rows.append(norms[1:depth + 1])  # [entrée, blocs..., sortie] -> les blocs
    return np.array(rows)


def clipping_run(max_norm: float | None, lr: float = 0.1, gain: float = 2.0, depth: int = 10, seed: int = 0,
                 epochs: int = 3, width: int = 64, n_train: int = 512, batch_size: int = 32, activation: str = "relu"):
    """Entraîne :func:`plain_net` par SGD de taux ``lr`` sur ``n_train`` chiffres, en écrêtant la
    norme du gradient à ``max_norm`` par ``profond.training.fit(grad_clip=...)`` ; ``None`` n'écrête
    pas (``grad_clip=inf`` : la norme est notée, rien n'est coupé). Renvoie l'historique :
    ``grad_norm`` (norme avant écrêtage, une par pas), ``batch_loss``, ``val_loss``."""
    from profond.data import digits_tensors, tensor_loader
    from profond.training import accuracy, fit

    x, y, xv, yv = digits_tensors(check_positive_int("n_train", n_train), 0)
    g = seed_everything(seed)
    model = plain_net(depth, gain, width, activation)
    clip = math.inf if max_norm is None else check_positive("max_norm", max_norm, strict=True)
    return fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr),
               tensor_loader(x, y, batch_size, generator=g), tensor_loader(xv, yv, 512, shuffle=False), epochs,
               device="cpu", grad_clip=clip, metrics={"accuracy": accuracy}, progress=False)


def clipped_fraction(grad_norms: Sequence[float], max_norm: float) -> float:
    """Part des pas où l'écrêtage à ``max_norm`` a coupé le gradient (norme avant écrêtage
    strictement supérieure à ``max_norm``).

    >>> clipped_fraction([0.5, 2.0, 3.0, 1.0], 1.0)
    0.5
    """
    norms = np.asarray(grad_norms, dtype=float)
    if norms.size == 0:
        raise ValueError("`grad_norms` est vide : lancer `fit` avec `grad_clip` pour noter les normes.")
    return float(np.mean(norms > check_positive("max_norm", max_norm, strict=True)))
