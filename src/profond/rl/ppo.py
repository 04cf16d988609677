"""Optimisation de politique proximale (PPO, Schulman et al., 2017), TP « Actions continues et PPO ».

Du rapport d'importance d'Off-PAC (équation ``pg-eq-offpac-acteur``) à l'objectif « écrêté » de
PPO (équation ``ppo-eq-clip``), algorithme ``ppo-algo-ppo``. Une fonction par quantité : le rapport
``ρ`` (``ppo-eq-ratio``), l'objectif écrêté, l'estimateur k3 de la divergence KL (``ppo-eq-kl``) et
la fraction écrêtée ; :func:`ppo_update` fait plusieurs époques de mini-lots sur un lot récolté,
:func:`train_ppo` alterne récolte et mises à jour. Actions discrètes (CartPole, politique
catégorielle) ou continues (Pendulum, :class:`~profond.rl.gaussian.GaussianPolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from profond.rl.envs import make_vector_env
from profond.rl.estimators import gae_advantages, td_residuals
from profond.rl.gaussian import GaussianPolicy
from profond.rl.history import History, PolicyGradientConfig, Recorder, make_optimizer, parameters_finite
from profond.rl.policies import MLPValue, log_probs, make_networks, sample_actions
from profond.rl.practice import categorical_entropy, normalized_advantages
from profond.utils import check_positive, check_positive_int, progress_bar, seed_everything

Tensor = torch.Tensor


@dataclass(frozen=True)
class PPOConfig(PolicyGradientConfig):
    """Hyper-paramètres de :func:`train_ppo` (les champs communs sont ceux de
    :class:`~profond.rl.history.PolicyGradientConfig` ; PPO n'utilise ni ``discount_weighting``
    ni ``theta_init``)."""

    discount_weighting: bool = False
    """Toujours faux : PPO n'applique pas le facteur ``I = γ^t``."""
    lr_policy: float = 3e-4
    """Taux d'apprentissage α^θ (Adam) de la politique."""
    lr_value: float = 1e-3
    """Taux d'apprentissage α^w (Adam) du critique."""
    hidden: int = 64
    """Largeur de la couche cachée des réseaux."""
    n_envs: int = 8
    """Nombre d'environnements joués en parallèle."""
    n_steps: int = 128
    """Pas joués dans chaque environnement par récolte (un lot : ``n_envs × n_steps`` pas)."""
    gae_lambda: float = 0.95
    """λ de GAE (équation ``pg-eq-gae``)."""
    clip_eps: float = 0.2
    """ε de l'écrêtage : ``ρ`` est ramené dans ``[1 − ε, 1 + ε]``."""
    n_epochs: int = 4
    """Nombre de passages sur chaque lot récolté."""
    n_minibatches: int = 4
    """Nombre de mini-lots par passage."""
    normalize_advantages: bool = True
    """Centrer-réduire les avantages de chaque mini-lot."""
    entropy_coef: float = 0.0
    """Coefficient β du bonus d'entropie (0 : pas de bonus)."""
    max_grad_norm: float | None = 0.5
    """Norme maximale du gradient de chaque réseau (``None`` : pas d'écrêtage du gradient)."""
    log_std_init: float = 0.0
    """``ln σ`` initial de la politique gaussienne (actions continues)."""
    reward_scale: float = 1.0
    """Facteur appliqué aux récompenses pour l'apprentissage (les retours enregistrés restent bruts)."""

    def __post_init__(self):
        super().__post_init__()
        if self.discount_weighting:
            raise ValueError("PPO n'applique pas le facteur I = γ^t : `discount_weighting` doit être faux.")
        if self.theta_init is not None:
            raise ValueError("`theta_init` ne concerne que les PDM tabulaires : PPO ne l'utilise pas.")
        for name in ("n_steps", "n_epochs", "n_minibatches", "hidden"):
            check_positive_int(name, getattr(self, name))
        lam = check_positive("gae_lambda", self.gae_lambda)
        if lam > 1.0:
            raise ValueError(f"`gae_lambda` doit appartenir à [0, 1], reçu {lam}.")
        check_positive("clip_eps", self.clip_eps, strict=True)
        check_positive("entropy_coef", self.entropy_coef)
        check_positive("reward_scale", self.reward_scale, strict=True)
        if self.max_grad_norm is not None:
            check_positive("max_grad_norm", self.max_grad_norm, strict=True)
        if self.n_minibatches > self.n_envs * self.n_steps:
            raise ValueError(f"`n_minibatches` ({self.n_minibatches}) dépasse la taille du lot "
                             f"({self.n_envs * self.n_steps} pas).")


