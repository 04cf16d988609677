"""Réseaux, coûts et comparaison des coûts du chapitre « Introduction » (partie 1).

:func:`make_mlp` est le constructeur de perceptrons multicouches de tout le cours. Les autres
expériences du chapitre vivent dans :mod:`profond.init` (initialisation), :mod:`profond.regularization`
(régularisation, écrêtage) et :mod:`profond.schedules` (ordonnanceurs de taux). Chaque expérience
est bornée (un nombre d'époques), fixe sa graine avec :func:`profond.seed_everything` et renvoie
des données ; les figures sont tracées à part, par :mod:`profond.plots`.
"""

from __future__ import annotations

import torch
from torch import nn

from profond.data import digits_tensors, tensor_loader
from profond.init import init_weights_
from profond.training import History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = [
    "TwoLayerNet", "make_mlp", "collapse_linear", "OneHotMSELoss", "output_gradients", "multilabel_targets",
    "MULTILABEL_NAMES", "multilabel_accuracy", "LOSSES", "loss_run", "digits_tensors",
]


# --- Réseaux ---------------------------------------------------------------------------------


class TwoLayerNet(nn.Module):
    """Réseau à deux couches linéaires séparées par une tangente hyperbolique : on déclare les
    couches dans ``__init__`` et la passe avant dans ``forward`` ; PyTorch se charge de la passe
    arrière. Section `intro-sec-module`.

    >>> net = TwoLayerNet(10, 5, 1)
    >>> net(torch.zeros(3, 10)).shape
    torch.Size([3, 1])
    """

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.first = nn.Linear(in_features, hidden)
        self.activation = nn.Tanh()
        self.second = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.activation(self.first(x)))


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def make_mlp(sizes: list[int] | tuple[int, ...], activation: str = "relu", dropout: float = 0.0, *,
             init: str | None = None, generator: torch.Generator | None = None) -> nn.Sequential:
    """Perceptron multicouche : des couches ``nn.Linear`` de tailles ``sizes`` (entrée, cachées,
    sortie), séparées par l'activation (et un ``nn.Dropout`` si ``dropout > 0``) ; pas d'activation
    après la dernière couche. ``nn.Sequential`` reçoit les modules un par un, pas une liste.

    ``init`` (l'un de :data:`profond.init.INIT_SCHEMES`, ``None`` pour garder l'initialisation de
    PyTorch) réinitialise les couches linéaires par :func:`profond.init.init_weights_`, avec le
    générateur ``generator`` s'il est donné.

    >>> make_mlp([4, 8, 3], "tanh")
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"`activation` doit être l'une de {sorted(_ACTIVATIONS)}, reçu {activation!r}.")
    if len(sizes) < 2:
        raise ValueError(f"`sizes` doit contenir au moins deux tailles (entrée, sortie), reçu {list(sizes)}.")
    for s in sizes:
        check_positive_int("sizes", s)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` doit être dans [0, 1[, reçu {dropout}.")
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    model = nn.Sequential(*layers)
    if init is not None:
        init_weights_(model, init, generator)
    return model


def collapse_linear(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor):
    """Deux couches linéaires sans activation n'en font qu'une :
    :math:`W_2(W_1\\mathbf x + \\mathbf b_1) + \\mathbf b_2 = (W_2W_1)\\mathbf x + (W_2\\mathbf b_1 + \\mathbf b_2)`
    (équation `intro-eq-collapse`). Renvoie ``(W, b)`` de la couche équivalente.

    >>> w, b = collapse_linear(torch.tensor([[2.0]]), torch.tensor([1.0]), torch.tensor([[3.0]]), torch.tensor([-1.0]))
    >>> w, b
    (tensor([[6.]]), tensor([2.]))
    """
    if w1.ndim != 2 or w2.ndim != 2 or w2.shape[1] != w1.shape[0]:
        raise ValueError(
            f"`w2` (k, m) doit pouvoir suivre `w1` (m, d), reçu {tuple(w2.shape)} et {tuple(w1.shape)}."
        )
    if b1.shape != (w1.shape[0],) or b2.shape != (w2.shape[0],):
        raise ValueError("`b1` et `b2` doivent avoir autant d'éléments que de lignes de `w1` et `w2`.")
    return w2 @ w1, w2 @ b1 + b2


# --- Coûts -----------------------------------------------------------------------------------


class OneHotMSELoss(nn.Module):
    """Le mauvais choix pour la classification : sigmoïde sur chaque score, puis erreur quadratique
    contre le vecteur *one-hot* de la classe (équation `intro-eq-mse-onehot`). Prend des scores
    (N, K) et des classes (N,), comme ``nn.CrossEntropyLoss``, pour les comparer à l'identique.

    >>> OneHotMSELoss()(torch.zeros(1, 2), torch.tensor([0]))
    tensor(0.2500)
    """

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        one_hot = nn.functional.one_hot(target, output.shape[1]).to(output.dtype)
        return ((torch.sigmoid(output) - one_hot) ** 2).mean()


def output_gradients(z: torch.Tensor, target: int) -> dict[str, torch.Tensor]:
    """Gradient du coût par rapport aux scores ``z`` (K,) d'un exemple de classe ``target``, pour
    l'entropie croisée (``SoftMax(z) - one-hot``) et pour la MSE sur sigmoïdes (calculé par autograd).

    >>> g = output_gradients(torch.tensor([0.0, 0.0]), 0)
    >>> g["entropie croisée"]
    tensor([-0.5000,  0.5000])
    """
    z = z.detach().clone().requires_grad_(True)
    t = torch.tensor([target])
    out = {}
    for name, loss in (("entropie croisée", nn.CrossEntropyLoss()), ("MSE sur one-hot", OneHotMSELoss())):
        (grad,) = torch.autograd.grad(loss(z.unsqueeze(0), t), z)
        out[name] = grad
    return out


def multilabel_targets(digits: torch.Tensor) -> torch.Tensor:
    """Trois étiquettes binaires, non exclusives, pour chaque chiffre : « pair », « ≥ 5 »,
    « premier » (2, 3, 5, 7). Un 2 est pair et premier ; un 9 n'est que ≥ 5.

    >>> multilabel_targets(torch.tensor([2, 9]))
    tensor([[1., 0., 1.],
            [0., 1., 0.]])
    """
    prime = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1, 0, 0], dtype=torch.bool)
    return torch.stack([digits % 2 == 0, digits >= 5, prime[digits]], dim=1).float()


MULTILABEL_NAMES = ("pair", "≥ 5", "premier")


def multilabel_accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Part des étiquettes binaires bien prédites (score > 0, c.-à-d. probabilité > 1/2).

    >>> multilabel_accuracy(torch.tensor([[1.0, -1.0]]), torch.tensor([[1.0, 1.0]]))
    0.5
    """
    return ((output > 0).float() == target).float().mean().item()


