"""Temps avant + arrière de nos BatchNorm1d, BatchNorm2d et LayerNorm rapportés à ceux de PyTorch,
mesurés dans la même exécution (chapitre « Normalisation par lots »). Objectif : ≤ 1,25×.

Les mesures sont entrelacées (nous, PyTorch, PyTorch, nous, ...) : chaque tour mesure les deux
couches l'une après l'autre, sur ``--number`` passages chacune, et donne un rapport ; le tableau
donne la médiane des temps, la médiane des rapports et leur écart interquartile (Q1–Q3). Par défaut
on mesure le temps CPU du processus (``time.process_time``), moins sensible que le temps écoulé aux
autres programmes de la machine ; ``--clock wall`` mesure le temps écoulé. La dernière colonne
rapporte les premiers déciles (D1) des temps, les mesures les moins dérangées par les autres
programmes : sur une machine chargée, avec ``--number 1 --rounds 1001``, ce rapport ne bouge plus
que de quelques centièmes d'une exécution à l'autre, quand la médiane peut varier de 0,3.

Nos couches passent par les noyaux C de :mod:`profond.nn.ckernels` (les équations du chapitre,
deux ou trois lectures du lot par sens, comme PyTorch) ; ce qui reste de l'écart est le coût fixe de
Python autour de chaque appel (``torch.autograd.Function``, ctypes). ``--python`` mesure à la place
la version Python de :mod:`profond.nn.fused`, celle des machines sans compilateur C : une dizaine
d'opérations de PyTorch par sens, qui relisent chacune tout le lot. ``--scale 8`` multiplie la
taille du lot et montre le rapport quand le coût fixe pèse moins. L'en-tête donne la charge moyenne
de la machine (``os.getloadavg``) : quand d'autres programmes se partagent les cœurs et leurs
caches, le rapport bouge.

Usage : python benchmarks/bench_batchnorm.py [--rounds 41] [--number 10] [--threads 1] [--clock cpu]
        [--scale 1] [--python]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
from torch import nn

from profond.nn import BatchNorm1d, BatchNorm2d, LayerNorm, ckernels

CASES = [
    # nom, forme de l'entrée, notre couche, celle de PyTorch (mêmes arguments)
    ("BatchNorm1d", (256, 512), lambda: BatchNorm1d(512), lambda: nn.BatchNorm1d(512)),
    ("BatchNorm1d", (512, 256), lambda: BatchNorm1d(256), lambda: nn.BatchNorm1d(256)),  # celui du chapitre
    ("BatchNorm2d", (64, 32, 16, 16), lambda: BatchNorm2d(32), lambda: nn.BatchNorm2d(32)),
    ("LayerNorm", (256, 512), lambda: LayerNorm(512), lambda: nn.LayerNorm(512)),
]
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def forward_backward_step(layer: nn.Module, x: torch.Tensor, dy: torch.Tensor):
    """Un passage avant + arrière d'entraînement (gradients remis à zéro), prêt à être chronométré."""

    def step() -> None:
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).backward(dy)

    return step


def interleaved_times(step_a, step_b, rounds: int, number: int, clock=time.process_time, warmup: int = 10):
    """Temps moyens par passage (en secondes) de ``step_a`` et ``step_b``, ``rounds`` mesures de
    ``number`` passages chacune, entrelacées : a puis b aux tours pairs, b puis a aux tours impairs."""
    for _ in range(warmup):
        step_a()
        step_b()
    times_a, times_b = [], []
    for r in range(rounds):
        pairs = ((step_a, times_a), (step_b, times_b))
        for step, times in pairs if r % 2 == 0 else pairs[::-1]:
            start = clock()
            for _ in range(number):
                step()
            times.append((clock() - start) / number)
    return times_a, times_b


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """Premier quartile, médiane et troisième quartile."""
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def first_decile(values: list[float]) -> float:
    """Premier décile : 10 % des mesures sont plus rapides."""
    return statistics.quantiles(values, n=10, method="inclusive")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=41, help="nombre de mesures entrelacées (41)")
    parser.add_argument("--number", type=int, default=10, help="passages par mesure (10)")
    parser.add_argument("--threads", type=int, default=1, help="fils de calcul de PyTorch (1)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="temps CPU ou écoulé (cpu)")
    parser.add_argument("--scale", type=int, default=1, help="multiplie la taille du lot N (1)")
    parser.add_argument("--python", action="store_true", help="version Python (profond.nn.fused), sans les noyaux C")
    args = parser.parse_args()
    if args.rounds < 4 or args.number < 1 or args.scale < 1:
        parser.error("il faut --rounds ≥ 4, --number ≥ 1 et --scale ≥ 1.")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.python:
        ours = "version Python (profond.nn.fused)"
    elif ckernels.available():
        ours = "noyaux C (profond.nn.ckernels)"
    else:
        ours = f"version Python (profond.nn.fused), faute de noyaux C : {ckernels.unavailable_reason()}"
    print(f"nous : {ours}")
    print(
        f"torch {torch.__version__} (noyaux {torch.backends.cpu.get_cpu_capability()}, profond.kernels), float32, "
        f"{torch.get_num_threads()} fil(s), temps {args.clock}, "
        f"{args.rounds} mesures × {args.number} passages, charge moyenne {os.getloadavg()[0]:.1f} "
        f"pour {os.cpu_count()} cœurs"
    )
    print(f"{'couche':<12} {'entrée':<18} {'nous (µs)':>10} {'PyTorch (µs)':>13} {'rapport':>8}  {'Q1–Q3':<10} D1/D1")
    with ckernels.disabled() if args.python else contextlib.nullcontext():
        measure(args)


def measure(args) -> None:
    """Une ligne du tableau par cas de ``CASES``."""
    for name, shape, make_ours, make_ref in CASES:
        shape = (shape[0] * args.scale,) + shape[1:]
        x = torch.randn(shape, requires_grad=True)
        dy = torch.randn(shape)
        ours, ref = make_ours(), make_ref()
        t_ours, t_ref = interleaved_times(
            forward_backward_step(ours, x, dy), forward_backward_step(ref, x, dy),
            args.rounds, args.number, CLOCKS[args.clock],
        )
        q1, ratio, q3 = quartiles([a / b for a, b in zip(t_ours, t_ref)])
        low = first_decile(t_ours) / first_decile(t_ref)
        print(
            f"{name:<12} {str(shape):<18} {statistics.median(t_ours) * 1e6:10.1f} "
            f"{statistics.median(t_ref) * 1e6:13.1f} {ratio:7.2f}×  {q1:.2f}–{q3:.2f}  {low:.2f}×"
        )


if __name__ == "__main__":
    main()
