"""Régularisation et écrêtage du gradient (partie 1, section `intro-sec-regularisation`).

Pénalités L1 et L2, seuillage doux (l'opérateur proximal de L1) et les expériences de la
section : sur-apprentissage d'un MLP sur 150 chiffres, parcimonie obtenue par sous-gradient ou par
pas proximal, explosion du gradient sur *diabetes*. Chaque expérience est bornée en époques,
fixe sa graine et renvoie des historiques.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from profond.data import RandomShift, digits_tensors, load_split, tensor_loader
from profond.intro import make_mlp
from profond.training import Callback, EvaluateOn, History, accuracy, fit
from profond.utils import check_positive, seed_everything


def l1_penalty(model: nn.Module, lam: float) -> torch.Tensor:
    """Pénalité L1 :math:`\\lambda \\sum_k \\|W^k\\|_1` sur les matrices de poids (pas les biais).
    Équation `intro-eq-penalite`.

    >>> net = nn.Linear(2, 1); _ = nn.init.constant_(net.weight, -2.0)
    >>> l1_penalty(net, 0.5)
    tensor(2., grad_fn=<MulBackward0>)
    """
    return lam * sum(p.abs().sum() for name, p in model.named_parameters() if name.endswith("weight"))


def l2_penalty(model: nn.Module, lam: float) -> torch.Tensor:
    """Pénalité L2 :math:`\\lambda \\sum_k \\|W^k\\|_2^2` sur les matrices de poids (pas les biais).
    Équation `intro-eq-penalite`.

    >>> net = nn.Linear(2, 1); _ = nn.init.constant_(net.weight, -2.0)
    >>> l2_penalty(net, 0.5)
    tensor(4., grad_fn=<MulBackward0>)
    """
    return lam * sum((p**2).sum() for name, p in model.named_parameters() if name.endswith("weight"))


def soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """Seuillage doux :math:`\\operatorname{signe}(w)\\max(|w| - \\tau, 0)`, l'opérateur proximal
    de :math:`\\tau\\|\\cdot\\|_1` (équation `intro-eq-prox`) : les coordonnées de valeur absolue au
    plus :math:`\\tau` deviennent exactement nulles, les autres se rapprochent de zéro de :math:`\\tau`.

    >>> soft_threshold(torch.tensor([-3.0, 0.5, 0.2, 2.0]), 1.0).tolist()
    [-2.0, 0.0, 0.0, 1.0]
    """
    threshold = check_positive("threshold", threshold)
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


class ProximalL1(Callback):
    """Pas proximal après chaque pas de la SGD de taux constant ``lr`` : les matrices de poids
    passent par :func:`soft_threshold` au seuil ``lr · lam`` (algorithme
    `intro-algo-proximal`). Avec ``fit(..., callbacks=[ProximalL1(lam, lr)])`` et
    ``torch.optim.SGD(lr=lr)``, c'est la descente de gradient proximale pour
    :math:`L + \\lambda\\sum_k\\|W^k\\|_1`."""

    def __init__(self, lam: float, lr: float) -> None:
        self.threshold = check_positive("lam", lam) * check_positive("lr", lr, strict=True)

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("weight"):
                    p.copy_(soft_threshold(p, self.threshold))


def weight_sparsity(model: nn.Module, tol: float = 1e-3) -> tuple[float, float]:
    """``(part des poids exactement nuls, part des poids de valeur absolue < tol)`` sur toutes les
    matrices de poids (pas les biais)."""
    w = torch.cat([p.detach().flatten() for name, p in model.named_parameters() if name.endswith("weight")])
    return (w == 0).float().mean().item(), (w.abs() < tol).float().mean().item()


# --- Sur-apprentissage sur 150 chiffres --------------------------------------------------------


@dataclass(frozen=True)
class OverfitConfig:
    """Hyper-paramètres (fixés à la main) de l'expérience de sur-apprentissage sur les chiffres."""

    n_train: int = 150
    """Exemples d'entraînement gardés (peu, pour sur-apprendre vite)."""
    hidden: int = 128
    """Largeur des deux couches cachées."""
    epochs: int = 80
    """Nombre d'époques."""
    lr: float = 2e-3
    """Taux d'apprentissage α d'Adam."""
    batch_size: int = 50
    """Taille des lots."""
    l1: float = 6e-4
    """Coefficient λ de la pénalité L1."""
    l2: float = 5e-3
    """Coefficient λ de la pénalité L2."""
    dropout: float = 0.5
    """Probabilité d'éteindre un neurone caché."""
    max_shift: int = 1
    """Décalage maximal (pixels) de l'augmentation."""
    grad_clip: float = 0.5
    """Norme maximale du gradient pour l'écrêtage."""
    data_seed: int = 0
    """Graine du découpage des données : les mêmes ``n_train`` images pour toutes les graines."""


REGULARIZATIONS = ("aucune", "L2", "L1", "dropout", "augmentation", "écrêtage")


