"""La fonction d'entraînement standard : apprentissage, reprise exacte, TensorBoard, erreurs."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close
from torch.utils.data import DataLoader, TensorDataset

from profond import seed_everything
from profond.data import make_loaders
from profond.training import Callback, History, accuracy, evaluate, fit


def _regression_loaders(seed=0, n=64):
    g = seed_everything(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=g), DataLoader(TensorDataset(x, y), batch_size=64)


def _digits_run(epochs, checkpoint_path=None, resume=False, stop_at=None, seed=0, log_dir=None):
    """Un petit MLP avec dropout (donc du hasard dans la passe avant) et OneCycleLR par lot.
    ``seed`` fixe l'initialisation et le hasard global ; le découpage des données reste le même."""
    seed_everything(seed)
    train, val = make_loaders("digits", batch_size=64, seed=0)
    train.generator.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=6 * len(train))
    callbacks = [lambda epoch, m, h: epoch >= stop_at] if stop_at else []
    h = fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs, scheduler=sched, scheduler_step="batch",
            callbacks=callbacks, device="cpu", metrics={"accuracy": accuracy}, checkpoint_path=checkpoint_path,
            resume=resume, progress=False, log_dir=log_dir)
    return model, h


def test_fit_linear_regression_reaches_seeded_loss():
    train, val = _regression_loaders()
    seed_everything(0)
    model = nn.Linear(3, 1)
    h = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), train, val, epochs=30,
            device="cpu", progress=False)
    assert h.epoch == list(range(1, 31))
    assert len(h.batch_loss) == 30 * 4
    assert h.val_loss[-1] < 1e-6  # le problème est exactement linéaire
    assert_close(model.weight.detach(), torch.tensor([[1.0, -2.0, 0.5]]), atol=1e-3, rtol=0)
    assert_close(model.bias.detach(), torch.tensor([0.3]), atol=1e-3, rtol=0)


def test_fit_learns_digits_and_is_deterministic():
    m1, h1 = _digits_run(6)
    m2, h2 = _digits_run(6)
    assert h1.as_dict() == h2.as_dict()
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
    assert h1.metrics["val_accuracy"][-1] > 0.93
    assert h1.train_loss[-1] < 0.3 * h1.train_loss[0]
    # OneCycleLR, un pas par lot : le taux monte puis redescend bien en dessous de son départ.
    assert max(h1.lr) > h1.lr[0] > h1.lr[-1]


def test_resume_gives_identical_weights(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    full_model, full_h = _digits_run(6)
    # Premier entraînement « interrompu » après 3 époques (rappel qui arrête), puis reprise.
    _, partial = _digits_run(6, checkpoint_path=ckpt, stop_at=3)
    assert partial.epoch == [1, 2, 3]
    # Autre graine pour la reprise : tout ce qui compte doit venir du point de sauvegarde.
    resumed_model, resumed_h = _digits_run(6, checkpoint_path=ckpt, resume=True, seed=123)
    assert resumed_h.epoch == list(range(1, 7))
    assert resumed_h.as_dict() == full_h.as_dict()
    for p1, p2 in zip(full_model.parameters(), resumed_model.parameters()):
        assert torch.equal(p1, p2)


def test_resume_without_checkpoint_file_starts_from_scratch(tmp_path):
    _, h = _digits_run(2, checkpoint_path=tmp_path / "absent" / "c.pt", resume=True)
    assert h.epoch == [1, 2]
    assert (tmp_path / "absent" / "c.pt").exists()


def test_tensorboard_scalars_written(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, h = _digits_run(2, log_dir=tmp_path / "tb")
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"perte/lot", "perte/entrainement", "perte/validation", "metriques/val_accuracy", "taux_apprentissage"} <= tags
    batch = acc.Scalars("perte/lot")
    assert [e.step for e in batch] == list(range(len(h.batch_loss)))
    assert [e.value for e in batch] == pytest.approx(h.batch_loss, rel=1e-6)
    epoch = acc.Scalars("perte/validation")
    assert [e.step for e in epoch] == [1, 2]
    assert [e.value for e in epoch] == pytest.approx(h.val_loss, rel=1e-6)


def test_grad_clip_bounds_update_and_records_norm():
    train, val = _regression_loaders()
    seed_everything(0)
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    h = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=1.0), [next(iter(train))], None, 1,
            device="cpu", grad_clip=0.01, progress=False)
    step = torch.cat([(p.detach() - b).flatten() for p, b in zip(model.parameters(), before)])
    assert len(h.grad_norm) == 1 and h.grad_norm[0] > 0.01
    assert step.norm().item() == pytest.approx(0.01, rel=1e-4)  # SGD lr=1 : le pas = le gradient écrêté


