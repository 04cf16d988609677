"""Tests de profond.nn.ckernels : les couches utilisent les noyaux C et donnent les nombres de
PyTorch, les deux versions de chaque noyau (AVX2 et de base) donnent les mêmes bits, la
bibliothèque compilée est gardée selon son contenu, et sans compilateur les couches reviennent à
la version Python, en le disant. L'égalité avec les versions du chapitre, en float64, est testée
avec celle de la version Python, dans ``test_nn_fused.py``."""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond.nn import BatchNorm1d, BatchNorm2d, LayerNorm, ckernels

DTYPE = torch.float64

# Sans compilateur, on saute ; avec un compilateur, les noyaux doivent se compiler (sinon échec).
pytestmark = pytest.mark.skipif(shutil.which(ckernels._compiler()[0]) is None, reason="pas de compilateur C sur cette machine")


def test_kernels_compile_where_a_compiler_exists():
    assert ckernels.available(), ckernels.unavailable_reason()


def test_float32_layers_match_torch():
    """En simple précision, à la tolérance de float32, sur les trois formes du banc d'essai."""
    torch.manual_seed(1)
    for ours, ref, shape in ((BatchNorm1d(64), nn.BatchNorm1d(64), (32, 64)), (BatchNorm2d(8), nn.BatchNorm2d(8), (4, 8, 5, 5)),
                             (LayerNorm(64), nn.LayerNorm(64), (32, 64))):
        x = (torch.randn(shape) * 3 + 5).requires_grad_()
        dy = torch.randn(shape)
        y, y_ref = ours(x), ref(x)
        assert type(y.grad_fn).__name__.startswith("C")
        assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
        assert_close(torch.autograd.grad(y, x, dy)[0], torch.autograd.grad(y_ref, x, dy)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls,ref_cls,shape", [(BatchNorm1d, nn.BatchNorm1d, (64, 5)), (BatchNorm1d, nn.BatchNorm1d, (255, 512)),
                                               (BatchNorm2d, nn.BatchNorm2d, (15, 8, 8, 8))])
def test_float32_batch_sums_are_made_in_double(cls, ref_cls, shape):
    """Moyenne 1 000 fois l'écart-type, en float32 : μ est le float32 le plus proche de la vraie
    moyenne (les sommes par canal sont faites en double), et l'erreur sur ∂L/∂γ et ∂L/∂β ne dépasse
    pas celle de PyTorch (à 10 % près), quel que soit son nombre de fils (vérifié de 1 à 16). Ajoutées
    en float, ligne après ligne, elles donnaient un μ faux de 1 à 12 unités du dernier chiffre et
    une erreur de 6 à 14 fois plus grande sur ∂L/∂γ, selon la forme."""
    g = torch.Generator().manual_seed(0)
    x, dy = torch.randn(shape, generator=g) + 1000.0, torch.randn(shape, generator=g)
    exact = ref_cls(shape[1], dtype=DTYPE)  # la référence : les mêmes valeurs, calculées en float64
    exact(x.double()).backward(dy.double())
    errors = {}
    for name, layer in (("nous", cls(shape[1], momentum=1.0)), ("PyTorch", ref_cls(shape[1], momentum=1.0))):
        layer(x).backward(dy)
        errors[name] = torch.stack([(p.grad.double() - q.grad).abs().max() for p, q in zip(layer.parameters(), exact.parameters())])
        if name == "nous":
            dims = [0] + list(range(2, x.ndim))
            assert torch.equal(layer.running_mean, x.double().mean(dims).float())
    assert (errors["nous"] <= 1.1 * errors["PyTorch"] + 1e-6).all(), errors


def test_other_dtypes_devices_and_disabled_take_the_python_path():
    x = torch.randn(6, 3, dtype=torch.bfloat16, requires_grad=True)
    assert type(BatchNorm1d(3, dtype=torch.bfloat16)(x).grad_fn).__name__.startswith("Fused")
    assert not ckernels.supports(torch.randn(2, 3), torch.ones(3, dtype=DTYPE))  # types mélangés
    assert ckernels.supports(torch.randn(2, 3), torch.ones(3), None)
    with ckernels.disabled():
        assert not ckernels.supports(torch.randn(2, 3))
        assert type(LayerNorm(3)(torch.randn(2, 3, requires_grad=True)).grad_fn).__name__.startswith("Fused")
    assert ckernels.supports(torch.randn(2, 3))