@dataclass
class PPOHistory(History):
    """:class:`~profond.rl.history.History` plus les diagnostics de PPO, une entrée par mise à jour
    (``entropy`` et ``update_steps``, hérités, sont remplis aussi ; ``kl``, la divergence exacte,
    reste vide : PPO enregistre son estimation ``approx_kl``)."""

    approx_kl: list[float] = field(default_factory=list)
    """Estimateur k3 de ``KL(π_old ‖ π_θ)`` sur le lot, après la mise à jour (``ppo-eq-kl``)."""
    clip_fraction: list[float] = field(default_factory=list)
    """Fraction des pas du lot dont ``ρ`` est sorti de ``[1 − ε, 1 + ε]`` après la mise à jour."""


def importance_ratio(logp: Tensor, logp_old: Tensor) -> Tensor:
    """``ρ = π_θ(a|s) / π_old(a|s) = exp(ln π_θ − ln π_old)`` (équation ``ppo-eq-ratio``).

    >>> importance_ratio(torch.log(torch.tensor([0.6])), torch.log(torch.tensor([0.5])))
    tensor([1.2000])
    """
    if not isinstance(logp, Tensor) or not isinstance(logp_old, Tensor) or logp.shape != logp_old.shape:
        raise ValueError("`logp` et `logp_old` doivent être des tenseurs torch de même forme.")
    return torch.exp(logp - logp_old)


def clipped_surrogate(ratio: Tensor, adv: Tensor, clip_eps: float) -> Tensor:
    """``min(ρ Â, clip(ρ, 1 − ε, 1 + ε) Â)`` pas par pas (équation ``ppo-eq-clip``) ; PPO maximise
    sa moyenne.

    >>> clipped_surrogate(torch.tensor([1.5, 0.5]), torch.tensor([1.0, 1.0]), 0.2)
    tensor([1.2000, 0.5000])
    """
    if not isinstance(ratio, Tensor) or not isinstance(adv, Tensor) or ratio.shape != adv.shape:
        raise ValueError("`ratio` et `adv` doivent être des tenseurs torch de même forme.")
    eps = check_positive("clip_eps", clip_eps, strict=True)
    return torch.minimum(ratio * adv, torch.clamp(ratio, 1.0 - eps, 1.0 + eps) * adv)


def approx_kl(logp: Tensor, logp_old: Tensor) -> Tensor:
    """Estimateur k3 de ``KL(π_old ‖ π_θ)`` sur des actions tirées de ``π_old`` :
    moyenne de ``(ρ − 1) − ln ρ`` (équation ``ppo-eq-kl``) ; sans biais, et positif terme à terme.

    >>> round(approx_kl(torch.log(torch.tensor([2.0])), torch.zeros(1)).item(), 4)
    0.3069
    """
    log_ratio = logp - logp_old
    return (torch.expm1(log_ratio) - log_ratio).mean()


def clip_fraction(ratio: Tensor, clip_eps: float) -> Tensor:
    """Fraction des pas où ``|ρ − 1| > ε`` : ceux dont l'écrêtage a pu couper le gradient.

    >>> clip_fraction(torch.tensor([1.0, 1.3, 0.7, 1.1]), 0.2)
    tensor(0.5000)
    """
    return ((ratio - 1.0).abs() > clip_eps).float().mean()


def policy_log_prob(policy, obs: Tensor, act: Tensor) -> Tensor:
    """``ln π(a|s)`` pour une politique gaussienne ou catégorielle (logits)."""
    if isinstance(policy, GaussianPolicy):
        return policy.log_prob(obs, act)
    return log_probs(policy(obs), act)


