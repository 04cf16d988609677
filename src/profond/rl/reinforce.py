"""REINFORCE et REINFORCE avec valeur de référence (chapitre « Gradient de la politique »).

Chaque itération joue un épisode complet dans chacun des ``n_envs`` environnements avec la
politique courante, puis fait un pas de gradient : c'est l'algorithme ``pg-algo-reinforce`` (et
``pg-algo-reinforce-baseline`` avec ``baseline=True``), où les ``T`` termes d'un épisode sont
additionnés avant le pas au lieu d'être appliqués un par un (identique au premier ordre en α).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from profond.rl import exact
from profond.rl.envs import env_mdp, make_vector_env
from profond.rl.estimators import advantages, discount_weights, returns_to_go
from profond.rl.history import History, PolicyGradientConfig, Recorder, make_optimizer, parameters_finite
from profond.rl.policies import log_probs, make_networks, sample_actions
from profond.utils import check_positive, seed_everything, progress_bar

Tensor = torch.Tensor


@dataclass(frozen=True)
class ReinforceConfig(PolicyGradientConfig):
    """Hyper-paramètres de :func:`train_reinforce` (les champs communs sont ceux de
    :class:`~profond.rl.history.PolicyGradientConfig`)."""

    baseline: bool = False
    """Retrancher la valeur de référence ``v̂(S_t, w)`` apprise (REINFORCE avec valeur de référence)."""
    n_envs: int = 1
    """Nombre d'épisodes joués en parallèle par mise à jour (un par environnement)."""


def reinforce_loss(logp: Tensor, ret: Tensor, disc: Tensor, mask: Tensor) -> Tensor:
    """Perte dont le gradient est ``−Σ_t γ^t G_t ∇ln π(A_t|S_t, θ)``, moyenné sur les épisodes.

    ``logp``, ``ret`` (le retour ``G_t``, ou l'avantage ``G_t − v̂(S_t)``), ``mask`` : (T, N) ;
    ``disc`` : (T, 1). Descendre cette perte, c'est faire la montée de gradient
    ``θ ← θ + α γ^t G_t ∇ln π(A_t|S_t, θ)`` (équation ``pg-eq-reinforce``).
    """
    n_episodes = mask.shape[1]
    return -(mask * disc * ret.detach() * logp).sum() / n_episodes


def reinforce_update(policy, value, optimizer, batch: dict, gamma: float,
                     discount_weighting: bool, baseline: bool) -> tuple[float, float]:
    """Un pas de REINFORCE (avec valeur de référence si ``baseline``) sur un lot d'épisodes complets."""
    obs, act, rew, mask = batch["obs"], batch["act"], batch["rew"], batch["mask"]  # (T, N, …)
    T = rew.shape[0]
    ret = returns_to_go(rew * mask, gamma)  # (T, N) G_t
    disc = discount_weights(T, gamma if discount_weighting else 1.0)[:, None]  # (T, 1) γ^t
    logp = log_probs(policy(obs), act)  # (T, N) ln π(A_t|S_t, θ)
    # Perte de la politique
    if baseline:
        v = value(obs)  # (T, N) v̂(S_t, w)
        delta = advantages(ret, v.detach())  # δ = G_t − v̂(S_t, w)
        # Perte du critique : son gradient est −δ ∇v̂(S_t, w)
        value_loss = 0.5 * (mask * (ret - v) ** 2).sum() / mask.shape[1]
    else:
        delta, value_loss = ret, torch.zeros(())
    policy_loss = reinforce_loss(logp, delta, disc, mask)
    optimizer.zero_grad()
    (policy_loss + value_loss).backward()
    optimizer.step()
    return float(policy_loss.detach()), float(value_loss.detach())