def overfitting_run(variant: str, config: OverfitConfig = OverfitConfig(), seed: int = 0) -> tuple[History, nn.Module]:
    """Entraîne par Adam le MLP 64 → hidden → hidden → 10 (ReLU) sur ``n_train`` chiffres, avec la
    régularisation ``variant`` (parmi :data:`REGULARIZATIONS`). La graine ``seed`` fixe
    l'initialisation, l'ordre des lots, les masques du dropout et les décalages.

    Renvoie l'historique et le modèle entraîné. Les pertes d'entraînement et de validation
    comparables sont ``metrics["train_eval_loss"]`` et ``val_loss`` : toutes deux mesurées en mode
    évaluation (sans dropout) sur les images non décalées ; ``train_loss`` est la moyenne des
    lots pendant l'époque (avec dropout ou augmentation), sans pénalité."""
    if variant not in REGULARIZATIONS:
        raise ValueError(f"Régularisation inconnue {variant!r} : attendu l'une de {REGULARIZATIONS}.")
    x, y, xv, yv = digits_tensors(config.n_train, config.data_seed)
    g = seed_everything(seed)
    model = make_mlp([64, config.hidden, config.hidden, 10], "relu", config.dropout if variant == "dropout" else 0.0)
    if variant == "augmentation":
        train_loader = DataLoader(RandomShift(x, y, max_shift=config.max_shift, generator=torch.Generator().manual_seed(seed)),
                                  batch_size=config.batch_size, shuffle=True, generator=g)
    else:
        train_loader = tensor_loader(x, y, config.batch_size, generator=g)
    loss = nn.CrossEntropyLoss()
    regularizer = {"L1": lambda m: l1_penalty(m, config.l1), "L2": lambda m: l2_penalty(m, config.l2)}.get(variant)
    history = fit(
        model, loss, torch.optim.Adam(model.parameters(), lr=config.lr), train_loader,
        tensor_loader(xv, yv, 512, shuffle=False), config.epochs, device="cpu", metrics={"accuracy": accuracy},
        regularizer=regularizer, grad_clip=config.grad_clip if variant == "écrêtage" else None, progress=False,
        callbacks=[EvaluateOn("train_eval", loss, tensor_loader(x, y, 512, shuffle=False))],
    )
    return history, model


def generalization_gap(history: History) -> float:
    """Écart final perte de validation − perte d'entraînement, toutes deux en mode évaluation
    (``metrics["train_eval_loss"]``, voir :func:`overfitting_run`)."""
    return history.val_loss[-1] - history.metrics["train_eval_loss"][-1]


def sparsity_run(method: str, lam: float = 2e-3, lr: float = 0.2, epochs: int = 150, n_train: int = 150,
                 hidden: int = 64, seed: int = 0) -> tuple[History, nn.Module]:
    """Même pénalité :math:`\\lambda\\sum_k\\|W^k\\|_1`, même SGD de taux ``lr``, deux façons de la
    traiter : ``"sous-gradient"`` ajoute la pénalité au coût (son gradient :math:`\\lambda\\,
    \\operatorname{signe}(w)` fait osciller les petits poids autour de zéro), ``"proximal"`` fait
    le pas de gradient du coût seul puis un seuillage doux (:class:`ProximalL1`). Sur ``n_train``
    chiffres, MLP 64 → hidden → 10 (ReLU)."""
    if method not in ("sous-gradient", "proximal"):
        raise ValueError(f"`method` doit valoir 'sous-gradient' ou 'proximal', reçu {method!r}.")
    x, y, xv, yv = digits_tensors(n_train, 0)
    g = seed_everything(seed)
    model = make_mlp([64, hidden, 10], "relu")
    history = fit(
        model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr),
        tensor_loader(x, y, 50, generator=g), tensor_loader(xv, yv, 512, shuffle=False), epochs, device="cpu",
        metrics={"accuracy": accuracy}, progress=False,
        regularizer=(lambda m: l1_penalty(m, lam)) if method == "sous-gradient" else None,
        callbacks=[ProximalL1(lam, lr)] if method == "proximal" else [],
    )
    return history, model


# --- Écrêtage du gradient ----------------------------------------------------------------------


def clipping_experiment(lr: float = 0.2, max_norm: float = 1.0, epochs: int = 20, hidden: int = 32,
                        seed: int = 0) -> dict[str, History]:
    """Régression sur *diabetes* avec les cibles brutes (de l'ordre de 150, donc des gradients
    énormes au départ) et une SGD à grand pas ``lr`` : sans écrêtage, puis en écrêtant la norme du
    gradient à ``max_norm``. Un historique par variante (``grad_norm`` rempli pour la seconde)."""
    s = load_split("diabetes", seed=seed)
    x, xv = (torch.as_tensor(a, dtype=torch.float32) for a in (s.x_train, s.x_val))
    y, yv = (torch.as_tensor(a, dtype=torch.float32).reshape(-1, 1) for a in (s.y_train, s.y_val))
    histories = {}
    for name, clip in (("sans écrêtage", None), ("avec écrêtage", max_norm)):
        g = seed_everything(seed)
        model = make_mlp([10, hidden, 1], "tanh")
        histories[name] = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr),
                              tensor_loader(x, y, 32, generator=g), tensor_loader(xv, yv, 512, shuffle=False),
                              epochs, device="cpu", grad_clip=clip, progress=False)
    return histories
