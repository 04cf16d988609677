"""Nos optimiseurs contre leurs jumeaux de torch.optim, en float64, sur un vrai modèle."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import profond.optim as po

N_STEPS = 200


def _problem():
    """Un MLP 64 → 16 → 10 sur 128 chiffres de scikit-learn, en float64."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x[:128] / 16.0, dtype=torch.float64)
    y = torch.tensor(y[:128])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 10)).double()
    return model, x, y


def _train(model, optimizer, x, y, n_steps=N_STEPS, batch=32):
    loss_fn = nn.CrossEntropyLoss()
    for step in range(n_steps):
        idx = slice((step * batch) % len(x), (step * batch) % len(x) + batch)
        optimizer.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


CASES = [
    (po.SGD, torch.optim.SGD, dict(lr=0.1)),
    (po.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (po.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=1e-3)),
    (po.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=1e-2)),
    (po.Adam, torch.optim.Adam, dict()),
    (po.Adam, torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    (po.Adam, torch.optim.Adam, dict(lr=5e-3, weight_decay=1e-2, amsgrad=True)),
    (po.AdamW, torch.optim.AdamW, dict()),
    (po.AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
    (po.RMSprop, torch.optim.RMSprop, dict()),
    (po.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, alpha=0.9, momentum=0.5, centered=True, weight_decay=1e-3)),
]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_same_parameters_as_torch(ours, theirs, kwargs):
    model, x, y = _problem()
    twin = copy.deepcopy(model)
    start = [p.detach().clone() for p in model.parameters()]
    mine = _train(model, ours(model.parameters(), **kwargs), x, y)
    ref = _train(twin, theirs(twin.parameters(), **kwargs), x, y)
    for a, b in zip(mine, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
    # Le test a un sens : les paramètres ont bougé.
    assert max((a - s).abs().max().item() for a, s in zip(mine, start)) > 1e-3


@pytest.mark.parametrize("cls, twin", [(po.SGD, torch.optim.SGD), (po.Adam, torch.optim.Adam),
                                       (po.AdamW, torch.optim.AdamW), (po.RMSprop, torch.optim.RMSprop)])
def test_same_defaults_as_torch(cls, twin):
    p = [nn.Parameter(torch.zeros(2))]
    ours, theirs = cls(p).defaults, twin(p).defaults
    for key, value in ours.items():
        assert theirs[key] == value, key


def test_state_dict_round_trip_resumes_identically():
    model, x, y = _problem()
    opt = po.Adam(model.parameters(), lr=1e-2)
    _train(model, opt, x, y, n_steps=20)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    end_a = _train(model, opt, x, y, n_steps=20)

    model_b, _, _ = _problem()
    model_b.load_state_dict(saved_model)
    opt_b = po.Adam(model_b.parameters(), lr=1e-2)
    opt_b.load_state_dict(saved_opt)
    end_b = _train(model_b, opt_b, x, y, n_steps=20)
    for a, b in zip(end_a, end_b):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_closure_returns_loss():
    w = nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
    opt = po.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == pytest.approx(9.0)
    assert w.item() == pytest.approx(3.0 - 0.25 * 6.0)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda p: po.SGD(p, lr=-0.1), "`lr`"),
        (lambda p: po.Adam(p, betas=(0.9, 1.0)), "betas[1]"),
        (lambda p: po.Adam(p, betas=(-0.1, 0.9)), "betas[0]"),
        (lambda p: po.Adam(p, betas=0.9), "`betas`"),
        (lambda p: po.RMSprop(p, alpha=1.5), "`alpha`"),
        (lambda p: po.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
        (lambda p: po.AdamW(p, weight_decay=-1), "`weight_decay`"),
        (lambda p: po.Adam([], lr=0.1), "`params` est vide"),
        (lambda p: po.Adam(p[0], lr=0.1), "`params`"),
    ],
)
def test_bad_hyper_parameters_raise_french_errors(factory, message):
    p = [nn.Parameter(torch.zeros(2))]
    with pytest.raises((ValueError, TypeError)) as err:
        factory(p)
    assert message in str(err.value)
