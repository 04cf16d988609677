"""Tests de profond.nn.batchnorm : sorties, gradients et statistiques de population comparés à
``torch.nn.BatchNorm1d/2d`` en float64, rétropropagation vérifiée par ``gradcheck``, échanges de
``state_dict`` avec PyTorch, et messages d'erreur."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond.nn import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNormFunction,
    NoisyBatchNorm1d,
    batch_mean,
    batch_norm,
    batch_var,
    normalise,
    running_average,
    scale_shift,
    unbiased_var,
)

DTYPE = torch.float64
SHAPES_1D = [(2, 1), (3, 5), (16, 7), (8, 4, 3), (5, 6, 1), (1, 3, 4)]
SHAPES_2D = [(2, 3, 4, 5), (1, 2, 3, 3), (6, 1, 2, 2), (4, 5, 1, 1)]
MOMENTA = [0.1, 0.5, None]


def pair(cls, ref_cls, num_features, **kwargs):
    """Nos couches et celles de PyTorch, mêmes arguments, mêmes paramètres (γ, β aléatoires)."""
    torch.manual_seed(0)
    ours = cls(num_features, dtype=DTYPE, **kwargs)
    ref = ref_cls(num_features, dtype=DTYPE, **kwargs)
    if ours.affine:
        with torch.no_grad():
            ours.weight.copy_(torch.rand(num_features, dtype=DTYPE) + 0.5)
            ours.bias.copy_(torch.randn(num_features, dtype=DTYPE))
        ref.load_state_dict(ours.state_dict())
    return ours, ref


BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


@pytest.fixture
def run_and_compare(same_as_reference):
    """Plusieurs passages avant/arrière ; compare sorties, gradients et tampons à chaque pas."""

    def run(ours, ref, shape, steps=3, scale=3.0, shift=2.0):
        g = torch.Generator().manual_seed(1)
        for _ in range(steps):
            x = torch.randn(shape, generator=g, dtype=DTYPE) * scale + shift
            dy = torch.randn(shape, generator=g, dtype=DTYPE)
            same_as_reference(ours, ref, x, dy, buffers=BUFFERS)

    return run


@pytest.mark.parametrize(
    "shape,momentum,affine,track",
    list(itertools.product(SHAPES_1D, MOMENTA, [True, False], [True, False])),
)
@pytest.mark.parametrize("mode", ["train", "eval", "train_then_eval"])
def test_batchnorm1d_matches_torch(shape, momentum, affine, track, mode, run_and_compare):
    if mode != "eval" and shape[0] * (shape[2] if len(shape) == 3 else 1) == 1:
        pytest.skip("une seule valeur par caractéristique : cas d'erreur, testé à part")
    ours, ref = pair(BatchNorm1d, nn.BatchNorm1d, shape[1], momentum=momentum, affine=affine, track_running_stats=track)
    if mode in ("train", "train_then_eval"):
        run_and_compare(ours, ref, shape)
    if mode in ("eval", "train_then_eval"):
        ours.eval(), ref.eval()
        run_and_compare(ours, ref, shape)


@pytest.mark.parametrize(
    "shape,momentum,affine,track",
    list(itertools.product(SHAPES_2D, MOMENTA, [True, False], [True, False])),
)
@pytest.mark.parametrize("mode", ["train", "train_then_eval"])
def test_batchnorm2d_matches_torch(shape, momentum, affine, track, mode, run_and_compare):
    ours, ref = pair(BatchNorm2d, nn.BatchNorm2d, shape[1], momentum=momentum, affine=affine, track_running_stats=track)
    run_and_compare(ours, ref, shape)
    if mode == "train_then_eval":
        ours.eval(), ref.eval()
        run_and_compare(ours, ref, shape)


@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.5])
def test_eps_matches_torch(eps, run_and_compare):
    ours, ref = pair(BatchNorm1d, nn.BatchNorm1d, 4, eps=eps)
    run_and_compare(ours, ref, (6, 4), scale=0.01)
    ours.eval(), ref.eval()
    run_and_compare(ours, ref, (6, 4), scale=0.01)


def test_running_var_is_unbiased():
    """Après un lot avec momentum = 1, σ²_pop est exactement la variance non biaisée du lot."""
    layer = BatchNorm1d(3, momentum=1.0, dtype=DTYPE)
    x = torch.randn(10, 3, dtype=DTYPE)
    layer(x)
    assert_close(layer.running_var, x.var(dim=0, unbiased=True))
    assert_close(layer.running_mean, x.mean(dim=0))


def test_cumulative_average_when_momentum_is_none():
    """momentum=None : μ_pop est la moyenne simple des moyennes des lots vus."""
    layer = BatchNorm1d(2, momentum=None, dtype=DTYPE)
    batches = [torch.randn(5, 2, dtype=DTYPE) + i for i in range(4)]
    for x in batches:
        layer(x)
    assert_close(layer.running_mean, torch.stack([x.mean(0) for x in batches]).mean(0))
    assert int(layer.num_batches_tracked) == 4


def test_eval_output_does_not_depend_on_batch():
    """En évaluation, la sortie d'un exemple ne dépend pas des autres exemples du lot."""
    layer = BatchNorm1d(4, dtype=DTYPE)
    layer(torch.randn(32, 4, dtype=DTYPE) * 2 + 1)
    layer.eval()
    x = torch.randn(8, 4, dtype=DTYPE)
    assert_close(layer(x)[:1], layer(x[:1]))
    layer.train()
    assert not torch.allclose(layer(x)[:2], layer(x[:2]))


