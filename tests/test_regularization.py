"""Tests de profond.regularization (pénalités, seuillage doux, pas proximal, expériences) et du
rappel profond.training.EvaluateOn qu'elles utilisent."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond import regularization as R
from profond.data import tensor_loader
from profond.training import EvaluateOn, evaluate, fit


def test_penalties_skip_biases():
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
        net.bias.fill_(100.0)  # les biais ne sont pas pénalisés
    assert R.l1_penalty(net, 0.1).item() == pytest.approx(0.6)
    assert R.l2_penalty(net, 0.1).item() == pytest.approx(1.4)


def test_soft_threshold_is_the_l1_proximal_operator():
    v = torch.linspace(-2, 2, 41, dtype=torch.float64)
    out = R.soft_threshold(v, 0.5)
    assert torch.all(out[v.abs() <= 0.5] == 0)
    assert_close(out[v.abs() > 0.5], v[v.abs() > 0.5] - 0.5 * torch.sign(v[v.abs() > 0.5]))
    # Référence : le minimum de ½(w − v)² + τ|w| cherché sur une grille fine, coordonnée par coordonnée.
    w = torch.linspace(-3, 3, 60001, dtype=torch.float64)
    objective = 0.5 * (w[None, :] - v[:, None]) ** 2 + 0.5 * w.abs()[None, :]
    assert_close(out, w[objective.argmin(dim=1)], atol=1e-4, rtol=0)
    # Équivalent PyTorch : softshrink.
    assert_close(out, nn.functional.softshrink(v, 0.5))
    with pytest.raises(ValueError, match="threshold"):
        R.soft_threshold(v, -1.0)


def test_proximal_callback_after_sgd_step():
    # Coût nul : le pas de SGD ne bouge rien, le pas proximal seuille à lr · lam = 0,1.
    net = nn.Linear(3, 1, bias=True)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.05, -0.3, 0.1]]))
        net.bias.fill_(0.05)
    R.ProximalL1(lam=0.5, lr=0.2).on_batch_end(0, net, 0.0)
    assert_close(net.weight, torch.tensor([[0.0, -0.2, 0.0]]))
    assert net.bias.item() == pytest.approx(0.05)  # les biais ne sont pas seuillés
    assert R.weight_sparsity(net) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_evaluate_on_records_eval_mode_loss():
    torch.manual_seed(0)
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    loss = nn.CrossEntropyLoss()
    eval_loader = tensor_loader(x, y, 64, shuffle=False)
    h = fit(model, loss, torch.optim.SGD(model.parameters(), lr=0.1), tensor_loader(x, y, 8, generator=torch.Generator().manual_seed(0)),
            epochs=2, device="cpu", progress=False, callbacks=[EvaluateOn("train_eval", loss, eval_loader)])
    assert len(h.metrics["train_eval_loss"]) == 2
    assert h.metrics["train_eval_loss"][-1] == pytest.approx(evaluate(model, loss, eval_loader)["loss"])
    with pytest.raises(ValueError, match="name"):
        EvaluateOn("", loss, eval_loader)


def test_overfitting_run_small():
    cfg = R.OverfitConfig(epochs=3, n_train=60, hidden=16)
    runs = {v: R.overfitting_run(v, cfg, seed=0) for v in ("aucune", "dropout", "écrêtage")}
    h, _ = runs["aucune"]
    assert len(h.val_loss) == 3 and len(h.metrics["train_eval_loss"]) == 3
    assert R.generalization_gap(h) == pytest.approx(h.val_loss[-1] - h.metrics["train_eval_loss"][-1])
    # Sans dropout, perte des lots et perte en mode évaluation diffèrent peu (un pas d'écart) ;
    # avec dropout, la perte des lots est gonflée par le bruit.
    hd, _ = runs["dropout"]
    assert hd.train_loss[-1] > hd.metrics["train_eval_loss"][-1]
    assert len(runs["écrêtage"][0].grad_norm) == 3 * math.ceil(60 / cfg.batch_size) and not h.grad_norm
    again, _ = R.overfitting_run("aucune", cfg, seed=0)
    assert again.as_dict() == h.as_dict()
    with pytest.raises(ValueError, match="inconnue"):
        R.overfitting_run("batchnorm", cfg)


def test_proximal_gives_exact_zeros_and_subgradient_does_not():
    _, sub = R.sparsity_run("sous-gradient", epochs=30)
    _, prox = R.sparsity_run("proximal", epochs=30)
    assert R.weight_sparsity(sub)[0] == 0.0
    assert R.weight_sparsity(prox)[0] > 0.1
    with pytest.raises(ValueError, match="method"):
        R.sparsity_run("adam")


def test_clipping_prevents_divergence():
    h = R.clipping_experiment(epochs=5)
    assert not math.isfinite(h["sans écrêtage"].val_loss[-1]) or h["sans écrêtage"].val_loss[-1] > 1e8
    assert h["avec écrêtage"].val_loss[-1] < h["avec écrêtage"].val_loss[0]
    assert max(h["avec écrêtage"].grad_norm) > 1.0