LOSSES = ("entropie croisée", "MSE sur one-hot")
"""Les deux coûts de classification comparés dans la section `intro-sec-multiclasse`."""


def loss_run(loss: str, lr: float, seed: int = 0, epochs: int = 10, hidden: int = 32) -> History:
    """Entraîne le MLP 64 → hidden → 10 (tanh) par SGD de taux ``lr`` sur tous les chiffres (pixels
    dans [0, 1], découpage fixe), avec le coût ``loss`` (l'un de :data:`LOSSES`) : entropie croisée
    sur SoftMax, ou MSE sur sigmoïdes contre le *one-hot*. La graine fixe l'initialisation et
    l'ordre des lots. Section `intro-sec-multiclasse`."""
    if loss not in LOSSES:
        raise ValueError(f"`loss` doit être l'un de {LOSSES}, reçu {loss!r}.")
    check_positive("lr", lr, strict=True)
    x, y, xv, yv = digits_tensors(None, 0)
    g = seed_everything(seed)
    model = make_mlp([64, hidden, 10], "tanh")
    criterion = nn.CrossEntropyLoss() if loss == LOSSES[0] else OneHotMSELoss()
    return fit(model, criterion, torch.optim.SGD(model.parameters(), lr=lr), tensor_loader(x, y, 32, generator=g),
               tensor_loader(xv, yv, 512, shuffle=False), epochs, device="cpu", metrics={"accuracy": accuracy},
               progress=False)