def test_training_flag_not_grad_mode_decides():
    """Le mode vient de ``self.training`` : sous ``no_grad`` la couche en entraînement normalise
    toujours avec le lot et met à jour ses statistiques."""
    layer = BatchNorm1d(3, dtype=DTYPE)
    x = torch.randn(16, 3, dtype=DTYPE) * 4 + 3
    with torch.no_grad():
        y = layer(x)
    assert_close(y.mean(0), torch.zeros(3, dtype=DTYPE), atol=1e-10, rtol=0)
    assert int(layer.num_batches_tracked) == 1
    assert_close(layer.running_mean, 0.1 * x.mean(0))


# --- équations ---------------------------------------------------------------------------------
def test_equation_functions():
    x = torch.tensor([[1.0, 0.0], [2.0, 4.0], [6.0, 8.0]], dtype=DTYPE)
    mu = batch_mean(x, (0,))
    assert_close(mu, torch.tensor([[3.0, 4.0]], dtype=DTYPE))
    var = batch_var(x - mu, (0,))
    assert_close(var, torch.tensor([[14 / 3, 32 / 3]], dtype=DTYPE))
    x_hat = normalise(x, mu, var, 0.0)
    assert_close(x_hat.mean(0), torch.zeros(2, dtype=DTYPE), atol=1e-12, rtol=0)
    assert_close(x_hat.pow(2).mean(0), torch.ones(2, dtype=DTYPE))
    y = scale_shift(x_hat, torch.tensor([2.0, 3.0], dtype=DTYPE), torch.tensor([1.0, -1.0], dtype=DTYPE))
    assert_close(y.mean(0), torch.tensor([1.0, -1.0], dtype=DTYPE))
    assert_close(y.std(0, unbiased=False), torch.tensor([2.0, 3.0], dtype=DTYPE))
    assert_close(unbiased_var(var, 3), x.var(0, unbiased=True, keepdim=True))
    r = torch.tensor([1.0, 1.0], dtype=DTYPE)
    running_average(r, torch.tensor([3.0, 11.0], dtype=DTYPE), 0.25)
    assert_close(r, torch.tensor([1.5, 3.5], dtype=DTYPE))


# --- rétropropagation écrite à la main ----------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(shape, affine):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g, dtype=DTYPE, requires_grad=True)
    c = shape[1]
    w = (torch.rand(c, generator=g, dtype=DTYPE) + 0.5).requires_grad_() if affine else None
    b = torch.randn(c, generator=g, dtype=DTYPE, requires_grad=True) if affine else None
    inputs = (x, w, b, None, None, 0.1, 1e-5)
    assert torch.autograd.gradcheck(BatchNormFunction.apply, inputs, eps=1e-6, atol=1e-6)


