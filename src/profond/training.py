"""La fonction d'entraînement standard du cours (partie 1, section « La boucle d'entraînement », `sec-boucle-entrainement`).

Toutes les parties qui entraînent un modèle supervisé passent par :func:`fit`. Elle est bornée (un
nombre d'époques), renvoie un :class:`History`, accepte des rappels (*callbacks*), et sait
reprendre un entraînement depuis un point de sauvegarde.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from profond.utils import check_positive, check_positive_int

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Taux de bonnes classifications : ``output`` (N, C) de scores, ``target`` (N,) d'indices."""
    if output.ndim != 2 or target.ndim != 1 or output.shape[0] != target.shape[0]:
        raise ValueError(
            "`output` doit être de forme (N, C) et `target` de forme (N,), reçu "
            f"{tuple(output.shape)} et {tuple(target.shape)}."
        )
    return (output.argmax(dim=1) == target).float().mean().item()


@dataclass
class History:
    """Ce qu'un entraînement a mesuré, une entrée par époque (et une par lot pour ``batch_loss``).

    ``metrics`` associe à chaque nom (par exemple ``"val_accuracy"``) la liste de ses valeurs par
    époque. ``epoch`` commence à 1.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    batch_loss: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "epoch": list(self.epoch),
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "lr": list(self.lr),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "batch_loss": list(self.batch_loss),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "History":
        return cls(
            epoch=list(d["epoch"]),
            train_loss=list(d["train_loss"]),
            val_loss=list(d["val_loss"]),
            lr=list(d["lr"]),
            metrics={k: list(v) for k, v in d["metrics"].items()},
            batch_loss=list(d["batch_loss"]),
        )


class Callback:
    """Rappel appelé pendant :func:`fit`. Surcharger les méthodes utiles.

    ``on_epoch_end`` peut renvoyer ``True`` pour arrêter l'entraînement (arrêt précoce).
    """

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:  # pragma: no cover
        pass

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> bool | None:
        pass


class _EpochFunction(Callback):
    def __init__(self, fn: Callable[[int, nn.Module, History], bool | None]):
        self.fn = fn

    def on_epoch_end(self, epoch, model, history):
        return self.fn(epoch, model, history)


def default_device() -> torch.device:
    """Le GPU s'il y en a un, sinon le CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _rng_state(train_loader) -> dict:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    gen = getattr(train_loader, "generator", None)
    if gen is not None:
        state["loader"] = gen.get_state()
    sampler_gen = getattr(getattr(train_loader, "sampler", None), "generator", None)
    if sampler_gen is not None:
        state["sampler"] = sampler_gen.get_state()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(train_loader, state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "loader" in state and getattr(train_loader, "generator", None) is not None:
        train_loader.generator.set_state(state["loader"])
    sampler_gen = getattr(getattr(train_loader, "sampler", None), "generator", None)
    if "sampler" in state and sampler_gen is not None:
        sampler_gen.set_state(state["sampler"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, model, optimizer, scheduler, history: History, epoch: int, train_loader=None) -> None:
    """Sauvegarde tout ce qu'il faut pour reprendre exactement : poids, optimiseur, ordonnanceur,
    historique, époque atteinte et états des générateurs aléatoires."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "history": history.as_dict(),
            "epoch": epoch,
            "rng": _rng_state(train_loader),
        },
        path,
    )


def evaluate(model: nn.Module, loss: nn.Module, loader, metrics: Mapping[str, Metric] | None = None, device=None) -> dict[str, float]:
    """Perte moyenne (pondérée par la taille des lots) et métriques de ``model`` sur ``loader``."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    sums = {name: 0.0 for name in (metrics or {})}
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            b = x.shape[0]
            total += loss(out, y).item() * b
            for name, fn in (metrics or {}).items():
                sums[name] += fn(out, y) * b
            n += b
    model.train(was_training)
    if n == 0:
        raise ValueError("`loader` est vide : impossible d'évaluer le modèle.")
    return {"loss": total / n, **{name: s / n for name, s in sums.items()}}


def fit(
    model: nn.Module,
    loss: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    epochs: int = 10,
    scheduler=None,
    callbacks: Iterable[Callback | Callable] = (),
    device: str | torch.device | None = None,
    metrics: Mapping[str, Metric] | None = None,
    grad_clip: float | None = None,
    log_dir: str | Path | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    scheduler_step: str = "epoch",
    progress: bool = True,
) -> History:
    """Entraîne ``model`` pendant ``epochs`` époques et renvoie l'historique.

    Paramètres principaux :

    - ``loss`` : la fonction de coût, appelée ``loss(model(x), y)`` ;
    - ``scheduler`` : un ordonnanceur de taux d'apprentissage, appelé après chaque lot
      (``scheduler_step="batch"``, par exemple ``OneCycleLR``) ou chaque époque (``"epoch"``) ;
    - ``callbacks`` : objets :class:`Callback` ou fonctions ``f(epoch, model, history)`` appelées en
      fin d'époque ; renvoyer ``True`` arrête l'entraînement ;
    - ``metrics`` : ``{"accuracy": accuracy}`` ; chaque métrique est calculée sur ``val_loader``
      (clé ``"val_<nom>"``) ;
    - ``grad_clip`` : norme maximale du gradient (``clip_grad_norm_``), ``None`` pour ne rien couper ;
    - ``log_dir`` : dossier des journaux TensorBoard (``SummaryWriter``), ``None`` pour aucun ;
    - ``checkpoint_path`` : fichier de sauvegarde écrit à chaque fin d'époque ; avec
      ``resume=True``, l'entraînement reprend depuis ce fichier s'il existe.
    """
    epochs = check_positive_int("epochs", epochs)
    if grad_clip is not None:
        check_positive("grad_clip", grad_clip, strict=True)
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"`scheduler_step` doit valoir 'epoch' ou 'batch', reçu {scheduler_step!r}.")
    if resume and checkpoint_path is None:
        raise ValueError("`resume=True` demande un `checkpoint_path`.")
    try:
        n_batches = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        n_batches = None
    if n_batches == 0:
        raise ValueError("`train_loader` est vide : il faut au moins un lot pour entraîner.")

    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    cbs = [cb if isinstance(cb, Callback) else _EpochFunction(cb) for cb in callbacks]

    history = History()
    start_epoch = 0
    if resume and Path(checkpoint_path).exists():
        ckpt = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        history = History.from_dict(ckpt["history"])
        start_epoch = ckpt["epoch"]
        _set_rng_state(train_loader, ckpt["rng"])

    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(log_dir))

    step = start_epoch * (n_batches or 0)
    bar = tqdm(range(start_epoch, epochs), desc="Entraînement", unit="époque", disable=not progress, leave=False)
    try:
        for epoch in bar:
            model.train()
            total, n = 0.0, 0
            for x, y in train_loader:
                x, y = x.to(device), y.to(device)
                optimizer.zero_grad()
                out = model(x)
                if isinstance(out, torch.Tensor) and out.shape[0] != x.shape[0]:
                    raise ValueError(
                        f"La sortie du modèle a {out.shape[0]} lignes pour un lot de {x.shape[0]} exemples."
                    )
                batch_loss = loss(out, y)
                batch_loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                if scheduler is not None and scheduler_step == "batch":
                    scheduler.step()
                value = batch_loss.item()
                history.batch_loss.append(value)
                total += value * x.shape[0]
                n += x.shape[0]
                if writer is not None:
                    writer.add_scalar("perte/lot", value, step)
                for cb in cbs:
                    cb.on_batch_end(step, model, value)
                step += 1
            if n == 0:
                raise ValueError("`train_loader` est vide : il faut au moins un lot pour entraîner.")
            history.epoch.append(epoch + 1)
            history.train_loss.append(total / n)
            history.lr.append(optimizer.param_groups[0]["lr"])
            if val_loader is not None:
                res = evaluate(model, loss, val_loader, metrics, device)
                history.val_loss.append(res.pop("loss"))
                for name, value in res.items():
                    history.metrics.setdefault(f"val_{name}", []).append(value)
            if scheduler is not None and scheduler_step == "epoch":
                scheduler.step()
            if writer is not None:
                writer.add_scalar("perte/entrainement", history.train_loss[-1], epoch + 1)
                if history.val_loss:
                    writer.add_scalar("perte/validation", history.val_loss[-1], epoch + 1)
                for name, values in history.metrics.items():
                    writer.add_scalar(f"metriques/{name}", values[-1], epoch + 1)
                writer.add_scalar("taux_apprentissage", history.lr[-1], epoch + 1)
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, scheduler, history, epoch + 1, train_loader)
            bar.set_postfix(perte=f"{history.train_loss[-1]:.4f}")
            stop = False
            for cb in cbs:
                stop = bool(cb.on_epoch_end(epoch + 1, model, history)) or stop
            if stop:
                break
    finally:
        if writer is not None:
            writer.close()
        bar.close()
    return history
