"""Tests de :mod:`profond.nn.residual` (TP « Petits lots et réseaux résiduels »)."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

import profond
from profond.data import load_split, split_tensors
from profond.nn.residual import (
    ResidualBlock,
    bn_branch_ratio,
    branch_skip_variances,
    fixup_scale,
    make_residual_mlp,
    residual_arm,
    train_residual,
)


def test_fixup_scale():
    assert fixup_scale(16, 2) == pytest.approx(0.25)
    assert fixup_scale(8, 4) == pytest.approx(8 ** (-1 / 6))
    with pytest.raises(ValueError):
        fixup_scale(16, 1)
    with pytest.raises(ValueError):
        fixup_scale(0, 2)


def test_bn_branch_ratio_matches_variance_recursion():
    skip, c = 0.7, 0.2
    for l in range(10):
        assert bn_branch_ratio(l, skip_var0=0.7, branch_var=c) == pytest.approx(c / skip)
        skip += c  # Var x_{l+1} = Var x_l + Var f_l (branche décorrélée du chemin direct)
    with pytest.raises(ValueError):
        bn_branch_ratio(-1)


def test_bn_block_branch_matches_torch_float64():
    profond.seed_everything(0)
    block = ResidualBlock(6, "bn").double().train()
    with torch.no_grad():
        block.norm1.weight.uniform_(0.5, 2)
        block.norm2.bias.uniform_(-1, 1)
    bn1, bn2 = nn.BatchNorm1d(6).double(), nn.BatchNorm1d(6).double()
    bn1.load_state_dict(block.norm1.state_dict())
    bn2.load_state_dict(block.norm2.state_dict())
    x = torch.randn(9, 6, dtype=torch.float64, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    ref = x_ref + block.linear2(torch.relu(bn2(block.linear1(torch.relu(bn1(x_ref))))))
    out = block(x)
    assert_close(out, ref)
    dy = torch.randn_like(out)
    out.backward(dy)
    ref.backward(dy)
    assert_close(x.grad, x_ref.grad)
    assert_close(block.norm1.running_mean, bn1.running_mean)


def test_fixup_starts_as_identity_and_learns_its_scalars():
    profond.seed_everything(0)
    model = make_residual_mlp("fixup", num_blocks=8, width=16)
    x = torch.randn(5, 64)
    h = model.stem(x)
    for block in model.blocks:
        assert torch.equal(block(h), h)
        w1 = block.linear1.weight
        assert w1.std().item() == pytest.approx(np.sqrt(2 / 16) * fixup_scale(8, 2), rel=0.25)
    assert torch.equal(model(x), torch.zeros(5, 10))
    loss = nn.functional.cross_entropy(model(x), torch.arange(5))
    loss.backward()
    assert model.head.weight.grad.abs().sum() > 0
    assert model.blocks[0].linear2.weight.grad is not None


def test_branch_skip_variances_identity_bias():
    x, _, _, _ = split_tensors(load_split("digits", seed=0, n_train=256))
    profond.seed_everything(0)
    bn = make_residual_mlp("bn", num_blocks=32, width=32)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    skip, branch = branch_skip_variances(bn, x)
    for k, v in bn.state_dict().items():
        assert torch.equal(v, before[k])
    ratio = branch / skip
    pred = np.array([bn_branch_ratio(l, skip[0], branch.mean()) for l in range(32)])
    assert np.all(np.abs(np.log(ratio[1:] / pred[1:])) < np.log(1.5))  # la loi en c / (Var x_0 + l c)
    assert ratio[-1] < 0.1 < ratio[1]
    profond.seed_everything(0)
    he = make_residual_mlp("he", num_blocks=32, width=32)
    skip_he, branch_he = branch_skip_variances(he, x)
    assert skip_he[-1] / skip_he[0] > 1e4  # la variance double à chaque bloc
    assert 0.2 < np.median(branch_he / skip_he) < 5
    profond.seed_everything(0)
    _, branch_fixup = branch_skip_variances(make_residual_mlp("fixup", 32, 32), x)
    assert np.all(branch_fixup == 0)
    with pytest.raises(TypeError):
        branch_skip_variances(nn.Linear(2, 2), x)


def test_train_residual_reproducible_and_learns():
    a = train_residual("bn", 0.3, num_blocks=4, width=16, epochs=1, seed=1)
    b = train_residual("bn", 0.3, num_blocks=4, width=16, epochs=1, seed=1)
    assert a.history.batch_loss == b.history.batch_loss
    assert a.val_accuracy > 0.8
    f = train_residual("fixup", 0.3, num_blocks=4, width=16, epochs=2, seed=1)
    assert f.val_accuracy > 0.8


def test_arm_errors():
    with pytest.raises(ValueError):
        residual_arm("BN", "bn", [])
    with pytest.raises(ValueError):
        residual_arm("X", "wn", [0.1])
    with pytest.raises(ValueError):
        ResidualBlock(4, "wn")
    arm = residual_arm("Fixup", "fixup", [0.1, 0.3], num_blocks=16)
    assert arm.fixed == {"kind": "fixup", "num_blocks": 16} and len(arm.settings()) == 2
