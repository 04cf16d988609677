"""Réseaux et expériences du chapitre « Introduction » (partie 1).

Chaque expérience est bornée (un nombre d'époques), fixe sa graine avec
:func:`profond.seed_everything` et renvoie des données (historiques, dataclasses) ; les figures
sont tracées à part, par :mod:`profond.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from profond.data import RandomShift, load_split
from profond.training import History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything


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


def make_mlp(sizes: list[int] | tuple[int, ...], activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """Perceptron multicouche : des couches ``nn.Linear`` de tailles ``sizes`` (entrée, cachées,
    sortie), séparées par l'activation (et un ``nn.Dropout`` si ``dropout > 0``) ; pas d'activation
    après la dernière couche. ``nn.Sequential`` reçoit les modules un par un, pas une liste.

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
    return nn.Sequential(*layers)


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


# --- Données des expériences -----------------------------------------------------------------


def digits_tensors(n_train: int | None = None, seed: int = 0):
    """Chiffres 8×8 de scikit-learn en tenseurs, pixels ramenés dans [0, 1] (division par 16, une
    échelle fixe, pour que le décalage des images garde un sens). Renvoie
    ``(x_train, y_train, x_val, y_val)``.

    >>> x, y, xv, yv = digits_tensors(100)
    >>> tuple(x.shape), tuple(xv.shape), float(x.max())
    ((100, 64), (450, 64), 1.0)
    """
    s = load_split("digits", seed=seed, standardize=False, n_train=n_train)
    to_x = lambda a: torch.as_tensor(a / 16.0, dtype=torch.float32)  # noqa: E731
    to_y = lambda a: torch.as_tensor(a, dtype=torch.long)  # noqa: E731
    return to_x(s.x_train), to_y(s.y_train), to_x(s.x_val), to_y(s.y_val)


# --- Expériences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OverfitConfig:
    """Hyper-paramètres de l'expérience de sur-apprentissage sur les chiffres."""

    n_train: int = 150
    """Exemples d'entraînement gardés (peu, pour sur-apprendre vite)."""
    hidden: int = 128
    """Largeur des deux couches cachées."""
    epochs: int = 80
    """Nombre d'époques."""
    lr: float = 2e-3
    """Taux d'apprentissage d'Adam."""
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
    seed: int = 0
    """Graine."""


REGULARIZATIONS = ("aucune", "L2", "L1", "dropout", "augmentation", "écrêtage")


def overfitting_experiment(config: OverfitConfig = OverfitConfig(), variants=REGULARIZATIONS) -> dict[str, History]:
    """Entraîne le même MLP (64 → hidden → hidden → 10, ReLU) sur ``n_train`` chiffres, une fois par
    régularisation de ``variants`` (parmi :data:`REGULARIZATIONS`), avec la même graine. Renvoie un
    historique par variante (perte d'entraînement et de validation, exactitude de validation)."""
    for v in variants:
        if v not in REGULARIZATIONS:
            raise ValueError(f"Régularisation inconnue {v!r} : attendu l'une de {REGULARIZATIONS}.")
    x, y, xv, yv = digits_tensors(config.n_train, config.seed)
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=512)
    histories = {}
    for v in variants:
        g = seed_everything(config.seed)
        model = make_mlp([64, config.hidden, config.hidden, 10], "relu", config.dropout if v == "dropout" else 0.0)
        if v == "augmentation":
            train_set = RandomShift(x, y, max_shift=config.max_shift, generator=torch.Generator().manual_seed(config.seed))
        else:
            train_set = TensorDataset(x, y)
        train_loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=g)
        regularizer = {"L1": lambda m: l1_penalty(m, config.l1), "L2": lambda m: l2_penalty(m, config.l2)}.get(v)
        histories[v] = fit(
            model, nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=config.lr),
            train_loader, val_loader, config.epochs, device="cpu", metrics={"accuracy": accuracy},
            regularizer=regularizer, grad_clip=config.grad_clip if v == "écrêtage" else None, progress=False,
        )
    return histories


