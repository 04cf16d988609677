"""Temps avant + arrière de nos BatchNorm1d/2d rapportés à ceux de PyTorch, mesurés dans la même
exécution (chapitre « Normalisation par lots »). Objectif : ≤ 1,5× sur CPU.

Usage : python benchmarks/bench_batchnorm.py [--repeats 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import timeit

import torch
from torch import nn

from profond.nn import BatchNorm1d, BatchNorm2d


def forward_backward_time(layer: nn.Module, x: torch.Tensor, repeats: int, rounds: int = 7) -> float:
    """Meilleur temps moyen (en secondes) d'un passage avant + arrière, sur ``rounds`` séries."""
    dy = torch.randn_like(x)

    def step():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).backward(dy)

    for _ in range(10):  # échauffement
        step()
    return min(timeit.repeat(step, number=repeats, repeat=rounds)) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [
        ("BatchNorm1d", (256, 512), BatchNorm1d, nn.BatchNorm1d),
        ("BatchNorm2d", (64, 32, 16, 16), BatchNorm2d, nn.BatchNorm2d),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.repeats} répétitions")
    for name, shape, ours_cls, ref_cls in cases:
        x = torch.randn(shape, requires_grad=True)
        ours, ref = ours_cls(shape[1]), ref_cls(shape[1])
        # Mesures entrelacées (nous, PyTorch, nous, PyTorch) pour partager les aléas de la machine.
        t_ours, t_ref = [], []
        for _ in range(3):
            t_ours.append(forward_backward_time(ours, x, args.repeats))
            t_ref.append(forward_backward_time(ref, x, args.repeats))
        a, b = min(t_ours), min(t_ref)
        print(f"{name} {shape} : nous {a * 1e6:8.1f} µs, PyTorch {b * 1e6:8.1f} µs, rapport {a / b:.2f}×")


if __name__ == "__main__":
    main()