def _run_kernels(kernels, seed: int = 0) -> list[torch.Tensor]:
    """Appelle les quatre noyaux float32 sur des données fixes ; renvoie toutes leurs sorties."""
    g = torch.Generator().manual_seed(seed)
    n, c, s = 9, 5, 13
    x, dy = torch.randn(n, c, s, generator=g) * 3 + 1, torch.randn(n, c, s, generator=g)
    w, b = torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g)
    y, dx = torch.empty_like(x), torch.empty_like(x)
    stats, grads, running = torch.empty(2, c), torch.empty(2, c), torch.ones(2, c)
    f32 = kernels[torch.float32]
    f32["bn_forward"](x.data_ptr(), w.data_ptr(), b.data_ptr(), y.data_ptr(), stats[0].data_ptr(), stats[1].data_ptr(),
                      running[0].data_ptr(), running[1].data_ptr(), n, c, s, 1e-5, 0.1)
    f32["bn_backward"](dy.data_ptr(), x.data_ptr(), stats[0].data_ptr(), stats[1].data_ptr(), w.data_ptr(),
                       dx.data_ptr(), grads[0].data_ptr(), grads[1].data_ptr(), n, c, s)
    out = [y.clone(), dx.clone(), stats.clone(), grads.clone(), running.clone()]
    d = c * s
    lw, lb = torch.rand(d, generator=g) + 0.5, torch.randn(d, generator=g)
    rows = torch.empty(2, n)
    f32["ln_forward"](x.data_ptr(), lw.data_ptr(), lb.data_ptr(), y.data_ptr(), rows[0].data_ptr(), rows[1].data_ptr(), n, d, 1e-5)
    lgrads = torch.empty(2, d)
    f32["ln_backward"](dy.data_ptr(), x.data_ptr(), rows[0].data_ptr(), rows[1].data_ptr(), lw.data_ptr(), dx.data_ptr(),
                       lgrads[0].data_ptr(), lgrads[1].data_ptr(), n, d)
    return out + [y, dx, rows, lgrads]


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.machine() != "x86_64",
                    reason="versions AVX2 et de base : Linux x86-64 seulement")
def test_avx2_and_baseline_versions_give_the_same_bits(tmp_path):
    """Mêmes nombres quel que soit le processeur : la bibliothèque compilée sans les deux versions
    (-DPROFOND_SANS_CLONES, instructions de base seulement) donne exactement les mêmes bits que
    celle du cours, qui prend la version AVX2 sur ce processeur s'il la connaît."""
    baseline = ckernels.load_kernels(ckernels.compile_library(cache=tmp_path, extra_flags=("-DPROFOND_SANS_CLONES",)))
    course = ckernels.load_kernels(ckernels.compile_library())
    for seed in range(3):
        for a, b in zip(_run_kernels(course, seed), _run_kernels(baseline, seed)):
            assert torch.equal(a, b)


def test_compile_library_is_cached_by_content(tmp_path):
    source = tmp_path / "k.c"
    source.write_text("int f(void) { return 1; }\n", encoding="utf-8")
    first = ckernels.compile_library(source, cache=tmp_path / "cache")
    stamp = first.stat().st_mtime_ns
    assert ckernels.compile_library(source, cache=tmp_path / "cache") == first
    assert first.stat().st_mtime_ns == stamp  # pas recompilée
    source.write_text("int f(void) { return 2; }\n", encoding="utf-8")
    second = ckernels.compile_library(source, cache=tmp_path / "cache")
    assert second != first and ctypes.CDLL(str(second)).f() == 2
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([first.name, second.name])


def _in_subprocess(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "default", "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


FALLBACK = """
    import torch
    from profond.nn import BatchNorm1d, ckernels
    y = BatchNorm1d(3)(torch.randn(5, 3, requires_grad=True))
    y = BatchNorm1d(3)(torch.randn(5, 3, requires_grad=True))
    print(type(y.grad_fn).__name__, "|", ckernels.unavailable_reason())
"""


def test_without_compiler_layers_fall_back_with_one_warning(tmp_path):
    result = _in_subprocess(FALLBACK, CC=str(tmp_path / "pas-de-compilateur"), PROFOND_CACHE=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("FusedBatchNormFunctionBackward | compilation de ckernels.c impossible")
    assert result.stderr.count("RuntimeWarning") == 1 and "noyaux C indisponibles" in result.stderr


def test_profond_noyaux_c_0_disables_them_silently(tmp_path):
    result = _in_subprocess(FALLBACK, PROFOND_NOYAUX_C="0", PROFOND_CACHE=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "FusedBatchNormFunctionBackward | désactivés par PROFOND_NOYAUX_C=0"
    assert "Warning" not in result.stderr
    assert not list(tmp_path.iterdir())  # rien compilé
