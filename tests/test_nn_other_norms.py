"""GroupNorm et RMSNorm écrites à la main contre torch.nn.GroupNorm et torch.nn.RMSNorm (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profond.nn.other_norms import GroupNorm, RMSNorm, group_norm, rms_norm


def _twin_check(ours: nn.Module, ref: nn.Module, x: torch.Tensor):
    with torch.no_grad():
        for p_ours, p_ref in zip(ours.parameters(), ref.parameters()):
            p_ref.copy_(torch.randn_like(p_ref))
            p_ours.copy_(p_ref)
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    ya, yb = ours(xa), ref(xb)
    torch.testing.assert_close(ya, yb)
    dy = torch.randn_like(ya)
    ya.backward(dy)
    yb.backward(dy)
    torch.testing.assert_close(xa.grad, xb.grad)
    for (name, p_ours), p_ref in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, msg=f"gradient de {name}")


@pytest.mark.parametrize("shape, groups", [((4, 6), 3), ((3, 8, 5), 2), ((2, 12, 4, 4), 4), ((2, 6, 3, 3), 6),
                                           ((2, 6, 3, 3), 1), ((1, 4, 2, 2, 2), 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3 + 1
    ours = GroupNorm(groups, shape[1], eps=1e-5, affine=affine, dtype=torch.float64)
    ref = nn.GroupNorm(groups, shape[1], eps=1e-5, affine=affine, dtype=torch.float64)
    _twin_check(ours, ref, x)


@pytest.mark.parametrize("shape, normalized", [((5, 8), (8,)), ((2, 3, 8), (8,)), ((2, 3, 4), (3, 4)), ((7,), 7)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_matches_torch(shape, normalized, affine, eps):
    torch.manual_seed(1)
    x = torch.randn(shape, dtype=torch.float64) * 2 + 0.5
    ours = RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=torch.float64)
    ref = nn.RMSNorm(normalized, eps=eps, elementwise_affine=affine, dtype=torch.float64)
    _twin_check(ours, ref, x)


def test_same_defaults_and_parameter_names_as_torch():
    assert [n for n, _ in GroupNorm(2, 4).named_parameters()] == [n for n, _ in nn.GroupNorm(2, 4).named_parameters()]
    assert [n for n, _ in RMSNorm(4).named_parameters()] == [n for n, _ in nn.RMSNorm(4).named_parameters()]
    assert GroupNorm(2, 4).eps == nn.GroupNorm(2, 4).eps and RMSNorm(4).eps is nn.RMSNorm(4).eps
    assert GroupNorm(2, 4).state_dict().keys() == nn.GroupNorm(2, 4).state_dict().keys()


def test_gradcheck():
    torch.manual_seed(2)
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: group_norm(x, 2, w, b), (x, w, b))
    w3 = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: rms_norm(x, (3,), w), (x, w3))


def test_group_norm_does_not_depend_on_the_batch():
    torch.manual_seed(3)
    layer = GroupNorm(2, 4)
    x = torch.randn(8, 4, 5)
    torch.testing.assert_close(layer(x)[:1], layer(x[:1]))


def test_bad_input_is_explained_in_french():
    with pytest.raises(ValueError, match="divisible"):
        GroupNorm(3, 4)
    with pytest.raises(ValueError, match="divisible"):
        group_norm(torch.randn(2, 5), 2)
    with pytest.raises(ValueError, match="dernières dimensions"):
        rms_norm(torch.randn(2, 5), (4,))
    with pytest.raises(TypeError, match="booléen"):
        RMSNorm(4, elementwise_affine=1)