def test_functional_matches_torch():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(7, 4, 3, generator=g, dtype=DTYPE)
    w, b = torch.rand(4, dtype=DTYPE, generator=g), torch.randn(4, dtype=DTYPE, generator=g)
    rm, rv = torch.zeros(4, dtype=DTYPE), torch.ones(4, dtype=DTYPE)
    rm2, rv2 = rm.clone(), rv.clone()
    y = batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, eps=1e-3)
    y_ref = torch.nn.functional.batch_norm(x, rm2, rv2, w, b, training=True, momentum=0.2, eps=1e-3)
    assert_close(y, y_ref)
    assert_close(rm, rm2)
    assert_close(rv, rv2)
    assert_close(batch_norm(x, rm, rv, w, b), torch.nn.functional.batch_norm(x, rm2, rv2, w, b))


# --- state_dict, .to(), .eval() -----------------------------------------------------------------
@pytest.mark.parametrize("cls,ref_cls,shape", [(BatchNorm1d, nn.BatchNorm1d, (8, 5)), (BatchNorm2d, nn.BatchNorm2d, (4, 5, 3, 3))])
def test_state_dict_round_trip_with_torch(cls, ref_cls, shape):
    ref = ref_cls(5, dtype=DTYPE)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 2)
        ref.bias.normal_()
    for _ in range(3):
        ref(torch.randn(shape, dtype=DTYPE) * 2 + 1)
    ours = cls(5, dtype=DTYPE)
    ours.load_state_dict(ref.state_dict())  # strict : mêmes clés
    assert set(ours.state_dict()) == set(ref.state_dict())
    ref.eval(), ours.eval()
    x = torch.randn(shape, dtype=DTYPE)
    assert_close(ours(x), ref(x))
    back = ref_cls(5, dtype=DTYPE)
    back.load_state_dict(ours.state_dict())
    back.eval()
    assert_close(back(x), ref(x))
    assert int(ours.num_batches_tracked) == 3


def test_to_moves_buffers_and_parameters():
    layer = BatchNorm2d(3).to(torch.float64)
    assert layer.running_mean.dtype == torch.float64 and layer.weight.dtype == torch.float64
    assert layer.num_batches_tracked.dtype == torch.long
    assert layer(torch.randn(2, 3, 2, 2, dtype=torch.float64)).dtype == torch.float64


def test_constructor_defaults_match_torch():
    ours, ref = BatchNorm1d(6), nn.BatchNorm1d(6)
    for name in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert_close(ours.weight, ref.weight)
    assert_close(ours.bias, ref.bias)


# --- erreurs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,bad", [(BatchNorm1d, (2, 3, 4, 5)), (BatchNorm1d, (3,)), (BatchNorm2d, (2, 3)), (BatchNorm2d, (2, 3, 4))])
def test_wrong_rank_raises_in_french(cls, bad):
    with pytest.raises(ValueError, match="attend une entrée de forme"):
        cls(3)(torch.randn(bad))


def test_wrong_feature_count_raises():
    with pytest.raises(ValueError, match="4 caractéristiques"):
        BatchNorm1d(4)(torch.randn(8, 5))
    with pytest.raises(ValueError, match="2 caractéristiques"):
        BatchNorm2d(2)(torch.randn(8, 3, 2, 2))


