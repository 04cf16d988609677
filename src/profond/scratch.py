"""Un petit cadre modulaire *sans autograd* (chapitre « Introduction », section `intro-sec-modules`).

Chaque module :math:`M^k` calcule sa sortie :math:`\\mathbf z^k = M^k(\\mathbf z^{k-1}, W^k)` dans
:meth:`Module.forward` en gardant ce qu'il faut pour la passe arrière, puis, dans
:meth:`Module.backward`, reçoit :math:`\\delta^k = \\partial L / \\partial \\mathbf z^k`, accumule les
gradients de ses paramètres (équation `intro-eq-grad-w`) et renvoie
:math:`\\delta^{k-1} = \\partial L / \\partial \\mathbf z^{k-1}` (équation `intro-eq-delta`).

Les tenseurs sont des ``torch.Tensor`` utilisés comme de simples tableaux : aucun ``.backward()`` de
PyTorch n'est appelé ici. Les lots sont en lignes : ``x`` est de forme (N, d).
"""

from __future__ import annotations

import math

import torch

from profond.training import History
from profond.utils import check_positive, check_positive_int


def _check_2d(name: str, x: torch.Tensor, n_features: int | None = None) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` doit être un torch.Tensor, reçu {type(x).__name__}.")
    if x.ndim != 2:
        raise ValueError(f"`{name}` doit être de forme (N, d), reçu {tuple(x.shape)}.")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"`{name}` doit avoir {n_features} colonnes, reçu la forme {tuple(x.shape)}.")


class Module:
    """Un module : ``forward`` (passe avant), ``backward`` (passe arrière), des paramètres et leurs
    gradients (dictionnaires ``params`` et ``grads`` de mêmes clés)."""

    def __init__(self) -> None:
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstrait
        raise NotImplementedError

    def backward(self, delta: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstrait
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def zero_grad(self) -> None:
        """Remet à zéro les gradients accumulés."""
        for name, p in self.params.items():
            self.grads[name] = torch.zeros_like(p)

    def _saved(self, attr: str) -> torch.Tensor:
        value = getattr(self, attr, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward appelé avant forward.")
        return value


class Linear(Module):
    """Couche linéaire z^k = z^{k-1} W + b sur un lot en lignes, avec W de forme (d, d')
    (équation `intro-eq-linear`). Initialisation uniforme sur [-1/√d, 1/√d], comme ``nn.Linear``.

    >>> lin = Linear(2, 1, generator=torch.Generator().manual_seed(0))
    >>> lin.params["weight"].shape, lin.params["bias"].shape
    (torch.Size([2, 1]), torch.Size([1]))
    """

    def __init__(self, in_features: int, out_features: int, generator: torch.Generator | None = None,
                 dtype=torch.float64) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        bound = 1.0 / math.sqrt(in_features)
        w = torch.empty(in_features, out_features, dtype=dtype).uniform_(-bound, bound, generator=generator)
        b = torch.empty(out_features, dtype=dtype).uniform_(-bound, bound, generator=generator)
        self.params = {"weight": w, "bias": b}
        self.zero_grad()
        self.x: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_2d("x", x, self.in_features)
        self.x = x  # (N, d), gardé pour la passe arrière
        return x @ self.params["weight"] + self.params["bias"]  # (N, d')

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        x = self._saved("x")
        _check_2d("delta", delta, self.out_features)
        # ∂L/∂w_ij = Σ_exemples z_i^{k-1} δ_j^k ; ∂L/∂b_j = Σ_exemples δ_j^k
        self.grads["weight"] += x.T @ delta  # (d, d')
        self.grads["bias"] += delta.sum(dim=0)  # (d',)
        # δ_i^{k-1} = Σ_j w_ij δ_j^k
        return delta @ self.params["weight"].T  # (N, d)


class Tanh(Module):
    """:math:`z = \\tanh(x)`, de dérivée :math:`1 - z^2`.

    >>> Tanh()(torch.zeros(1, 2))
    tensor([[0., 0.]])
    """

    z: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.z = torch.tanh(x)
        return self.z

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        z = self._saved("z")
        return delta * (1.0 - z**2)


class Sigmoid(Module):
    """:math:`z = \\sigma(x) = 1 / (1 + e^{-x})`, de dérivée :math:`\\sigma(x)(1 - \\sigma(x))`.

    >>> Sigmoid()(torch.zeros(1, 1))
    tensor([[0.5000]])
    """

    z: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.z = torch.sigmoid(x)
        return self.z

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        z = self._saved("z")
        return delta * z * (1.0 - z)


class ReLU(Module):
    """:math:`z = \\max(0, x)`, de dérivée :math:`\\mathbb 1_{x > 0}`.

    >>> ReLU()(torch.tensor([[-1.0, 2.0]]))
    tensor([[0., 2.]])
    """

    x: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x = x
        return x.clamp(min=0)

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        x = self._saved("x")
        return delta * (x > 0).to(delta.dtype)


class Sequential(Module):
    """Enchaîne des modules : passe avant dans l'ordre, passe arrière dans l'ordre inverse.

    >>> net = Sequential(Linear(3, 4, generator=torch.Generator().manual_seed(0)), Tanh(),
    ...                  Linear(4, 2, generator=torch.Generator().manual_seed(1)))
    >>> net(torch.zeros(5, 3, dtype=torch.float64)).shape
    torch.Size([5, 2])
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            raise TypeError("`Sequential` prend les modules un par un : Sequential(m1, m2), pas une liste.")
        for m in modules:
            if not isinstance(m, Module):
                raise TypeError(f"`Sequential` attend des modules, reçu {type(m).__name__}.")
        self.modules = list(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, delta: torch.Tensor) -> torch.Tensor:
        for m in reversed(self.modules):
            delta = m.backward(delta)
        return delta

    def zero_grad(self) -> None:
        for m in self.modules:
            m.zero_grad()

    def parameters(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Les couples (paramètre, gradient) de tous les modules, dans l'ordre."""
        return [(m.params[k], m.grads[k]) for m in self.modules for k in m.params]


class Loss:
    """Un coût : ``forward(output, target)`` renvoie un scalaire (moyenne sur le lot), ``backward()``
    renvoie :math:`\\delta^{\\text{fin}} = \\partial L / \\partial\\, \\text{output}`."""

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.forward(output, target)

    def _saved(self) -> tuple[torch.Tensor, torch.Tensor]:
        if getattr(self, "output", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward appelé avant forward.")
        return self.output, self.target


def _check_same_shape(output: torch.Tensor, target: torch.Tensor) -> None:
    if output.shape != target.shape:
        raise ValueError(
            f"`output` et `target` doivent avoir la même forme, reçu {tuple(output.shape)} et {tuple(target.shape)}."
        )


class MSELoss(Loss):
    """Erreur quadratique moyenne sur tous les éléments ; gradient :math:`\\frac 2N(\\hat y - y)`
    (équation `intro-eq-delta-mse`), :math:`N` étant le nombre d'éléments.

    >>> loss = MSELoss()
    >>> loss(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [0.0]]))
    tensor(5.)
    >>> loss.backward()
    tensor([[1.],
            [3.]])
    """

    output = target = None

    def forward(self, output, target):
        _check_same_shape(output, target)
        self.output, self.target = output, target
        return ((output - target) ** 2).mean()

    def backward(self):
        output, target = self._saved()
        return 2.0 * (output - target) / output.numel()


def softmax(z: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathrm{SoftMax}(\\mathbf z)_i = e^{z_i} / \\sum_j e^{z_j}` sur la dernière dimension,
    calculé de façon stable (on retranche le maximum). Équation `intro-eq-softmax`.

    >>> softmax(torch.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    """
    e = torch.exp(z - z.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def logsumexp(z: torch.Tensor) -> torch.Tensor:
    """:math:`\\log \\sum_j e^{z_j}` sur la dernière dimension, sans débordement.

    >>> round(float(logsumexp(torch.tensor([1000.0, 1000.0], dtype=torch.float64))), 4)
    1000.6931
    """
    m = z.max(dim=-1).values
    return m + torch.log(torch.exp(z - m.unsqueeze(-1)).sum(dim=-1))


class CrossEntropyLoss(Loss):
    """SoftMax et entropie croisée fusionnées, sur des scores (*logits*) ``output`` (N, K) et des
    classes ``target`` (N,) : :math:`-z_k + \\log\\sum_j e^{z_j}` moyenné sur le lot (équation
    `intro-eq-ce-softmax`). Gradient : :math:`(\\mathrm{SoftMax}(\\mathbf z) - \\text{one-hot}(k)) / N`.

    >>> loss = CrossEntropyLoss()
    >>> round(float(loss(torch.zeros(1, 4), torch.tensor([2]))), 4)  # log 4
    1.3863
    >>> loss.backward()
    tensor([[ 0.2500,  0.2500, -0.7500,  0.2500]])
    """

    output = target = None

    def forward(self, output, target):
        _check_2d("output", output)
        if target.shape != (output.shape[0],) or target.dtype not in (torch.int32, torch.int64):
            raise ValueError(
                f"`target` doit contenir {output.shape[0]} indices de classe entiers (forme ({output.shape[0]},)), "
                f"reçu la forme {tuple(target.shape)} et le type {target.dtype}."
            )
        if target.min() < 0 or target.max() >= output.shape[1]:
            raise ValueError(f"`target` doit contenir des classes entre 0 et {output.shape[1] - 1}.")
        self.output, self.target = output, target
        picked = output.gather(1, target.unsqueeze(1)).squeeze(1)  # z_k pour chaque exemple
        return (logsumexp(output) - picked).mean()

    def backward(self):
        output, target = self._saved()
        one_hot = torch.nn.functional.one_hot(target, output.shape[1]).to(output.dtype)
        return (softmax(output) - one_hot) / output.shape[0]


class BCELoss(Loss):
    """Entropie croisée binaire sur des probabilités ``output`` et des cibles ``target`` dans [0, 1]
    de même forme, moyennée sur tous les éléments (équation `intro-eq-bce`). Gradient :
    :math:`(\\hat y - y) / (\\hat y (1 - \\hat y)) / N`.

    >>> loss = BCELoss()
    >>> round(float(loss(torch.tensor([[0.5, 0.5]]), torch.tensor([[1.0, 0.0]]))), 4)  # log 2
    0.6931
    """

    output = target = None

    def forward(self, output, target):
        _check_same_shape(output, target)
        if output.min() <= 0 or output.max() >= 1:
            raise ValueError("`output` doit contenir des probabilités strictement entre 0 et 1.")
        self.output, self.target = output, target
        return -(target * torch.log(output) + (1 - target) * torch.log(1 - output)).mean()

    def backward(self):
        output, target = self._saved()
        return (output - target) / (output * (1 - output)) / output.numel()


def sgd_step(net: Sequential, lr: float) -> None:
    """Descente de gradient :math:`w \\leftarrow w - \\varepsilon\\, \\partial L / \\partial w`
    (équation `intro-eq-sgd`), en place sur tous les paramètres de ``net``."""
    for p, g in net.parameters():
        p -= lr * g


def train_scratch(net: Sequential, loss: Loss, x: torch.Tensor, y: torch.Tensor, lr: float = 0.1,
                  epochs: int = 10, batch_size: int = 32, seed: int = 0,
                  x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None) -> History:
    """Entraîne ``net`` par descente de gradient stochastique, sans autograd : pour chaque lot,
    passe avant, coût, passe arrière (:math:`\\delta`), mise à jour. Renvoie l'historique (perte
    moyenne d'entraînement par époque ; perte de validation si ``x_val`` est donné ; pour la
    classification, exactitude de validation dans ``metrics["val_accuracy"]``)."""
    _check_2d("x", x)
    if len(y) != len(x):
        raise ValueError(f"`x` et `y` doivent avoir le même nombre d'exemples, reçu {len(x)} et {len(y)}.")
    lr = check_positive("lr", lr, strict=True)
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    g = torch.Generator().manual_seed(seed)
    history = History()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in torch.randperm(len(x), generator=g).split(batch_size):
            net.zero_grad()
            value = loss(net(x[idx]), y[idx])
            net.backward(loss.backward())
            sgd_step(net, lr)
            history.batch_loss.append(float(value))
            total += float(value) * len(idx)
        history.epoch.append(epoch)
        history.train_loss.append(total / len(x))
        history.lr.append(lr)
        if x_val is not None and y_val is not None:
            out = net(x_val)
            history.val_loss.append(float(loss(out, y_val)))
            if isinstance(loss, CrossEntropyLoss):
                acc = float((out.argmax(dim=1) == y_val).double().mean())
                history.metrics.setdefault("val_accuracy", []).append(acc)
    return history
