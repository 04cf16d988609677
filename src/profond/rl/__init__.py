"""Partie 4 : gradient de la politique (chapitre « Gradient de la politique »).

- :mod:`profond.rl.envs` : couloir court, petit PDM tabulaire (``gymnasium.Env``), environnements vectorisés ;
- :mod:`profond.rl.exact` : ``v_π``, ``q_π``, ``η``, ``μ``, ``J(θ)`` et vrai gradient par algèbre linéaire ;
- :mod:`profond.rl.estimators` : retours, avantages, résidus TD, GAE(λ) ;
- :mod:`profond.rl.montecarlo` : estimations de Monte-Carlo du gradient sur un PDM tabulaire ;
- :mod:`profond.rl.policies` : politiques (softmax linéaire, MLP à tête catégorielle) et critiques ;
- :mod:`profond.rl.reinforce`, :mod:`profond.rl.actor_critic`, :mod:`profond.rl.off_policy` : les agents ;
- :mod:`profond.rl.plots` : les figures, qui ne lisent que des ``History``.
"""

from profond.rl.actor_critic import ActorCriticConfig, train_actor_critic
from profond.rl.history import History
from profond.rl.off_policy import OffPolicyActorCriticConfig, train_off_policy_actor_critic
from profond.rl.reinforce import ReinforceConfig, train_reinforce

__all__ = [
    "ActorCriticConfig",
    "History",
    "OffPolicyActorCriticConfig",
    "ReinforceConfig",
    "train_actor_critic",
    "train_off_policy_actor_critic",
    "train_reinforce",
]
