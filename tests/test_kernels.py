"""Les mêmes noyaux de calcul partout (profond.kernels) : c'est ce qui rend les nombres du cours
identiques d'un processeur x86-64 à l'autre."""

import subprocess
import sys

import pytest
import torch

from profond.kernels import PINNED_KERNELS, pin_cpu_kernels


def test_pin_keeps_explicit_settings_and_fills_the_rest():
    env = {"ONEDNN_MAX_CPU_ISA": "SSE41"}
    assert pin_cpu_kernels(env) == {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "SSE41"}
    assert env["ONEDNN_MAX_CPU_ISA"] == "SSE41" and set(env) == set(PINNED_KERNELS)


def _capability(code: str, **env) -> str:
    clean = {k: v for k, v in __import__("os").environ.items() if k not in PINNED_KERNELS}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean | env)
    return out.stdout.strip()


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in {"AVX2", "AVX512"}, reason="processeur sans AVX2")
def test_import_profond_pins_torch_kernels_even_after_import_torch():
    # import torch d'abord, comme dans un notebook : aucune opération n'a encore choisi ses noyaux
    assert _capability("import torch, profond; print(torch.backends.cpu.get_cpu_capability())") == "AVX2"
    # un réglage explicite de l'utilisateur l'emporte
    forced = _capability("import torch, profond; print(torch.backends.cpu.get_cpu_capability())", ATEN_CPU_CAPABILITY="default")
    assert forced == "DEFAULT"
