"""Un moteur de différentiation automatique en mode inverse, sur des scalaires (TP « L'autodiff
qu'on construit soi-même », section `autodiff-sec-moteur`).

Chaque :class:`Value` garde sa valeur, le gradient de la sortie par rapport à elle, ses parents dans
le graphe et une fonction ``_backward`` qui applique la règle de dérivation en chaîne *localement* :
elle ajoute à chaque parent ``∂sortie/∂parent = ∂sortie/∂nœud × ∂nœud/∂parent``. L'ajout (``+=``, et
non ``=``) est ce qui rend juste le cas d'un nœud utilisé plusieurs fois : ses contributions se
somment (équation `autodiff-eq-accumulation`). :meth:`Value.backward` parcourt le graphe dans
l'ordre topologique inverse, pour qu'un nœud ait reçu tout son gradient avant de le propager.

>>> a, b = Value(2.0), Value(-3.0)
>>> c = a * b + a          # a sert deux fois
>>> c.backward()
>>> c.data, a.grad, b.grad
(-4.0, -2.0, 2.0)
"""

from __future__ import annotations

import math
import random
from numbers import Real
from typing import Iterable, Sequence

__all__ = ["Value", "topological_order", "Neuron", "MLP", "mse", "train_mlp"]


def _as_value(x) -> "Value":
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"Une Value se combine avec un nombre réel ou une Value, reçu {type(x).__name__}.")
    return Value(float(x))


class Value:
    """Un scalaire du graphe de calcul, avec son gradient ``grad`` (rempli par :meth:`backward`)."""

    __slots__ = ("data", "grad", "_parents", "_backward", "op")

    def __init__(self, data: float, parents: tuple["Value", ...] = (), op: str = ""):
        if isinstance(data, bool) or not isinstance(data, Real):
            raise TypeError(f"`data` doit être un nombre réel, reçu {type(data).__name__}.")
        self.data = float(data)
        self.grad = 0.0
        self._parents = parents
        self._backward = lambda: None
        self.op = op

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # --- Opérations : la valeur, puis la règle locale de la passe arrière. ---------------------
    def __add__(self, other) -> "Value":
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k) -> "Value":
        if isinstance(k, bool) or not isinstance(k, Real):
            raise TypeError(f"L'exposant doit être un nombre réel constant, reçu {type(k).__name__}.")
        out = Value(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self) -> "Value":
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log n'est défini que pour une valeur strictement positive, reçu {self.data}.")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out

    # --- Opérations dérivées des précédentes : pas de nouvelle règle à écrire. ------------------
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_as_value(other))

    def __truediv__(self, other):
        return self * _as_value(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return _as_value(other) - self

    def __rtruediv__(self, other):
        return _as_value(other) / self

    def backward(self) -> None:
        """Passe arrière depuis ce nœud : ``∂self/∂self = 1``, puis chaque nœud, dans l'ordre
        topologique inverse, transmet son gradient à ses parents. Les gradients s'accumulent :
        remettre ``grad`` à zéro avant une nouvelle passe (voir :meth:`MLP.zero_grad`)."""
        order = topological_order(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def topological_order(root: Value) -> list[Value]:
    """Les nœuds dont dépend ``root``, chacun après ses parents (parcours en profondeur, sans
    récursion pour les graphes profonds)."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if id(p) not in seen)
    return order


# --- Un petit réseau fait de Value ------------------------------------------------------------

class Neuron:
    """Un neurone : ``activation(Σ w_i x_i + b)``, poids tirés uniformément sur [−1/√n, 1/√n]."""

    def __init__(self, n_in: int, activation: str = "tanh", rng: random.Random | None = None):
        if activation not in ("tanh", "relu", "linear"):
            raise ValueError(f"`activation` doit valoir 'tanh', 'relu' ou 'linear', reçu {activation!r}.")
        rng = rng or random.Random(0)
        bound = 1.0 / math.sqrt(n_in)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x: Sequence) -> Value:
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return z if self.activation == "linear" else getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class MLP:
    """Perceptron multicouche de :class:`Neuron` : tailles ``sizes``, sortie linéaire."""

    def __init__(self, sizes: Sequence[int], activation: str = "tanh", seed: int = 0):
        if len(sizes) < 2:
            raise ValueError(f"`sizes` doit contenir au moins deux tailles, reçu {list(sizes)}.")
        rng = random.Random(seed)
        self.layers = [
            [Neuron(n_in, activation if i < len(sizes) - 2 else "linear", rng) for _ in range(n_out)]
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]

    def __call__(self, x: Sequence) -> list[Value]:
        for layer in self.layers:
            x = [neuron(x) for neuron in layer]
        return x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for n in layer for p in n.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


def mse(predictions: Iterable[Value], targets: Iterable[float]) -> Value:
    """Erreur quadratique moyenne entre des prédictions scalaires et leurs cibles."""
    terms = [(p - t) ** 2 for p, t in zip(predictions, targets)]
    if not terms:
        raise ValueError("Il faut au moins une prédiction.")
    return sum(terms[1:], terms[0]) / len(terms)


def train_mlp(net: MLP, inputs: Sequence[Sequence[float]], targets: Sequence[float], lr: float = 0.1,
              steps: int = 300) -> list[float]:
    """Descente de gradient sur toute la base (``steps`` pas, taux ``lr``) pour un :class:`MLP` à
    une sortie et la perte :func:`mse`. Renvoie la perte avant chaque pas (l'historique)."""
    from profond.utils import check_positive, check_positive_int

    lr = check_positive("lr", lr, strict=True)
    steps = check_positive_int("steps", steps)
    if len(inputs) != len(targets):
        raise ValueError(f"Autant d'entrées que de cibles attendues, reçu {len(inputs)} et {len(targets)}.")
    history = []
    for _ in range(steps):
        loss = mse([net(x)[0] for x in inputs], targets)
        history.append(loss.data)
        net.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.data -= lr * p.grad
    return history