def test_regularizer_is_added_to_the_objective():
    x = torch.ones(4, 2)
    y = torch.zeros(4, 1)
    seed_everything(0)
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    # Coût des données nul (lr=0 n'est pas permis : on vérifie le gradient via un rappel).
    grads = []

    class Grab(Callback):
        def on_batch_end(self, step, m, loss):
            grads.append(m.weight.detach().clone())

    fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), [(x, y)], None, 1, device="cpu",
        regularizer=lambda m: 0.5 * (m.weight**2).sum(), callbacks=[Grab()], progress=False)
    # gradient = 2·(w·x − y)·x moyen = 2·2·1 = 4, plus w = 1 pour la pénalité : w ← 1 − 0.1·5
    assert_close(grads[0], torch.tensor([[0.5, 0.5]]))


def test_callback_can_stop_training():
    train, val = _regression_loaders()
    model = nn.Linear(3, 1)
    h = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01), train, val, 10,
            callbacks=[lambda epoch, m, hist: epoch == 2], device="cpu", progress=False)
    assert h.epoch == [1, 2]


def test_evaluate_weights_batches_by_size():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    x = torch.ones(5, 1)
    y = torch.tensor([[1.0], [1.0], [1.0], [3.0], [3.0]])
    res = evaluate(model, nn.MSELoss(), DataLoader(TensorDataset(x, y), batch_size=3))
    assert res["loss"] == pytest.approx((3 * 1 + 2 * 9) / 5)


def test_history_round_trip():
    h = History(epoch=[1], train_loss=[0.5], val_loss=[0.4], lr=[0.1], metrics={"val_accuracy": [0.9]},
                batch_loss=[0.6, 0.4], grad_norm=[1.0, 2.0])
    assert History.from_dict(h.as_dict()) == h


def test_clear_errors():
    train, val = _regression_loaders()
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    empty = DataLoader(TensorDataset(torch.zeros(0, 3), torch.zeros(0, 1)), batch_size=4)
    with pytest.raises(ValueError, match="`train_loader` est vide"):
        fit(model, nn.MSELoss(), opt, empty, None, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="`val_loader` est vide"):
        fit(model, nn.MSELoss(), opt, train, empty, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="même forme"):  # (N, 1) contre (N,) : la diffusion serait silencieuse
        fit(model, nn.MSELoss(), opt, [(torch.zeros(4, 3), torch.zeros(4))], None, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="nombre d'exemples"):
        fit(model, nn.MSELoss(), opt, [(torch.zeros(4, 3), torch.zeros(5, 1))], None, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        fit(nn.Linear(3, 2), nn.CrossEntropyLoss(), torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1),
            [(torch.zeros(4, 3), torch.zeros(4, 1, dtype=torch.long))], None, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.MSELoss(), opt, train, None, 0, device="cpu", progress=False)
    with pytest.raises(TypeError, match="epochs"):
        fit(model, nn.MSELoss(), opt, train, None, 2.5, device="cpu", progress=False)
    with pytest.raises(ValueError, match="checkpoint_path"):
        fit(model, nn.MSELoss(), opt, train, None, 1, resume=True, device="cpu", progress=False)
    with pytest.raises(ValueError, match="grad_clip"):
        fit(model, nn.MSELoss(), opt, train, None, 1, grad_clip=-1.0, device="cpu", progress=False)
    with pytest.raises(ValueError, match="scheduler_step"):
        fit(model, nn.MSELoss(), opt, train, None, 1, scheduler_step="lot", device="cpu", progress=False)
    with pytest.raises(TypeError, match="optimizer"):
        fit(model, nn.MSELoss(), "adam", train, None, 1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="`loader` est vide"):
        evaluate(model, nn.MSELoss(), [])
    with pytest.raises(ValueError, match="forme"):
        accuracy(torch.zeros(3), torch.zeros(3))


def test_fit_accepts_plain_iterables_without_len():
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))
    y = x.sum(dim=1, keepdim=True)
    model = nn.Linear(3, 1)
    h = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), (b for b in [(x, y)]), None, 1,
            device="cpu", progress=False)
    assert len(h.batch_loss) == 1 and math.isfinite(h.train_loss[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pas de GPU ici")
def test_fit_runs_on_cuda():
    train, val = _regression_loaders()
    model = nn.Linear(3, 1)
    h = fit(model, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), train, val, 3, device="cuda",
            progress=False)
    assert next(model.parameters()).is_cuda
    assert h.val_loss[-1] < h.val_loss[0]