def policy_entropy(policy, obs: Tensor) -> Tensor:
    """Entropie de ``π(·|s)`` pour chaque observation."""
    if isinstance(policy, GaussianPolicy):
        return policy.entropy(obs)
    return categorical_entropy(policy(obs))


def ppo_update(policy, value, optimizer, batch: dict, cfg: PPOConfig, generator: torch.Generator,
               callback: Callable[[dict], None] | None = None) -> dict:
    """Une mise à jour de PPO : ``n_epochs`` passages en ``n_minibatches`` mini-lots sur ``batch``
    (tenseurs à plat ``obs``, ``act``, ``logp_old``, ``adv``, ``ret``).

    ``callback(infos)`` est appelé à chaque mini-lot avec ``epoch``, ``minibatch`` et ``ratio``
    (avant le pas). Renvoie les pertes moyennes et les diagnostics sur tout le lot après la mise à
    jour (``approx_kl``, ``clip_fraction``) et l'entropie avant.
    """
    obs, act, logp_old, adv_all, ret = (batch[k] for k in ("obs", "act", "logp_old", "adv", "ret"))
    n = obs.shape[0]
    with torch.no_grad():
        entropy_before = float(policy_entropy(policy, obs).mean())
    p_losses, v_losses = [], []
    for epoch in range(cfg.n_epochs):
        perm = torch.randperm(n, generator=generator)
        for k, idx in enumerate(torch.tensor_split(perm, cfg.n_minibatches)):
            logp = policy_log_prob(policy, obs[idx], act[idx])
            ratio = importance_ratio(logp, logp_old[idx])
            if callback is not None:
                callback({"epoch": epoch, "minibatch": k, "ratio": ratio.detach()})
            adv = normalized_advantages(adv_all[idx]) if cfg.normalize_advantages and len(idx) > 1 else adv_all[idx]
            # Perte de la politique : −L^CLIP, moins le bonus d'entropie
            policy_loss = -clipped_surrogate(ratio, adv, cfg.clip_eps).mean()
            if cfg.entropy_coef > 0:
                policy_loss = policy_loss - cfg.entropy_coef * policy_entropy(policy, obs[idx]).mean()
            # Perte du critique : régression de v̂(S_t) vers la cible Â_t + v̂_old(S_t)
            value_loss = 0.5 * ((value(obs[idx]) - ret[idx]) ** 2).mean()
            optimizer.zero_grad()
            (policy_loss + value_loss).backward()
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                torch.nn.utils.clip_grad_norm_(value.parameters(), cfg.max_grad_norm)
            optimizer.step()
            p_losses.append(float(policy_loss.detach()))
            v_losses.append(float(value_loss.detach()))
    with torch.no_grad():
        logp = policy_log_prob(policy, obs, act)
        ratio = importance_ratio(logp, logp_old)
        kl, frac = float(approx_kl(logp, logp_old)), float(clip_fraction(ratio, cfg.clip_eps))
    return {"policy_loss": float(np.mean(p_losses)), "value_loss": float(np.mean(v_losses)),
            "approx_kl": kl, "clip_fraction": frac, "entropy": entropy_before}


def make_ppo_networks(env_id: str, hidden: int, log_std_init: float = 0.0):
    """Politique et critique pour ``env_id`` : catégorielle si les actions sont discrètes,
    gaussienne (:class:`~profond.rl.gaussian.GaussianPolicy`) si elles sont continues (``Box``)."""
    env = gym.make(env_id)
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    if isinstance(act_space, gym.spaces.Discrete):
        return make_networks(env_id, hidden)
    if not isinstance(act_space, gym.spaces.Box):
        raise ValueError(f"Espace d'actions non pris en charge : {act_space}.")
    obs_dim, act_dim = int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
    return GaussianPolicy(obs_dim, act_dim, hidden, log_std_init), MLPValue(obs_dim, hidden)


