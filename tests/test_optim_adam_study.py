"""Tests de profond.optim.adam_study (Adam + L2, AdamW, échauffement) et de l'échauffement
linéaire de profond.schedules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from profond import schedules
from profond.optim import Adam, AdamW
from profond.optim import adam_study as st


def test_linear_warmup_follows_its_formula():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    sched = schedules.linear_warmup(opt, 5)
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    expected = [0.3 * min(1.0, t / 5) for t in range(1, 10)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    one = schedules.linear_warmup(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3), 1)
    assert one.get_last_lr() == [0.3]
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.linear_warmup(opt, 0)


def _one_step(cls, weight_decay):
    p = torch.nn.Parameter(torch.tensor([[0.5, -2.0], [1e-3, 4.0]], dtype=torch.float64))
    opt = cls([p], lr=0.1, weight_decay=weight_decay)
    for g in ([[1e-2, 0.0], [3.0, -1.0]], [[2e-2, 0.0], [1.0, 1.0]]):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return p, opt


def test_adam_l2_and_adamw_match_torch_in_float64():
    for ours, theirs in ((Adam, torch.optim.Adam), (AdamW, torch.optim.AdamW)):
        a, _ = _one_step(ours, 0.3)
        b, _ = _one_step(theirs, 0.3)
        torch.testing.assert_close(a, b)


def test_l2_decay_rates_is_lambda_over_sqrt_vhat():
    _, opt = _one_step(Adam, 1e-3)
    _, ref = _one_step(torch.optim.Adam, 1e-3)  # l'état de torch donne v̂ de référence
    s = next(iter(ref.state.values()))
    v_hat = s["exp_avg_sq"] / (1 - 0.999 ** int(s["step"]))
    rates = st.l2_decay_rates(opt)
    np.testing.assert_allclose(rates, (1e-3 / (v_hat.sqrt() + 1e-8)).flatten().numpy(), rtol=1e-10)
    # gradient de données nul : seul λθ reste, le taux effectif vaut ≈ 1/|θ| ≈ 0,5, quel que soit λ
    assert rates[1] == pytest.approx(0.5, rel=0.05) and rates[1] > 100 * rates[3]
    with pytest.raises(TypeError, match="AdamW"):
        st.l2_decay_rates(_one_step(AdamW, 0.3)[1])


def test_weight_decay_run_is_seeded_and_learns():
    a, _ = st.weight_decay_run("AdamW", 1e-2, 0.1, seed=0, epochs=6)
    b, _ = st.weight_decay_run("AdamW", 1e-2, 0.1, seed=0, epochs=6)
    assert a.as_dict() == b.as_dict()
    assert a.metrics["val_accuracy"][-1] > 0.6
    c, _ = st.weight_decay_run("Adam + L2", 1e-2, 0.1, seed=0, epochs=6)
    assert c.batch_loss != a.batch_loss  # même λ, règle différente
    with pytest.raises(ValueError, match="method"):
        st.weight_decay_run("SGD", 1e-2, 0.1)


def test_warmup_shrinks_the_first_updates():
    h0, plain = st.warmup_run(1e-2, 0, seed=0, epochs=1)
    h1, warm = st.warmup_run(1e-2, 10, seed=0, epochs=1)
    assert len(plain.sizes) == len(h0.batch_loss) == 10
    assert plain.sizes[0] / 1e-2 > 0.5 and plain.sizes[0] > 2 * plain.sizes[-1]  # premier pas ≈ α
    np.testing.assert_allclose(warm.lrs, [1e-2 * t / 10 for t in range(1, 11)], rtol=1e-12)
    assert warm.sizes[0] < plain.sizes[0] / 5
    with pytest.raises(ValueError, match="warmup_steps"):
        st.warmup_run(1e-2, -1)
