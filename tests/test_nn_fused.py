"""Tests des versions rapides (:mod:`profond.nn.fused` en Python, :mod:`profond.nn.ckernels` en C) :
elles calculent exactement ce que calculent les versions équation par équation du chapitre
(``BatchNormFunction``, ``LayerNormFunction``) et PyTorch, en float64 ; ``gradcheck`` ; les couches passent bien par les noyaux C, ou par la version
Python dans un bloc ``ckernels.disabled()`` (comme sur une machine sans compilateur)."""

from __future__ import annotations

import itertools
import shutil

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond.nn import BatchNorm1d, BatchNorm2d, BatchNormFunction, LayerNorm, LayerNormFunction, ckernels
from profond.nn.ckernels import CBatchNormFunction, CLayerNormFunction
from profond.nn.fused import FusedBatchNormFunction, FusedLayerNormFunction

DTYPE = torch.float64
BN_SHAPES = [(8, 3), (5, 3, 4), (4, 3, 5, 6), (2, 3, 1, 1), (3, 3, 11)]  # 11 : hors des blocs de 8 du C
PARAMS = ["weight_bias", "weight", "bias", "none"]
# Les deux versions rapides : Python regroupée, et noyaux C (profond.nn.ckernels) là où un
# compilateur existe. Chacune doit calculer exactement ce que calcule la version du chapitre.
NO_COMPILER = pytest.mark.skipif(shutil.which(ckernels._compiler()[0]) is None, reason="pas de compilateur C")
FAST_BN = [pytest.param(FusedBatchNormFunction, id="python"), pytest.param(CBatchNormFunction, id="c", marks=NO_COMPILER)]
FAST_LN = [pytest.param(FusedLayerNormFunction, id="python"), pytest.param(CLayerNormFunction, id="c", marks=NO_COMPILER)]


@pytest.fixture(params=[pytest.param("Fused", id="python"), pytest.param("C", id="c", marks=NO_COMPILER)])
def backend(request):
    """Les couches passent par la version Python (comme sans compilateur C) ou par les noyaux C ;
    la valeur est le début du nom de la ``Function`` attendue."""
    if request.param == "Fused":
        with ckernels.disabled():
            yield request.param
    else:
        yield request.param


def _params(kind: str, shape, g: torch.Generator):
    w = (torch.rand(shape, generator=g, dtype=DTYPE) + 0.5).requires_grad_() if "weight" in kind else None
    b = torch.randn(shape, generator=g, dtype=DTYPE, requires_grad=True) if "bias" in kind else None
    return w, b


def _grads(y: torch.Tensor, dy: torch.Tensor, *tensors):
    """Gradients de ⟨y, dy⟩ par rapport aux tenseurs donnés (None pour ceux qui valent None)."""
    wanted = [t for t in tensors if t is not None]
    got = iter(torch.autograd.grad(y, wanted, dy))
    return [None if t is None else next(got) for t in tensors]


@pytest.mark.parametrize("function", FAST_BN)
@pytest.mark.parametrize("shape,kind,momentum", list(itertools.product(BN_SHAPES, PARAMS, [0.1, 1.0])))
def test_fused_batchnorm_equals_equation_by_equation(function, shape, kind, momentum):
    """Sorties, statistiques de population et les trois gradients : identiques (float64) à ceux de
    BatchNormFunction, qui suit le chapitre équation par équation."""
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g, dtype=DTYPE) * 3 + 2).requires_grad_()
    w, b = _params(kind, (3,), g)
    dy = torch.randn(shape, generator=g, dtype=DTYPE)
    stats = [(torch.randn(3, dtype=DTYPE), torch.rand(3, dtype=DTYPE) + 0.5) for _ in range(2)]
    stats[1] = (stats[0][0].clone(), stats[0][1].clone())
    y = function.apply(x, w, b, *stats[0], momentum, 1e-5)
    y_ref = BatchNormFunction.apply(x, w, b, *stats[1], momentum, 1e-5)
    assert_close(y, y_ref)
    assert_close(stats[0][0], stats[1][0])
    assert_close(stats[0][1], stats[1][1])
    for got, expected in zip(_grads(y, dy, x, w, b), _grads(y_ref, dy, x, w, b)):
        assert (got is None) == (expected is None)
        if got is not None:
            assert_close(got, expected)