def collect_episodes(envs, policy, obs: np.ndarray, generator: torch.Generator) -> tuple[dict, int]:
    """Joue le premier épisode complet de chaque environnement avec la politique courante.

    Renvoie le lot (tenseurs (T, N, …), ``mask`` valant 1 pendant l'épisode) et le nombre de pas
    d'environnement joués, c'est-à-dire la somme des durées des ``N`` épisodes. Un environnement
    qui a fini attend les autres ; ses pas d'attente sont ignorés et ne comptent pas (ne garder que
    le premier épisode évite de favoriser les épisodes courts).
    """
    running = np.ones(envs.num_envs, dtype=bool)
    obs_l, act_l, rew_l, mask_l = [], [], [], []
    steps = 0
    while running.any():
        obs_t = torch.as_tensor(obs)
        with torch.inference_mode():
            act = sample_actions(policy(obs_t), generator)
        next_obs, rew, term, trunc, _ = envs.step(act.numpy())
        obs_l.append(obs_t), act_l.append(act), mask_l.append(running.copy())
        rew_l.append(np.asarray(rew, dtype=np.float32))
        steps += int(running.sum())  # pas joués dans un épisode (pas les pas d'attente)
        running &= ~(term | trunc)
        obs = next_obs
    batch = {
        "obs": torch.stack(obs_l),
        "act": torch.stack(act_l),
        "rew": torch.as_tensor(np.stack(rew_l)),
        "mask": torch.as_tensor(np.stack(mask_l), dtype=torch.float32),
    }
    return batch, steps


def train_reinforce(config: ReinforceConfig) -> History:
    """Entraîne une politique par REINFORCE (algorithmes ``pg-algo-reinforce`` et
    ``pg-algo-reinforce-baseline``) ; borné en épisodes et en pas."""
    if not isinstance(config, ReinforceConfig):
        raise TypeError(f"`config` doit être un ReinforceConfig, reçu {type(config).__name__}.")
    cfg = config
    generator = seed_everything(cfg.seed)
    policy, value = make_networks(cfg.env_id, cfg.hidden, cfg.theta_init)
    groups = [{"params": policy.parameters(), "lr": cfg.lr_policy}]
    if cfg.baseline:
        groups.append({"params": value.parameters(), "lr": cfg.lr_value})
    optimizer = make_optimizer(cfg.optimizer, groups)
    mdp = env_mdp(cfg.env_id)
    envs = make_vector_env(cfg.env_id, cfg.n_envs)
    name = "REINFORCE" + (" avec valeur de référence" if cfg.baseline else "")
    rec = Recorder(cfg, progress_bar(None, cfg.progress, total=cfg.max_episodes, desc=name))
    obs, _ = envs.reset(seed=cfg.seed)
    while not rec.done():
        if mdp is not None:
            rec.objective(exact.objective(mdp, policy_table(policy), cfg.gamma))
        batch, steps = collect_episodes(envs, policy, obs, generator)
        rec.add_steps(steps)
        for ret, length in zip((batch["rew"] * batch["mask"]).sum(0).tolist(), batch["mask"].sum(0).tolist()):
            rec.episode(ret, int(length))
        p_loss, v_loss = reinforce_update(policy, value, optimizer, batch, cfg.gamma,
                                          cfg.discount_weighting, cfg.baseline)
        rec.history.policy_loss.append(p_loss)
        rec.history.value_loss.append(v_loss)
        rec.history.diverged = not parameters_finite(policy, value)
        obs, _ = envs.reset()  # épisodes suivants : tous joués avec la nouvelle politique
    envs.close()
    history = rec.close()
    history.policy = policy
    return history


def run_reinforce(**fields) -> History:
    """``train_reinforce(ReinforceConfig(**fields))`` : la forme qu'attend un bras de
    :func:`profond.compare.compare` (``run(seed=..., **réglages)``)."""
    return train_reinforce(ReinforceConfig(**fields))


def policy_table(policy) -> np.ndarray:
    """La table ``π(a|s)`` (S, A) d'une politique softmax linéaire."""
    with torch.no_grad():
        return exact.softmax_policy(policy.theta.double().numpy(), policy.features.double().numpy())