@pytest.mark.parametrize("cls,shape", [(BatchNorm1d, (1, 4)), (BatchNorm1d, (1, 4, 1)), (BatchNorm2d, (1, 4, 1, 1))])
def test_one_value_per_channel_in_training_raises(cls, shape):
    layer = cls(4)
    with pytest.raises(ValueError, match="plus d'une valeur par caractéristique"):
        layer(torch.randn(shape))
    layer.eval()  # en évaluation, un seul exemple suffit
    assert layer(torch.randn(shape)).shape == shape


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm1d(0)
    with pytest.raises(TypeError, match="num_features"):
        BatchNorm1d(2.5)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm1d(3, eps=0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(TypeError, match="affine"):
        BatchNorm1d(3, affine="oui")


def test_functional_errors():
    with pytest.raises(ValueError, match="running_mean"):
        batch_norm(torch.randn(4, 3), torch.zeros(2), torch.ones(3))
    with pytest.raises(ValueError, match="running_mean"):
        batch_norm(torch.randn(4, 3), None, None, training=False)
    with pytest.raises(TypeError, match="tenseur"):
        batch_norm([[1.0, 2.0]], None, None, training=True)


# --- BN bruitée (Santurkar et al.) ---------------------------------------------------------------
def test_noisy_batchnorm_changes_distribution_only_in_training():
    g = torch.Generator().manual_seed(0)
    layer = NoisyBatchNorm1d(3, scale_std=0.5, shift_std=1.0, generator=g, dtype=DTYPE)
    x = torch.randn(64, 3, dtype=DTYPE)
    y1, y2 = layer(x), layer(x)
    assert not torch.allclose(y1.mean(0), y2.mean(0))  # un bruit différent à chaque lot
    assert y1.mean(0).abs().max() > 1e-3
    layer.eval()
    ref = BatchNorm1d(3, dtype=DTYPE)
    ref.load_state_dict(layer.state_dict())
    ref.eval()
    assert_close(layer(x), ref(x))


# --- float32 : rapidité sans perte de précision --------------------------------------------------
@pytest.mark.parametrize("cls,ref_cls,shape", [(BatchNorm1d, nn.BatchNorm1d, (64, 5)), (BatchNorm2d, nn.BatchNorm2d, (8, 3, 4, 4))])
def test_float32_large_mean_keeps_precision(cls, ref_cls, shape, same_as_reference):
    """Une moyenne 1000 fois plus grande que l'écart-type : la variance en une passe
    (Σx²/m − μ²) perdrait tous ses chiffres en float32 ; la nôtre centre d'abord, comme PyTorch."""
    ours, ref = cls(shape[1]), ref_cls(shape[1])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g) + 1000.0
    dy = torch.randn(shape, generator=g)
    # ∂L/∂γ n'est pas comparé à PyTorch ici : en float32, l'erreur de PyTorch lui-même y va de
    # 5 × 10⁻⁴ à 5 × 10⁻³ selon le nombre de fils. test_nn_ckernels.py le compare à float64.
    same_as_reference(ours, ref, x, dy, buffers=("running_var",), parameters=False, rtol=1e-3, atol=1e-3)


def test_backward_leaves_incoming_gradient_untouched():
    """La rétropropagation réutilise ses propres tampons, jamais le gradient qu'elle reçoit."""
    layer = BatchNorm1d(4, dtype=DTYPE)
    x = torch.randn(6, 4, dtype=DTYPE, requires_grad=True)
    dy = torch.randn(6, 4, dtype=DTYPE)
    dy_copy = dy.clone()
    layer(x).backward(dy)
    assert torch.equal(dy, dy_copy)


def test_statistics_shapes_follow_input_rank():
    """Statistiques (C,) pour une entrée (N, C), (1, C, 1) pour (N, C, L) : aucune vue inutile."""
    for shape in [(5, 3), (5, 3, 2)]:
        x = torch.randn(shape, dtype=DTYPE)
        w = torch.rand(3, dtype=DTYPE, requires_grad=True)
        b = torch.randn(3, dtype=DTYPE, requires_grad=True)
        rm, rv = torch.zeros(3, dtype=DTYPE), torch.ones(3, dtype=DTYPE)
        BatchNormFunction.apply(x, w, b, rm, rv, 0.1, 1e-5).sum().backward()
        assert w.grad.shape == (3,) and b.grad.shape == (3,) and rm.shape == (3,) and rv.shape == (3,)
        assert_close(rm, 0.1 * x.mean(dim=(0,) + tuple(range(2, x.ndim))))


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_algorithm_boxes_train_and_eval_match_torch_functional(shape):
    """Les deux encadrés du chapitre, `bn-algo-train` (batch_norm_train) et `bn-algo-eval`
    (batch_norm_inference), contre ``torch.nn.functional.batch_norm`` en float64."""
    from profond.nn.batchnorm import batch_norm_inference, batch_norm_train

    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 2 + 1
    w, b = torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    rm_ref, rv_ref = rm.clone(), rv.clone()
    y = batch_norm_train(x, w, b, rm, rv, 0.1, 1e-5)
    y_ref = torch.nn.functional.batch_norm(x, rm_ref, rv_ref, w, b, training=True, momentum=0.1, eps=1e-5)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(rm, rm_ref)
    torch.testing.assert_close(rv, rv_ref)
    y_eval = batch_norm_inference(x, rm, rv, w, b, 1e-5)
    torch.testing.assert_close(y_eval, torch.nn.functional.batch_norm(x, rm_ref, rv_ref, w, b, training=False, eps=1e-5))