@pytest.mark.parametrize("function", FAST_BN)
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2), (3, 3, 2, 2)])
def test_fused_batchnorm_gradcheck(function, shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(shape, generator=g, dtype=DTYPE, requires_grad=True)
    w, b = _params("weight_bias", (3,), g)
    assert torch.autograd.gradcheck(function.apply, (x, w, b, None, None, 0.1, 1e-5))


@pytest.mark.parametrize("function", FAST_BN)
def test_fused_batchnorm_running_stats_equal_torch(function):
    """Trois pas : μ_pop et σ²_pop (non biaisée) identiques à ``F.batch_norm``, momentum 0,3."""
    g = torch.Generator().manual_seed(2)
    rm, rv = torch.zeros(3, dtype=DTYPE), torch.ones(3, dtype=DTYPE)
    rm_ref, rv_ref = rm.clone(), rv.clone()
    for _ in range(3):
        x = torch.randn(10, 3, 4, generator=g, dtype=DTYPE) * 2 + 5
        function.apply(x, None, None, rm, rv, 0.3, 1e-5)
        torch.nn.functional.batch_norm(x, rm_ref, rv_ref, training=True, momentum=0.3, eps=1e-5)
    assert_close(rm, rm_ref)
    assert_close(rv, rv_ref)
    assert not torch.allclose(rv, torch.ones_like(rv))  # les statistiques ont bougé


@pytest.mark.parametrize("cls,ref_cls,shape", [(BatchNorm1d, nn.BatchNorm1d, (7, 4)), (BatchNorm2d, nn.BatchNorm2d, (3, 4, 2, 5))])
@pytest.mark.parametrize("affine,track", [(True, True), (False, True), (True, False), (False, False)])
def test_layers_use_fused_path_and_match_torch(backend, cls, ref_cls, shape, affine, track):
    """Les couches passent par la version rapide en entraînement, et aussi en évaluation sans
    statistiques de population ; en évaluation avec statistiques, par l'algorithme `bn-algo-eval`."""
    torch.manual_seed(0)
    ours = cls(4, affine=affine, track_running_stats=track, dtype=DTYPE)
    ref = ref_cls(4, affine=affine, track_running_stats=track, dtype=DTYPE)
    if affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 1.5)
            ours.bias.normal_()
        ref.load_state_dict(ours.state_dict())
    for mode in ("train", "eval"):
        ours.train(mode == "train"), ref.train(mode == "train")
        x = (torch.randn(shape, dtype=DTYPE) * 2 + 1).requires_grad_()
        y, y_ref = ours(x), ref(x)
        fused = type(y.grad_fn).__name__.startswith(backend + "BatchNormFunction")
        assert fused == (mode == "train" or not track)
        assert_close(y, y_ref)
        dy = torch.randn(shape, dtype=DTYPE)
        params = [ours.weight, ours.bias] if affine else []
        params_ref = [ref.weight, ref.bias] if affine else []
        for got, expected in zip(torch.autograd.grad(y, [x, *params], dy), torch.autograd.grad(y_ref, [x, *params_ref], dy)):
            assert_close(got, expected)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            a, b = getattr(ours, name), getattr(ref, name)
            assert (a is None) == (b is None)
            if a is not None:
                assert_close(a, b)


@pytest.mark.parametrize("layout", ["transposed", "channels_last"])
def test_fused_batchnorm_non_contiguous_input(backend, layout):
    g = torch.Generator().manual_seed(3)
    if layout == "transposed":
        x = torch.randn(4, 9, generator=g, dtype=DTYPE).t()  # (9, 4), non contigu
        ours, ref = BatchNorm1d(4, dtype=DTYPE), nn.BatchNorm1d(4, dtype=DTYPE)
    else:
        x = torch.randn(3, 4, 5, 2, generator=g, dtype=DTYPE).to(memory_format=torch.channels_last)
        ours, ref = BatchNorm2d(4, dtype=DTYPE), nn.BatchNorm2d(4, dtype=DTYPE)
    x = x.requires_grad_()
    dy = torch.randn(x.shape, generator=g, dtype=DTYPE)
    y, y_ref = ours(x), ref(x)
    assert type(y.grad_fn).__name__.startswith(backend)
    assert_close(y, y_ref)
    assert_close(torch.autograd.grad(y, x, dy)[0], torch.autograd.grad(y_ref, x, dy)[0])


