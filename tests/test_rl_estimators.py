"""Estimateurs (profond.rl.estimators) sur des exemples calculés à la main."""

import pytest
import torch

from profond.rl.estimators import (advantages, discount_weights, discounted_return, gae_advantages,
                                   returns_to_go, td_residuals)


def test_discounted_return_by_hand():
    # 1 + 0,9·2 + 0,81·3 = 5,23
    assert discounted_return(torch.tensor([1.0, 2.0, 3.0]), 0.9).item() == pytest.approx(5.23)


def test_returns_to_go_by_hand():
    G = returns_to_go(torch.tensor([1.0, 2.0, 3.0]), 0.9)
    torch.testing.assert_close(G, torch.tensor([5.23, 4.7, 3.0]))
    assert G[0].item() == pytest.approx(discounted_return(torch.tensor([1.0, 2.0, 3.0]), 0.9).item())


def test_returns_to_go_batched_with_dones_and_bootstrap():
    rew = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])  # (T=3, N=2)
    dones = torch.tensor([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    G = returns_to_go(rew, 0.5, dones=dones, last_value=torch.tensor([4.0, 0.0]))
    # colonne 0 : 1 + 0,5(1 + 0,5(1 + 0,5·4)) = 2,25 ; colonne 1 coupée après t = 0
    torch.testing.assert_close(G, torch.tensor([[2.25, 1.0], [2.5, 1.5], [3.0, 1.0]]))


def test_td_residuals_by_hand():
    delta = td_residuals(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 2.0]), torch.tensor([2.0, 3.0]), 0.9,
                         terminated=torch.tensor([0.0, 1.0]))
    # 1 + 0,9·2 − 0,5 = 2,3 ; 0 + 0 − 2 = −2 (état suivant terminal)
    torch.testing.assert_close(delta, torch.tensor([2.3, -2.0]))


def test_gae_limits_lambda_zero_and_one():
    rew, v = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 1.0, -1.0])
    v_next = torch.cat([v[1:], torch.zeros(1)])
    term = torch.tensor([0.0, 0.0, 1.0])
    delta = td_residuals(rew, v, v_next, 0.9, terminated=term)
    torch.testing.assert_close(gae_advantages(delta, 0.9, 0.0), delta)
    # λ = 1 : somme télescopique, Â_t = G_t − v(S_t)
    torch.testing.assert_close(gae_advantages(delta, 0.9, 1.0), advantages(returns_to_go(rew, 0.9), v))
    # λ = 0,5 à la main : Â_2 = δ_2, Â_1 = δ_1 + 0,45 δ_2
    A = gae_advantages(delta, 0.9, 0.5)
    assert A[1].item() == pytest.approx((delta[1] + 0.45 * delta[2]).item())


def test_discount_weights():
    torch.testing.assert_close(discount_weights(4, 0.9), torch.tensor([1.0, 0.9, 0.81, 0.729]))


def test_bad_inputs():
    with pytest.raises(TypeError, match="`rewards` doit être un tenseur"):
        returns_to_go([1.0, 2.0], 0.9)
    with pytest.raises(ValueError, match="`gamma` doit appartenir"):
        returns_to_go(torch.ones(3), 1.5)
    with pytest.raises(ValueError, match="`dones` doit être un tenseur de forme"):
        returns_to_go(torch.ones(3), 0.9, dones=torch.ones(2))
    with pytest.raises(ValueError, match="`baseline` doit avoir la forme"):
        advantages(torch.ones(3), torch.ones(2))
    with pytest.raises(ValueError, match="`values`"):
        td_residuals(torch.ones(3), torch.ones(2), torch.ones(3), 0.9)
