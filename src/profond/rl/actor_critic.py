"""Acteur-critique épisodique (chapitre « Gradient de la politique », algorithme ``pg-algo-acteur-critique``).

Avec ``n_envs = 1``, ``n_steps = 1``, ``gae_lambda = 0`` et ``optimizer="sgd"``, c'est exactement
l'algorithme du livre : à chaque pas, ``δ = R + γ v̂(S', w) − v̂(S, w)``, puis
``w ← w + α^w δ ∇v̂(S, w)`` et ``θ ← θ + α^θ I δ ∇ln π(A|S, θ)``, ``I ← γI``. Avec ``n_envs > 1``,
chaque mise à jour fait la moyenne de ces pas sur les environnements ; avec ``n_steps > 1``, on
accumule ``n_steps`` pas avant chaque mise à jour et on remplace ``δ`` par l'estimateur GAE(λ)
(équation ``pg-eq-gae``) ; avec Adam, la direction est la même mais le pas est adaptatif.

Options du TP ``pgr-tp`` (désactivées par défaut : les courses du chapitre ne changent pas) :
normalisation des avantages par lot et bonus d'entropie. À chaque mise à jour, l'historique note
l'entropie de la politique et la divergence KL entre la politique avant et après.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from profond.rl import exact
from profond.rl.envs import env_mdp, make_vector_env
from profond.rl.estimators import gae_advantages, td_residuals
from profond.rl.history import History, PolicyGradientConfig, Recorder, make_optimizer, parameters_finite
from profond.rl.policies import log_probs, make_networks, sample_actions
from profond.rl.practice import categorical_entropy, categorical_kl, normalized_advantages
from profond.rl.reinforce import policy_table
from profond.utils import check_positive, check_positive_int, seed_everything, progress_bar

Tensor = torch.Tensor


@dataclass(frozen=True)
class ActorCriticConfig(PolicyGradientConfig):
    """Hyper-paramètres de :func:`train_actor_critic` (les champs communs sont ceux de
    :class:`~profond.rl.history.PolicyGradientConfig`)."""

    lr_policy: float = 1e-3
    """Pas d'apprentissage α^θ de l'acteur."""
    n_envs: int = 1
    """Nombre d'environnements joués en parallèle (une mise à jour porte sur tous)."""
    n_steps: int = 1
    """Pas joués dans chaque environnement avant une mise à jour (1 : acteur-critique à un pas)."""
    gae_lambda: float = 0.0
    """λ de GAE ; 0 donne le résidu TD ``δ_t`` de l'algorithme à un pas."""
    normalize_advantages: bool = False
    """Standardiser les avantages de l'acteur sur chaque lot (équation ``pgr-eq-normalisation``) ;
    le critique garde les avantages bruts."""
    entropy_coef: float = 0.0
    """Coefficient β du bonus d'entropie ajouté à l'objectif de l'acteur (équation ``pgr-eq-bonus``)."""

    def __post_init__(self):
        super().__post_init__()
        check_positive_int("n_steps", self.n_steps)
        lam = check_positive("gae_lambda", self.gae_lambda)
        if lam > 1.0:
            raise ValueError(f"`gae_lambda` doit appartenir à [0, 1], reçu {lam}.")
        if not isinstance(self.normalize_advantages, bool):
            raise TypeError("`normalize_advantages` doit être un booléen.")
        check_positive("entropy_coef", self.entropy_coef)


def actor_critic_update(policy, value, optimizer, batch: dict, gamma: float, lam: float, *,
                        normalize: bool = False, entropy_coef: float = 0.0) -> tuple[float, float]:
    """Une mise à jour de l'acteur et du critique sur ``T`` pas de ``N`` environnements.

    ``batch["obs"]`` contient ``T + 1`` observations (la dernière sert à amorcer ``v̂(S_T)``) ;
    ``valid`` vaut 0 sur les pas fictifs de réinitialisation, ``disc`` est le facteur ``I = γ^t``.
    Un lot sans aucun pas valide ne fait aucun pas : son gradient est nul, mais Adam déplacerait
    encore les poids avec ses moyennes mobiles. Options (page ``pgr-tp``) : ``normalize`` standardise
    les avantages de l'acteur, ``entropy_coef`` ajoute le bonus d'entropie β H(π(·|S)).
    """
    obs, act, rew = batch["obs"], batch["act"], batch["rew"]  # (T+1, N, …), (T, N), (T, N)
    term, done, valid, disc = batch["term"], batch["done"], batch["valid"], batch["disc"]
    if not bool(valid.any()):
        return 0.0, 0.0
    v_all = value(obs)  # (T+1, N) v̂(S_t, w)
    v, v_next = v_all[:-1], v_all[1:].detach()
    delta = td_residuals(rew, v.detach(), v_next, gamma, terminated=term)  # (T, N) δ_t
    adv = gae_advantages(delta, gamma, lam, dones=done)  # λ = 0 : adv = δ
    n_valid = valid.sum().clamp(min=1.0)
    # Perte de l'acteur : son gradient est −I δ ∇ln π(A|S, θ)
    logits = policy(obs[:-1])  # (T, N, A)
    logp = log_probs(logits, act)
    adv_pi = normalized_advantages(adv, valid) if normalize else adv
    policy_loss = -(valid * disc * adv_pi * logp).sum() / n_valid
    if entropy_coef > 0:  # bonus d'entropie : on maximise aussi β H(π(·|S))
        policy_loss = policy_loss - entropy_coef * (valid * categorical_entropy(logits)).sum() / n_valid
    # Perte du critique : son gradient est −δ ∇v̂(S, w) (semi-gradient, cible fixée)
    value_loss = 0.5 * (valid * (adv + v.detach() - v) ** 2).sum() / n_valid
    optimizer.zero_grad()
    (policy_loss + value_loss).backward()
    optimizer.step()
    return float(policy_loss.detach()), float(value_loss.detach())


