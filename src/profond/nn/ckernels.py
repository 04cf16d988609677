"""Normalisations compilées : les noyaux C de ``ckernels.c``, appelés depuis PyTorch.

Chapitre « Normalisation par lots » (`chap-normalisation`, section `bn-sec-vitesse`). Les couches
:class:`~profond.nn.BatchNorm1d`, :class:`~profond.nn.BatchNorm2d` et :class:`~profond.nn.LayerNorm`
passent par :class:`CBatchNormFunction` et :class:`CLayerNormFunction` : les équations du chapitre
écrites en C, deux ou trois lectures du lot par sens, comme les noyaux de PyTorch. Les versions
Python (:mod:`profond.nn.batchnorm`, équation par équation, et :mod:`profond.nn.fused`) calculent
les mêmes quantités ; les tests le vérifient en double précision.

Le fichier C est compilé à la première utilisation par le compilateur C de la machine (``$CC``,
sinon le premier trouvé parmi celui de Python, ``cc``, ``gcc``, ``clang``), en une seconde environ,
puis gardé dans ``$PROFOND_CACHE`` (par défaut ``~/.cache/profond``) sous un nom qui dépend de son
contenu et des options : une modification du fichier le fait recompiler. Les options fixent
l'arithmétique (``-ffp-contract=off``, pas de ``-ffast-math``) : mêmes nombres sur toute machine.

Sans compilateur (ou avec ``PROFOND_NOYAUX_C=0``), les couches reviennent aux versions Python de
:mod:`profond.nn.fused`, plus lentes ; un avertissement le dit une fois (sauf avec
``PROFOND_NOYAUX_C=0``, choix explicite). Les résultats sont les mêmes aux arrondis près, mais un
entraînement amplifie ces écarts : les nombres du chapitre 3 peuvent alors différer de ceux du site
dans les derniers chiffres.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import warnings
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

__all__ = ["CBatchNormFunction", "CLayerNormFunction", "available", "compile_library", "disabled", "supports"]

SOURCE = Path(__file__).with_name("ckernels.c")
FLAGS = ("-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared")
DTYPES = {torch.float32: "f32", torch.float64: "f64"}
NAMES = ("bn_forward", "bn_backward", "ln_forward", "ln_backward")

_loaded = False  # compilation et chargement tentés ?
_kernels_by_dtype: dict[torch.dtype, dict[str, ctypes._CFuncPtr]] = {}  # vide si indisponibles
_reason: str | None = None  # pourquoi ils sont indisponibles
_enabled = True  # faux dans un bloc « with disabled() »


def _compiler() -> list[str]:
    """La commande du compilateur C : ``$CC`` s'il est défini, sinon le premier trouvé parmi celui
    qui a construit Python, ``cc``, ``gcc`` et ``clang`` (``cc`` si aucun : l'erreur le dira)."""
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])[:1]
    candidates = shlex.split(sysconfig.get_config_var("CC") or "")[:1] + ["cc", "gcc", "clang"]
    return [next((c for c in candidates if shutil.which(c)), "cc")]  # sans les options de Python


def _cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "profond"
    return Path(os.environ.get("PROFOND_CACHE") or default)


