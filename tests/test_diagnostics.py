"""Tests de profond.diagnostics : sondes d'entraînement, lot unique, test de plage."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from profond import diagnostics as dg
from profond.training import fit


def toy_loader(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g)


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def test_probe_records_every_k_batches_and_update_ratio_matches_sgd():
    model = small_net()
    loader = toy_loader()
    with dg.TrainingProbe(model, every=2) as probe:
        fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), loader, epochs=2,
            callbacks=[probe], device="cpu", progress=False)
    assert probe.steps == [0, 2, 4, 6]
    assert len(probe.act_std[0]) == 2 and len(probe.dead_relu[0]) == 1 and len(probe.update_ratio[0]) == 2
    # Rapport de SGD : α ‖∇W‖ / ‖W‖, vérifié au dernier lot (relevé à chaque lot), gradient encore présent.
    with dg.TrainingProbe(model, every=1) as probe:
        fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), toy_loader(), epochs=1,
            callbacks=[probe], device="cpu", progress=False)
    w, g = model[0].weight.detach(), model[0].weight.grad
    assert probe.update_ratio[-1][0] == pytest.approx((0.1 * g.norm() / w.norm()).item(), rel=1e-5)
    assert not model[0]._forward_hooks  # les crochets sont retirés


def test_dead_relu_fraction_detects_a_dead_unit():
    model = small_net()
    with torch.no_grad():
        model[0].bias[:4] = -100.0  # quatre neurones sur huit toujours négatifs
    with dg.TrainingProbe(model, every=1) as probe:
        fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.0), toy_loader(), epochs=1,
            callbacks=[probe], device="cpu", progress=False)
    assert probe.dead_relu[0][0] >= 0.5


def test_tensorboard_histograms(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = small_net()
    with dg.TrainingProbe(model, every=1, log_dir=str(tmp_path)) as probe:
        fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), toy_loader(), epochs=1,
            callbacks=[probe], device="cpu", progress=False)
    ev = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0}).Reload()
    assert sorted(ev.Tags()["histograms"]) == ["activations/couche_0", "activations/couche_1",
                                              "gradients/couche_0", "gradients/couche_1"]


def test_overfit_one_batch_reaches_zero():
    model = small_net()
    x, y = next(iter(toy_loader()))
    losses = dg.overfit_one_batch(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.5), x, y, 300)
    assert losses[-1] < 0.05 < losses[0]


def test_lr_range_test_is_geometric_and_stops_on_divergence():
    model = small_net()
    res = dg.lr_range_test(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=1.0), toy_loader(),
                           start=1e-3, end=1e3, steps=60)
    assert len(res.lrs) < 60  # arrêté par la divergence
    np.testing.assert_allclose(res.lrs[1:] / res.lrs[:-1], (1e6) ** (1 / 59))
    assert res.suggestion == pytest.approx(res.lrs[np.argmin(res.losses)] / 10)
    with pytest.raises(ValueError, match="plus grand"):
        dg.lr_range_test(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=1.0), toy_loader(),
                         start=1.0, end=0.1)


def test_probe_needs_a_linear_layer():
    with pytest.raises(ValueError, match="nn.Linear"):
        dg.TrainingProbe(nn.Sequential(nn.ReLU()))
