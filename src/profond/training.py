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

from profond.utils import check_positive, check_positive_int, progress_bar

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Taux de bonnes classifications : ``output`` (N, C) de scores, ``target`` (N,) d'indices.

    >>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 1, 1]))
    0.6666666865348816
    """
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
    grad_norm: list[float] = field(default_factory=list)
    """Norme du gradient avant écrêtage, une par lot (seulement si ``grad_clip`` est donné)."""

    def as_dict(self) -> dict:
        return {
            "epoch": list(self.epoch),
            "train_loss": list(self.train_loss),
            "val_loss": list(self.val_loss),
            "lr": list(self.lr),
            "metrics": {k: list(v) for k, v in self.metrics.items()},
            "batch_loss": list(self.batch_loss),
            "grad_norm": list(self.grad_norm),
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
            grad_norm=list(d.get("grad_norm", [])),
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


class EvaluateOn(Callback):
    """Rappel de fin d'époque : évalue le modèle sur ``loader`` avec :func:`evaluate` (mode
    évaluation, sans gradient) et note la perte dans ``history.metrics[f"{name}_loss"]`` (et chaque
    métrique ``m`` dans ``f"{name}_{m}"``). Sert à mesurer la perte d'entraînement sans le bruit
    du dropout ni de l'augmentation : ``EvaluateOn("train_eval", loss, train_loader_sans_melange)``.
    Section `intro-sec-regularisation`."""

    def __init__(self, name: str, loss: nn.Module, loader: Iterable, metrics: Mapping[str, Metric] | None = None):
        if not name or not isinstance(name, str):
            raise ValueError(f"`name` doit être une chaîne non vide, reçu {name!r}.")
        self.name, self.loss, self.loader, self.metrics = name, loss, loader, metrics

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> None:
        res = evaluate(model, self.loss, self.loader, self.metrics)
        for key, value in res.items():
            history.metrics.setdefault(f"{self.name}_{key}", []).append(value)


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
    # Les états des générateurs sont des tenseurs d'octets sur CPU ; ``torch.load(map_location=cuda)``
    # les aurait déplacés sur le GPU : on les ramène.
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "loader" in state and getattr(train_loader, "generator", None) is not None:
        train_loader.generator.set_state(state["loader"].cpu())
    sampler_gen = getattr(getattr(train_loader, "sampler", None), "generator", None)
    if "sampler" in state and sampler_gen is not None:
        sampler_gen.set_state(state["sampler"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


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


_SAME_SHAPE_LOSSES = (nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss, nn.BCEWithLogitsLoss)


def check_output_target(output: torch.Tensor, target: torch.Tensor, loss=None) -> None:
    """Vérifie que la sortie du modèle et la cible ont des formes compatibles, avant que la
    diffusion (*broadcasting*) de PyTorch ne calcule en silence une perte absurde : une sortie
    (N, 1) comparée à une cible (N,) donnerait une matrice (N, N) d'écarts.

    >>> check_output_target(torch.zeros(4, 1), torch.zeros(4), nn.MSELoss())
    Traceback (most recent call last):
    ...
    ValueError: La sortie du modèle (4, 1) et la cible (4,) doivent avoir la même forme pour MSELoss.
    """
    if not isinstance(output, torch.Tensor) or not isinstance(target, torch.Tensor):
        return
    if output.ndim == 0 or target.ndim == 0 or output.shape[0] != target.shape[0]:
        raise ValueError(
            f"La sortie du modèle {tuple(output.shape)} et la cible {tuple(target.shape)} n'ont pas le "
            "même nombre d'exemples (première dimension)."
        )
    if isinstance(loss, _SAME_SHAPE_LOSSES) and output.shape != target.shape:
        raise ValueError(
            f"La sortie du modèle {tuple(output.shape)} et la cible {tuple(target.shape)} doivent avoir la "
            f"même forme pour {type(loss).__name__}."
        )
    if isinstance(loss, (nn.CrossEntropyLoss, nn.NLLLoss)) and not target.is_floating_point():
        if output.ndim != target.ndim + 1:
            raise ValueError(
                f"{type(loss).__name__} attend des scores (N, C) et des classes (N,), reçu "
                f"{tuple(output.shape)} et {tuple(target.shape)}."
            )


def evaluate(model: nn.Module, loss: nn.Module, loader, metrics: Mapping[str, Metric] | None = None, device=None) -> dict[str, float]:
    """Perte moyenne (pondérée par la taille des lots) et métriques de ``model`` sur ``loader``,
    en mode évaluation et sans gradient. Section `sec-boucle-entrainement`."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    sums = {name: 0.0 for name in (metrics or {})}
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            check_output_target(out, y, loss)
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
    regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
) -> History:
    """Entraîne ``model`` pendant ``epochs`` époques et renvoie l'historique. C'est la fonction
    d'entraînement standard du chapitre « Introduction », section `sec-boucle-entrainement`.

    Paramètres principaux :

    - ``loss`` : la fonction de coût, appelée ``loss(model(x), y)`` ; les formes de la sortie et de
      la cible sont vérifiées (:func:`check_output_target`) ;
    - ``scheduler`` : un ordonnanceur de taux d'apprentissage, appelé après chaque lot
      (``scheduler_step="batch"``, par exemple ``OneCycleLR``) ou chaque époque (``"epoch"``) ;
    - ``callbacks`` : objets :class:`Callback` ou fonctions ``f(epoch, model, history)`` appelées en
      fin d'époque ; renvoyer ``True`` arrête l'entraînement ;
    - ``metrics`` : ``{"accuracy": accuracy}`` ; chaque métrique est calculée sur ``val_loader``
      (clé ``"val_<nom>"``) ;
    - ``grad_clip`` : norme maximale du gradient (``clip_grad_norm_``), ``None`` pour ne rien couper ;
      la norme avant écrêtage est alors notée dans ``history.grad_norm`` ;
    - ``log_dir`` : dossier des journaux TensorBoard (``SummaryWriter``), ``None`` pour aucun ; la
      perte par lot est indexée par le numéro global du lot (0, 1, 2…), les grandeurs par époque
      par le numéro d'époque (1, 2…) ;
    - ``checkpoint_path`` : fichier de sauvegarde écrit à chaque fin d'époque (poids, optimiseur,
      ordonnanceur, historique, générateurs aléatoires) ; avec ``resume=True``, l'entraînement
      reprend depuis ce fichier s'il existe, et donne exactement les mêmes poids qu'un
      entraînement ininterrompu ;
    - ``device`` : ``None`` choisit le GPU s'il y en a un, sinon le CPU ;
    - ``progress`` : barre tqdm par époque (:func:`profond.utils.progress_bar`) ;
    - ``regularizer`` : fonction ``r(model)`` renvoyant un terme de pénalité (tenseur scalaire)
      ajouté au coût avant la rétropropagation ; ``train_loss`` ne note que le coût des données.
    """
    epochs = check_positive_int("epochs", epochs)
    if grad_clip is not None:
        check_positive("grad_clip", grad_clip, strict=True)
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"`scheduler_step` doit valoir 'epoch' ou 'batch', reçu {scheduler_step!r}.")
    if resume and checkpoint_path is None:
        raise ValueError("`resume=True` demande un `checkpoint_path`.")
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` doit être un torch.nn.Module, reçu {type(model).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` doit être un torch.optim.Optimizer, reçu {type(optimizer).__name__}.")
    try:
        n_batches = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        n_batches = None
    if n_batches == 0:
        raise ValueError("`train_loader` est vide : il faut au moins un lot pour entraîner.")
    if val_loader is not None and hasattr(val_loader, "__len__") and len(val_loader) == 0:
        raise ValueError("`val_loader` est vide : donner au moins un lot, ou `val_loader=None`.")

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

    step = len(history.batch_loss)  # numéro global du prochain lot (0 au départ, reprise comprise)
    bar = progress_bar(range(start_epoch, epochs), progress, desc="Entraînement", unit="époque", leave=False)
    try:
        for epoch in bar:
            # --- Une époque : un passage sur tous les lots d'entraînement ---
            model.train()  # mode entraînement (dropout actif, BatchNorm sur le lot)
            total, n = 0.0, 0
            for x, y in train_loader:
                x, y = x.to(device), y.to(device)
                optimizer.zero_grad()  # les gradients s'accumulent : on les remet à zéro
                out = model(x)  # passe avant
                check_output_target(out, y, loss)
                batch_loss = loss(out, y)
                objective = batch_loss if regularizer is None else batch_loss + regularizer(model)
                objective.backward()  # passe arrière : remplit p.grad pour chaque paramètre p
                if grad_clip is not None:
                    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                    history.grad_norm.append(float(norm))
                optimizer.step()  # mise à jour des paramètres
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
            # --- Fin de l'époque : bilan, validation, journaux, sauvegarde ---
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
