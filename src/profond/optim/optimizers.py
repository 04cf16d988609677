"""Les optimiseurs du cours comme ``torch.optim.Optimizer`` (chapitre « Optimisation »,
section ``optim-sec-pytorch``).

Mêmes arguments et mêmes valeurs par défaut que leurs jumeaux de ``torch.optim``. Chaque
``step`` appelle la règle pure correspondante de :mod:`profond.optim.rules` sur chaque paramètre
et range l'état renvoyé dans ``self.state`` ; rien d'autre.
"""

from __future__ import annotations

from typing import Callable

import torch

from profond.optim import rules
from profond.utils import check_in_unit_interval, check_positive


def _param_list(params) -> list:
    if isinstance(params, torch.Tensor):
        raise TypeError("`params` doit être un itérable de tenseurs (par exemple model.parameters()), pas un tenseur seul.")
    params = list(params)
    if not params:
        raise ValueError("`params` est vide : l'optimiseur n'a aucun paramètre à mettre à jour.")
    return params


class _RuleOptimizer(torch.optim.Optimizer):
    """Base commune : applique ``self._rule`` à chaque paramètre qui a un gradient."""

    #: Le ``NamedTuple`` d'état de la règle ; rangé en ``dict`` dans ``self.state`` pour que
    #: ``state_dict()`` / ``load_state_dict()`` fonctionnent comme pour ``torch.optim``.
    _state_class: type | None = None

    def _rule(self, param, grad, state, group):  # pragma: no cover - surchargé
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("Les gradients creux (sparse) ne sont pas pris en charge.")
                store = self.state[p]
                saved = store.get("rule_state")
                state = self._state_class(**saved) if saved is not None else None
                new_p, new_state = self._rule(p, p.grad, state, group)
                p.copy_(new_p)
                store["rule_state"] = new_state._asdict() if new_state is not None else None
        return loss


class SGD(_RuleOptimizer):
    """Descente de gradient stochastique, avec momentum et Nesterov en option (comme
    ``torch.optim.SGD``) ; règle : :func:`profond.optim.rules.sgd_step`."""

    _state_class = rules.MomentumState

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False):
        check_positive("lr", lr)
        check_positive("momentum", momentum)
        check_positive("dampening", dampening)
        check_positive("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov demande `momentum` > 0 et `dampening` = 0.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(_param_list(params), defaults)

    def _rule(self, param, grad, state, group):
        return rules.sgd_step(
            param, grad, state, lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
        )


class RMSprop(_RuleOptimizer):
    """RMSProp (comme ``torch.optim.RMSprop``) ; règle : :func:`profond.optim.rules.rmsprop_step`."""

    _state_class = rules.RMSpropState

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False):
        check_positive("lr", lr)
        check_in_unit_interval("alpha", alpha)
        check_positive("eps", eps)
        check_positive("weight_decay", weight_decay)
        check_positive("momentum", momentum)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(_param_list(params), defaults)

    def _rule(self, param, grad, state, group):
        return rules.rmsprop_step(
            param, grad, state, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"], centered=group["centered"],
        )


class Adam(_RuleOptimizer):
    """Adam (comme ``torch.optim.Adam``) ; règle : :func:`profond.optim.rules.adam_step`."""

    _decoupled = False
    _state_class = rules.AdamState

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False):
        check_positive("lr", lr)
        rules._check_betas(betas)
        check_positive("eps", eps)
        check_positive("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(_param_list(params), defaults)

    def _rule(self, param, grad, state, group):
        return rules.adam_step(
            param, grad, state, lr=group["lr"], betas=group["betas"], eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=group["amsgrad"], decoupled=self._decoupled,
        )


class AdamW(Adam):
    """AdamW, décroissance des poids découplée (comme ``torch.optim.AdamW``) ; règle :
    :func:`profond.optim.rules.adamw_step`."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