@pytest.mark.parametrize("function", FAST_BN)
def test_only_parameter_gradients_when_input_is_constant(function):
    """Entrée sans gradient : seuls ∂L/∂γ et ∂L/∂β sont calculés, et justes."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, 3, generator=g, dtype=DTYPE)
    w, b = _params("weight_bias", (3,), g)
    dy = torch.randn(6, 3, generator=g, dtype=DTYPE)
    got = torch.autograd.grad(function.apply(x, w, b, None, None, 0.1, 1e-5), [w, b], dy)
    expected = torch.autograd.grad(torch.nn.functional.batch_norm(x, None, None, w, b, training=True), [w, b], dy)
    for a, e in zip(got, expected):
        assert_close(a, e)


@pytest.mark.parametrize("apply", [
    pytest.param(lambda x: function.apply(x, None, None, None, None, 0.1, 1e-5), id=f"bn-{param.id}", marks=param.marks)
    for param in FAST_BN for function in param.values
] + [
    pytest.param(lambda x: function.apply(x, None, None, 1, 1e-5), id=f"ln-{param.id}", marks=param.marks)
    for param in FAST_LN for function in param.values
])
def test_double_backward_is_refused(apply):
    """La rétropropagation écrite à la main n'est pas dérivable : PyTorch le dit au lieu de se tromper."""
    x = torch.randn(5, 3, dtype=DTYPE, requires_grad=True)
    (dx,) = torch.autograd.grad((apply(x) ** 3).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        dx.sum().backward()


LN_CASES = [((4, 6), 1), ((3, 5, 7), 1), ((3, 5, 7), 2), ((2, 3, 4, 5), 2), ((9,), 1), ((2, 1), 1), ((3, 37), 1)]


@pytest.mark.parametrize("function", FAST_LN)
@pytest.mark.parametrize("shape,k,kind", [(s, k, p) for (s, k), p in itertools.product(LN_CASES, PARAMS)])
def test_fused_layernorm_equals_equation_by_equation(function, shape, k, kind):
    g = torch.Generator().manual_seed(5)
    x = (torch.randn(shape, generator=g, dtype=DTYPE) * 3 + 1).requires_grad_()
    w, b = _params(kind, shape[len(shape) - k:], g)
    dy = torch.randn(shape, generator=g, dtype=DTYPE)
    y = function.apply(x, w, b, k, 1e-5)
    y_ref = LayerNormFunction.apply(x, w, b, k, 1e-5)
    assert_close(y, y_ref)
    for got, expected in zip(_grads(y, dy, x, w, b), _grads(y_ref, dy, x, w, b)):
        assert (got is None) == (expected is None)
        if got is not None:
            assert_close(got, expected)


@pytest.mark.parametrize("function", FAST_LN)
@pytest.mark.parametrize("shape,k", [((4, 5), 1), ((3, 2, 4), 2)])
def test_fused_layernorm_gradcheck(function, shape, k):
    g = torch.Generator().manual_seed(6)
    x = torch.randn(shape, generator=g, dtype=DTYPE, requires_grad=True)
    w, b = _params("weight_bias", shape[-k:], g)
    assert torch.autograd.gradcheck(function.apply, (x, w, b, k, 1e-5))


def test_layernorm_layer_uses_fused_path(backend):
    ln = LayerNorm(6, dtype=DTYPE)
    y = ln(torch.randn(2, 6, dtype=DTYPE, requires_grad=True))
    assert type(y.grad_fn).__name__.startswith(backend + "LayerNormFunction")