def train_ppo(config: PPOConfig, callback: Callable[[dict], None] | None = None) -> PPOHistory:
    """Entraîne PPO (algorithme ``ppo-algo-ppo``) ; borné en épisodes et en pas (vérifiés entre deux
    récoltes). Les actions continues tirées sont ramenées dans les bornes de l'environnement pour
    jouer, mais c'est l'action **non bornée** qui entre dans ``ln π``. ``callback`` : voir
    :func:`ppo_update`."""
    if not isinstance(config, PPOConfig):
        raise TypeError(f"`config` doit être un PPOConfig, reçu {type(config).__name__}.")
    cfg = config
    generator = seed_everything(cfg.seed)
    policy, value = make_ppo_networks(cfg.env_id, cfg.hidden, cfg.log_std_init)
    continuous = isinstance(policy, GaussianPolicy)
    optimizer = make_optimizer(cfg.optimizer, [{"params": policy.parameters(), "lr": cfg.lr_policy},
                                               {"params": value.parameters(), "lr": cfg.lr_value}])
    envs = make_vector_env(cfg.env_id, cfg.n_envs)
    if continuous:
        low, high = envs.single_action_space.low, envs.single_action_space.high
    n, T = cfg.n_envs, cfg.n_steps
    rec = Recorder(cfg, progress_bar(None, cfg.progress, total=cfg.max_episodes, desc="PPO"))
    rec.history = PPOHistory()
    obs, _ = envs.reset(seed=cfg.seed)
    prev_done = np.zeros(n, dtype=bool)
    ep_ret, ep_len = np.zeros(n), np.zeros(n, dtype=int)
    while not rec.done():
        buf = {k: [] for k in ("obs", "act", "logp", "rew", "term", "done", "valid")}
        for _ in range(T):
            obs_t = torch.as_tensor(obs, dtype=torch.float32)
            with torch.inference_mode():
                if continuous:
                    act = policy.sample(obs_t, generator)  # (N, d), non bornée
                    env_act = np.clip(act.numpy(), low, high)
                else:
                    act = sample_actions(policy(obs_t), generator)  # (N,)
                    env_act = act.numpy()
                logp = policy_log_prob(policy, obs_t, act)
            next_obs, rew, term, trunc, _ = envs.step(env_act)
            valid = ~prev_done  # après une fin d'épisode, le pas suivant est une réinitialisation
            done = term | trunc
            for k, x in (("obs", obs_t), ("act", act), ("logp", logp)):
                buf[k].append(x.clone())
            for k, x in (("rew", rew), ("term", term), ("done", done), ("valid", valid)):
                buf[k].append(np.asarray(x, dtype=np.float32))
            rec.vector_step(ep_ret, ep_len, rew, valid, done)
            prev_done = done
            obs = next_obs
        b = {k: torch.stack(v) if k in ("obs", "act", "logp") else torch.as_tensor(np.stack(v))
             for k, v in buf.items()}  # (T, N, …)
        with torch.no_grad():
            v_all = value(torch.cat([b["obs"], torch.as_tensor(obs, dtype=torch.float32)[None]]))  # (T+1, N)
            delta = td_residuals(b["rew"] * cfg.reward_scale, v_all[:-1], v_all[1:], cfg.gamma, terminated=b["term"])
            adv = gae_advantages(delta, cfg.gamma, cfg.gae_lambda, dones=b["done"])  # (T, N)
        mask = b["valid"].bool()
        if not bool(mask.any()):
            continue
        batch = {"obs": b["obs"][mask], "act": b["act"][mask], "logp_old": b["logp"][mask],
                 "adv": adv[mask], "ret": (adv + v_all[:-1])[mask]}
        stats = ppo_update(policy, value, optimizer, batch, cfg, generator, callback)
        h = rec.history
        h.policy_loss.append(stats["policy_loss"])
        h.value_loss.append(stats["value_loss"])
        h.approx_kl.append(stats["approx_kl"])
        h.clip_fraction.append(stats["clip_fraction"])
        h.entropy.append(stats["entropy"])
        h.update_steps.append(h.env_steps)
        h.diverged = not parameters_finite(policy, value)
    envs.close()
    history = rec.close()
    history.policy, history.value = policy, value
    return history


def run_ppo(**fields) -> PPOHistory:
    """``train_ppo(PPOConfig(**fields))`` : la forme qu'attend un bras de
    :func:`profond.compare.compare` (``run(seed=..., **réglages)``)."""
    return train_ppo(PPOConfig(**fields))
