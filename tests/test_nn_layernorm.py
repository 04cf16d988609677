"""Tests de profond.nn.layernorm : comparaison avec ``torch.nn.LayerNorm`` en float64,
``gradcheck`` de la rétropropagation écrite à la main, erreurs en français."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond.nn import LayerNorm, LayerNormFunction, layer_norm
from profond.nn.layernorm import layer_norm_input_grad

DTYPE = torch.float64
CASES = [((4, 6), 6), ((3, 5, 7), 7), ((3, 5, 7), (5, 7)), ((2, 3, 4, 5), (4, 5)), ((9,), 9), ((2, 1), 1)]


@pytest.mark.parametrize(
    "shape,normalized,affine,bias,mode",
    [(s, n, a, b, m) for (s, n), a, b, m in itertools.product(CASES, [True, False], [True, False], ["train", "eval"])],
)
def test_layernorm_matches_torch(shape, normalized, affine, bias, mode, same_as_reference):
    torch.manual_seed(0)
    ours = LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=DTYPE)
    ref = nn.LayerNorm(normalized, elementwise_affine=affine, bias=bias, dtype=DTYPE)
    if affine:
        with torch.no_grad():
            ours.weight.copy_(torch.rand_like(ours.weight) + 0.5)
            if bias:
                ours.bias.copy_(torch.randn_like(ours.bias))
        ref.load_state_dict(ours.state_dict())
    if mode == "eval":
        ours.eval(), ref.eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=DTYPE) * 3 + 1
    same_as_reference(ours, ref, x, torch.randn(shape, generator=g, dtype=DTYPE))


@pytest.mark.parametrize("shape,k", [((4, 5), 1), ((3, 2, 4), 2), ((3, 2, 4), 1)])
def test_gradcheck(shape, k):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=DTYPE, requires_grad=True)
    w = (torch.rand(shape[-k:], generator=g, dtype=DTYPE) + 0.5).requires_grad_()
    b = torch.randn(shape[-k:], generator=g, dtype=DTYPE, requires_grad=True)
    assert torch.autograd.gradcheck(LayerNormFunction.apply, (x, w, b, k, 1e-5), eps=1e-6, atol=1e-6)


def test_each_example_is_normalised_independently():
    x = torch.randn(5, 8, dtype=DTYPE) * 10
    y = layer_norm(x, 8)
    assert_close(y.mean(-1), torch.zeros(5, dtype=DTYPE), atol=1e-12, rtol=0)
    assert_close(layer_norm(x[:1], 8), y[:1])  # ne dépend pas des autres exemples


def test_errors():
    with pytest.raises(ValueError, match="normalized_shape"):
        LayerNorm(4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match="normalized_shape"):
        LayerNorm(0)
    with pytest.raises(TypeError, match="normalized_shape"):
        LayerNorm("quatre")
    with pytest.raises(ValueError, match="eps"):
        LayerNorm(3, eps=-1.0)


def test_input_grad_with_given_means_and_weight():
    """`layer_norm_input_grad` donne le même gradient, que les moyennes soient calculées par elle
    ou données, et que γ soit appliqué avant (g = γ ⊙ ∂L/∂y) ou dans la fonction (``weight``)."""
    g = torch.Generator().manual_seed(0)
    dy, x_hat = torch.randn(4, 6, generator=g, dtype=DTYPE), torch.randn(4, 6, generator=g, dtype=DTYPE)
    inv_std = torch.rand(4, 1, generator=g, dtype=DTYPE) + 0.5
    w = torch.rand(6, generator=g, dtype=DTYPE) + 0.5
    ref = layer_norm_input_grad(dy * w, x_hat, inv_std, -1)
    expected = (dy * w - (dy * w).mean(-1, keepdim=True) - x_hat * (dy * w * x_hat).mean(-1, keepdim=True)) * inv_std
    assert_close(ref, expected)
    mean_g, mean_g_xhat = (dy * w).mean(-1, keepdim=True), (dy * w * x_hat).mean(-1, keepdim=True)
    dy_copy = dy.clone()
    assert_close(layer_norm_input_grad(dy, x_hat, inv_std, -1, mean_g, mean_g_xhat, weight=w), ref)
    assert_close(layer_norm_input_grad(dy, x_hat, inv_std, -1, weight=w), ref)
    assert_close(layer_norm_input_grad(dy * w, x_hat, inv_std, -1, mean_g, mean_g_xhat), ref)
    assert torch.equal(dy, dy_copy)


@pytest.mark.parametrize("affine", [True, False])
def test_non_contiguous_input_and_gradient(affine, same_as_reference):
    """Entrée et gradient transposés (non contigus) : mêmes résultats que PyTorch."""
    g = torch.Generator().manual_seed(2)
    ours = LayerNorm(5, elementwise_affine=affine, dtype=DTYPE)
    ref = nn.LayerNorm(5, elementwise_affine=affine, dtype=DTYPE)
    x = torch.randn(5, 7, generator=g, dtype=DTYPE).t()
    dy = torch.randn(5, 7, generator=g, dtype=DTYPE).t()
    assert not x.is_contiguous() and not dy.is_contiguous()
    same_as_reference(ours, ref, x, dy)


def test_float32_large_mean_keeps_precision(same_as_reference):
    """Moyenne 1000 fois l'écart-type, en float32 : mêmes sorties et même gradient de l'entrée que PyTorch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 64, generator=g) + 1000.0
    dy = torch.randn(8, 64, generator=g)
    same_as_reference(LayerNorm(64), nn.LayerNorm(64), x, dy, parameters=False, rtol=1e-3, atol=1e-3)