def train_actor_critic(config: ActorCriticConfig) -> History:
    """Entraîne un acteur-critique (algorithme ``pg-algo-acteur-critique``) ; borné en épisodes et en pas."""
    if not isinstance(config, ActorCriticConfig):
        raise TypeError(f"`config` doit être un ActorCriticConfig, reçu {type(config).__name__}.")
    cfg = config
    generator = seed_everything(cfg.seed)
    policy, value = make_networks(cfg.env_id, cfg.hidden, cfg.theta_init)
    optimizer = make_optimizer(cfg.optimizer, [{"params": policy.parameters(), "lr": cfg.lr_policy},
                                               {"params": value.parameters(), "lr": cfg.lr_value}])
    mdp = env_mdp(cfg.env_id)
    envs = make_vector_env(cfg.env_id, cfg.n_envs)
    n, T = cfg.n_envs, cfg.n_steps
    rec = Recorder(cfg, progress_bar(None, cfg.progress, total=cfg.max_episodes, desc="Acteur-critique"))
    obs, _ = envs.reset(seed=cfg.seed)
    I = np.ones(n, dtype=np.float32)  # I = γ^t, t : pas dans l'épisode courant
    prev_done = np.zeros(n, dtype=bool)
    ep_ret, ep_len = np.zeros(n), np.zeros(n, dtype=int)
    while not rec.done():
        if mdp is not None:
            rec.objective(exact.objective(mdp, policy_table(policy), cfg.gamma))
        buf = {k: [] for k in ("obs", "act", "rew", "term", "done", "valid", "disc")}
        for _ in range(T):
            obs_t = torch.as_tensor(obs)
            with torch.inference_mode():
                act = sample_actions(policy(obs_t), generator)
            next_obs, rew, term, trunc, _ = envs.step(act.numpy())
            valid = ~prev_done  # après une fin d'épisode, le pas suivant est une réinitialisation
            done = term | trunc
            for k, x in (("obs", obs_t), ("act", act), ("rew", rew), ("term", term), ("done", done),
                         ("valid", valid), ("disc", I.copy())):
                buf[k].append(torch.as_tensor(np.asarray(x)) if k in ("obs", "act") else np.asarray(x, dtype=np.float32))
            rec.vector_step(ep_ret, ep_len, rew, valid, done)
            I = np.where(valid, I * (cfg.gamma if cfg.discount_weighting else 1.0), I)
            I[done] = 1.0
            prev_done = done
            obs = next_obs
        batch = {k: torch.stack(v) if k in ("obs", "act") else torch.as_tensor(np.stack(v)) for k, v in buf.items()}
        batch["obs"] = torch.cat([batch["obs"], torch.as_tensor(obs)[None]])
        # Les options ne sont passées que si elles servent : l'appel par défaut reste celui du livre.
        options = {k: v for k, v in (("normalize", cfg.normalize_advantages), ("entropy_coef", cfg.entropy_coef)) if v}
        with torch.no_grad():
            logits_before = policy(batch["obs"][:-1])  # (T, N, A)
        p_loss, v_loss = actor_critic_update(policy, value, optimizer, batch, cfg.gamma, cfg.gae_lambda, **options)
        rec.history.policy_loss.append(p_loss)
        rec.history.value_loss.append(v_loss)
        record_policy_change(rec.history, policy, batch, logits_before)
        rec.history.diverged = not parameters_finite(policy, value)
    envs.close()
    history = rec.close()
    history.policy, history.value = policy, value
    return history


def record_policy_change(history: History, policy, batch: dict, logits_before: Tensor) -> None:
    """Note dans ``history`` l'entropie de la politique avant la mise à jour et la divergence
    ``KL(π_avant ‖ π_après)``, moyennées sur les états valides du lot (équations ``pgr-eq-entropie``
    et ``pgr-eq-kl``), et le nombre de pas joués. Un lot sans pas valide (aucune mise à jour) n'est
    pas noté. Ne tire aucun nombre au hasard : les courses restent identiques."""
    valid = batch["valid"]
    n_valid = float(valid.sum())
    if n_valid == 0:
        return
    with torch.no_grad():
        logits_after = policy(batch["obs"][:-1])
        history.entropy.append(float((valid * categorical_entropy(logits_before)).sum()) / n_valid)
        history.kl.append(float((valid * categorical_kl(logits_before, logits_after)).sum()) / n_valid)
    history.update_steps.append(history.env_steps)


def run_actor_critic(**fields) -> History:
    """``train_actor_critic(ActorCriticConfig(**fields))`` : la forme qu'attend un bras de
    :func:`profond.compare.compare` (``run(seed=..., **réglages)``)."""
    return train_actor_critic(ActorCriticConfig(**fields))
