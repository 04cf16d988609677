"""Tests de profond.schedules : formes des taux, reproductibilité, erreurs."""

import pytest
import torch

from profond import schedules


def _lrs(schedule, steps=20, lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=0.9)
    sched = schedules.make_scheduler(schedule, opt, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out, opt


def test_schedule_shapes():
    const, _ = _lrs("constant")
    assert const == [0.1] * 20
    cos, _ = _lrs("cosinus")
    assert cos[0] == pytest.approx(0.1) and all(a >= b for a, b in zip(cos, cos[1:])) and cos[-1] < 0.002
    one, opt = _lrs("OneCycleLR")
    peak = max(range(20), key=one.__getitem__)
    assert one[0] == pytest.approx(0.1 / 25) and max(one) == pytest.approx(0.1, rel=1e-6)
    assert 0 < peak < 19 and one[-1] < 1e-3
    assert opt.param_groups[0]["momentum"] == 0.9  # le momentum reste fixe
    with pytest.raises(ValueError, match="schedule"):
        schedules.make_scheduler("step", opt, 10)


def test_schedule_run_is_seeded_and_learns():
    a = schedules.schedule_run("OneCycleLR", lr=0.06, seed=0, epochs=2)
    b = schedules.schedule_run("OneCycleLR", lr=0.06, seed=0, epochs=2)
    assert a.as_dict() == b.as_dict()
    assert a.metrics["val_accuracy"][-1] > 0.85
    assert a.lr[-1] < 1e-3
    with pytest.raises(ValueError, match="momentum"):
        schedules.schedule_run("constant", lr=0.1, momentum=1.0)