def compile_library(source: Path = SOURCE, cache: Path | None = None, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile ``source`` en bibliothèque partagée (si ce n'est déjà fait) et renvoie son chemin.

    Le nom du fichier contient l'empreinte du source, des options et du compilateur : deux
    versions ne se mélangent jamais. La compilation écrit dans un fichier temporaire, renommé à la
    fin : plusieurs processus (les noyaux Jupyter d'une construction) peuvent compiler en même
    temps sans se gêner.
    """
    command = [*_compiler(), *FLAGS, *extra_flags]
    digest = hashlib.sha256(source.read_bytes() + " ".join(command).encode()).hexdigest()[:16]
    cache = _cache_dir() if cache is None else cache
    target = cache / f"ckernels-{digest}{sysconfig.get_config_var('SHLIB_SUFFIX') or '.so'}"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=target.suffix)
    os.close(fd)
    try:
        subprocess.run([*command, "-o", tmp, str(source.resolve()), "-lm"],
                       check=True, capture_output=True, text=True, timeout=120)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def load_kernels(path: Path) -> dict[torch.dtype, dict[str, ctypes._CFuncPtr]]:
    """Charge la bibliothèque ``path`` et déclare ses fonctions : pour chaque type (float32,
    float64), les quatre noyaux, avec les types de leurs arguments (adresses, tailles, réels)."""
    lib = ctypes.CDLL(str(path))
    ptr, size, real = ctypes.c_void_p, ctypes.c_long, ctypes.c_double
    argtypes = {
        "bn_forward": [ptr] * 8 + [size, size, size, real, real],
        "bn_backward": [ptr] * 8 + [size, size, size],
        "ln_forward": [ptr] * 6 + [size, size, real],
        "ln_backward": [ptr] * 8 + [size, size],
    }
    kernels: dict[torch.dtype, dict[str, ctypes._CFuncPtr]] = {}
    for dtype, suffix in DTYPES.items():
        kernels[dtype] = {}
        for name in NAMES:
            function = getattr(lib, f"{name}_{suffix}")
            function.argtypes, function.restype = argtypes[name], ctypes.c_int
            kernels[dtype][name] = function
    return kernels


def _load() -> None:
    """Compile et charge les noyaux, une fois par processus ; sinon note pourquoi, et avertit."""
    global _loaded, _kernels_by_dtype, _reason
    _loaded = True
    if os.environ.get("PROFOND_NOYAUX_C", "1") == "0":
        _reason = "désactivés par PROFOND_NOYAUX_C=0"
        return
    try:
        _kernels_by_dtype = load_kernels(compile_library())
    except (OSError, subprocess.SubprocessError, AttributeError) as error:
        detail = (getattr(error, "stderr", None) or str(error) or repr(error)).strip().splitlines()
        _reason = f"compilation de {SOURCE.name} impossible : {detail[-1] if detail else repr(error)}"
        warnings.warn(
            f"profond : noyaux C indisponibles ({_reason}). Les normalisations passent par la "
            "version Python (mêmes équations, plus lente) ; certains nombres du chapitre 3 "
            "peuvent différer de ceux du site dans les derniers chiffres.",
            RuntimeWarning, stacklevel=4,
        )


def available() -> bool:
    """Vrai si les noyaux C sont compilés et chargés (la première fois, les compile)."""
    if not _loaded:
        _load()
    return bool(_kernels_by_dtype)


def unavailable_reason() -> str | None:
    """Pourquoi les noyaux C sont indisponibles (``None`` s'ils sont là ou pas encore demandés)."""
    return _reason


@contextlib.contextmanager
def disabled():
    """Bloc où les couches prennent la version Python (:mod:`profond.nn.fused`) : pour comparer
    les deux, par exemple la vitesse dans le chapitre, ou tester la version Python."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def supports(x: torch.Tensor, *params: torch.Tensor | None) -> bool:
    """Vrai si les noyaux C traitent ``x`` et ces paramètres : tenseurs CPU de type float32 ou
    float64 (tous le même), noyaux disponibles et non désactivés, pas de compilation par
    ``torch.compile`` en cours (les noyaux lisent la mémoire des tenseurs, qu'un traçage n'a pas).
    Sinon les couches prennent la version Python. Appelée à chaque passage : elle reste courte."""
    dtype = x.dtype
    if not _enabled or dtype not in DTYPES or not x.is_cpu or torch.compiler.is_compiling():
        return False
    for p in params:
        if p is not None and (p.dtype != dtype or not p.is_cpu):
            return False
    return bool(_kernels_by_dtype) if _loaded else available()


def _kernels(dtype: torch.dtype) -> dict:
    """Les quatre noyaux pour ce type : ``{"bn_forward": ..., ...}`` (compilés s'il le faut)."""
    if dtype not in _kernels_by_dtype and not available():
        raise RuntimeError(f"profond : noyaux C indisponibles ({_reason}).")
    if dtype not in DTYPES:
        raise TypeError(f"Les noyaux C traitent float32 et float64, reçu {dtype}.")
    return _kernels_by_dtype[dtype]


def _check(status: int) -> None:
    if status != 0:
        raise MemoryError("profond : mémoire insuffisante pour les tampons du noyau de normalisation.")


class _CNormFunction(torch.autograd.Function):
    """Base commune : ce qu'on garde pour le retour, les tampons des gradients, et le retour
    lui-même, qui appelle ``_gradients`` (les noyaux C, sans opération suivie par
    l'autodifférentiation). Ce retour n'est pas lui-même dérivable : si l'on demande une dérivée
    seconde (``create_graph=True``), il passe par ``once_differentiable``, qui le signale au second
    passage. Sinon (le cas courant), on s'épargne ce détour, qui coûte autant qu'une opération."""

    @staticmethod
    def _save(ctx, x: torch.Tensor, w: torch.Tensor, stats: torch.Tensor) -> None:
        ctx.save_for_backward(x, w)
        ctx.stats = stats  # calculé ici : pas besoin du suivi des versions de save_for_backward

    @staticmethod
    def _buffers(ctx, dy: torch.Tensor, input_grad: bool):
        """x, γ, ∂L/∂y contigu, l'adresse des statistiques, et les tampons de ∂L/∂x (ou ``None``),
        ∂L/∂γ et ∂L/∂β."""
        x, w = ctx.saved_tensors
        dx = torch.empty_like(x) if input_grad else None
        return x, w, dy.contiguous(), ctx.stats.data_ptr(), dx, torch.empty_like(w), torch.empty_like(w)

    @staticmethod
    def _wanted(ctx, dx, dweight, dbias, others: int) -> tuple:
        """Les gradients demandés par autograd (``None`` pour les autres), puis ``others`` fois ``None``."""
        needs = ctx.needs_input_grad
        return (dx if needs[0] else None, dweight if needs[1] else None, dbias if needs[2] else None) + (None,) * others

    @staticmethod
    def _gradients(ctx, dy):
        raise NotImplementedError

    @classmethod
    def backward(cls, ctx, dy):
        if torch.is_grad_enabled():
            return once_differentiable(cls._gradients)(ctx, dy)
        return cls._gradients(ctx, dy)


class CBatchNormFunction(_CNormFunction):
    r"""Normalisation par lots en entraînement, par le noyau C : mêmes arguments et mêmes résultats
    que :class:`~profond.nn.batchnorm.BatchNormFunction` (équations `bn-eq-mean` à
    `bn-eq-grad-x`, et `bn-eq-running`, `bn-eq-unbiased` si ``running_mean`` est donné).

    ``apply(x, weight, bias, running_mean, running_var, momentum, eps)`` ; ``x`` de forme (N, C) ou
    (N, C, ...), vue en (N, C, S). Aller : deux lectures de x pour μ puis σ² (on centre avant
    d'élever au carré), une lecture et une écriture pour y. Retour : une lecture de ∂L/∂y et de x
    pour les deux sommes, une autre pour ∂L/∂x.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        x = x.contiguous()
        n, c = x.shape[0], x.shape[1]
        w = weight.contiguous() if weight is not None else x.new_ones(c)
        b = bias.contiguous() if bias is not None else x.new_zeros(c)
        y = torch.empty_like(x)
        stats = x.new_empty(2 * c)  # μ puis 1/√(σ² + ε)
        p = stats.data_ptr()
        track = running_mean is not None and running_var is not None
        _check(_kernels(x.dtype)["bn_forward"](
            x.data_ptr(), w.data_ptr(), b.data_ptr(), y.data_ptr(), p, p + c * x.element_size(),
            running_mean.data_ptr() if track else None, running_var.data_ptr() if track else None,
            n, c, x.numel() // (n * c), eps, momentum,
        ))
        _CNormFunction._save(ctx, x, w, stats)
        return y

    @staticmethod
    def _gradients(ctx, dy):
        x, w, dy, p, dx, dweight, dbias = _CNormFunction._buffers(ctx, dy, ctx.needs_input_grad[0])
        n, c = x.shape[0], x.shape[1]
        _check(_kernels(x.dtype)["bn_backward"](
            dy.data_ptr(), x.data_ptr(), p, p + c * x.element_size(), w.data_ptr(),
            None if dx is None else dx.data_ptr(), dweight.data_ptr(), dbias.data_ptr(), n, c, x.numel() // (n * c),
        ))
        return _CNormFunction._wanted(ctx, dx, dweight, dbias, 4)


class CLayerNormFunction(_CNormFunction):
    r"""Normalisation par couche, par le noyau C : mêmes arguments et mêmes résultats que
    :class:`~profond.nn.layernorm.LayerNormFunction` (``apply(x, weight, bias, k, eps)`` normalise
    ``x`` sur ses ``k`` dernières dimensions ; équations `bn-eq-mean` à `bn-eq-scale-shift` par
    exemple, puis `bn-eq-ln-grad-x`). Une lecture de chaque ligne depuis la mémoire par sens."""

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        x = x.contiguous()
        if weight is None or bias is None:
            shape = x.shape[x.ndim - k:]
            weight = x.new_ones(shape) if weight is None else weight
            bias = x.new_zeros(shape) if bias is None else bias
        w, b = weight.contiguous(), bias.contiguous()
        d = w.numel()
        n = x.numel() // d
        y = torch.empty_like(x)
        stats = x.new_empty(2 * n)  # μ puis 1/√(σ² + ε), par ligne
        p = stats.data_ptr()
        _check(_kernels(x.dtype)["ln_forward"](
            x.data_ptr(), w.data_ptr(), b.data_ptr(), y.data_ptr(), p, p + n * x.element_size(), n, d, eps,
        ))
        _CNormFunction._save(ctx, x, w, stats)
        return y

    @staticmethod
    def _gradients(ctx, dy):
        x, w, dy, p, dx, dweight, dbias = _CNormFunction._buffers(ctx, dy, True)  # ∂L/∂x toujours calculé
        d = w.numel()
        n = x.numel() // d
        _check(_kernels(x.dtype)["ln_backward"](
            dy.data_ptr(), x.data_ptr(), p, p + n * x.element_size(), w.data_ptr(), dx.data_ptr(),
            dweight.data_ptr(), dbias.data_ptr(), n, d,
        ))
        return _CNormFunction._wanted(ctx, dx, dweight, dbias, 2)