def loss_comparison(epochs: int = 10, hidden: int = 32, lr: float = 0.2, seed: int = 0) -> dict[str, History]:
    """Même réseau, même optimiseur (SGD), deux coûts : entropie croisée sur SoftMax, et MSE sur
    sigmoïdes contre le *one-hot*. Sur tous les chiffres (pixels dans [0, 1]). Un historique par coût."""
    x, y, xv, yv = digits_tensors(None, seed)
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=512)
    histories = {}
    for name, loss in (("entropie croisée", nn.CrossEntropyLoss()), ("MSE sur one-hot", OneHotMSELoss())):
        g = seed_everything(seed)
        model = make_mlp([64, hidden, 10], "tanh")
        train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)
        histories[name] = fit(model, loss, torch.optim.SGD(model.parameters(), lr=lr), train_loader,
                              val_loader, epochs, device="cpu", metrics={"accuracy": accuracy}, progress=False)
    return histories


@dataclass
class GradientNorms:
    """Norme du gradient des poids de chaque couche linéaire, de l'entrée (indice 0) vers la sortie."""

    activation: str
    norms: list[float]


def layer_gradient_norms(activation: str, depth: int = 10, width: int = 32, n_examples: int = 256,
                         seed: int = 0) -> GradientNorms:
    """Un MLP profond (``depth`` couches linéaires de largeur ``width``, initialisation par défaut de
    PyTorch) ; une passe avant et arrière sur ``n_examples`` chiffres ; norme de
    :math:`\\partial L / \\partial W^k` pour chaque couche :math:`k`. Aucune mise à jour."""
    depth = check_positive_int("depth", depth)
    seed_everything(seed)
    x, y, _, _ = digits_tensors(n_examples, seed)
    model = make_mlp([64] + [width] * (depth - 1) + [10], activation)
    nn.CrossEntropyLoss()(model(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]
    return GradientNorms(activation, norms)


def schedule_experiment(epochs: int = 8, lr: float = 0.2, max_lr: float = 0.2, momentum: float = 0.9,
                        hidden: int = 64, seed: int = 0) -> dict[str, History]:
    """SGD avec momentum à taux constant ``lr`` contre le même SGD piloté par ``OneCycleLR`` (montée
    jusqu'à ``max_lr`` puis descente, un pas par lot ; ``OneCycleLR`` fait aussi varier le momentum
    entre 0,85 et 0,95), même réseau, mêmes données (chiffres), même graine."""
    check_positive("lr", lr, strict=True)
    check_positive("max_lr", max_lr, strict=True)
    x, y, xv, yv = digits_tensors(None, seed)
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=512)
    histories = {}
    for name in ("constant", "OneCycleLR"):
        g = seed_everything(seed)
        model = make_mlp([64, hidden, hidden, 10], "relu")
        train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        scheduler = None
        if name == "OneCycleLR":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=max_lr, epochs=epochs, steps_per_epoch=len(train_loader))
        histories[name] = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs,
                              scheduler=scheduler, scheduler_step="batch", device="cpu",
                              metrics={"accuracy": accuracy}, progress=False)
    return histories


def clipping_experiment(lr: float = 0.2, max_norm: float = 1.0, epochs: int = 20, hidden: int = 32,
                        seed: int = 0) -> dict[str, History]:
    """Régression sur *diabetes* avec les cibles brutes (de l'ordre de 150, donc des gradients
    énormes au départ) et un SGD à grand pas ``lr`` : sans écrêtage, puis en écrêtant la norme du
    gradient à ``max_norm``. Un historique par variante (``grad_norm`` rempli pour la seconde)."""
    s = load_split("diabetes", seed=seed)
    x, xv = (torch.as_tensor(a, dtype=torch.float32) for a in (s.x_train, s.x_val))
    y, yv = (torch.as_tensor(a, dtype=torch.float32).reshape(-1, 1) for a in (s.y_train, s.y_val))
    val_loader = DataLoader(TensorDataset(xv, yv), batch_size=512)
    histories = {}
    for name, clip in (("sans écrêtage", None), ("avec écrêtage", max_norm)):
        g = seed_everything(seed)
        model = make_mlp([10, hidden, 1], "tanh")
        train_loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=g)
        histories[name] = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr), train_loader,
                              val_loader, epochs, device="cpu", grad_clip=clip, progress=False)
    return histories
