"""La politique gaussienne (actions continues) : ln π, fonction score et entropie contre PyTorch, en float64."""

import math

import pytest
import torch
from torch.testing import assert_close

from profond.rl.gaussian import (GaussianPolicy, gaussian_entropy, gaussian_log_prob, gaussian_score,
                                 sample_gaussian)

D = torch.float64


def data(seed=0, shape=(5, 2)):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(shape, generator=g, dtype=D)
    mu = torch.randn(shape, generator=g, dtype=D)
    log_std = 0.5 * torch.randn(shape, generator=g, dtype=D)
    return a, mu, log_std


def test_log_prob_matches_torch_normal():
    a, mu, log_std = data()
    expected = torch.distributions.Normal(mu, log_std.exp()).log_prob(a).sum(-1)
    assert_close(gaussian_log_prob(a, mu, log_std), expected)


def test_log_prob_broadcasts_a_state_independent_log_std():
    a, mu, _ = data()
    log_std = torch.tensor([0.3, -0.7], dtype=D)
    expected = torch.distributions.Normal(mu, log_std.exp()).log_prob(a).sum(-1)
    assert_close(gaussian_log_prob(a, mu, log_std), expected)


def test_score_matches_autograd():
    a, mu, log_std = data(1)
    mu.requires_grad_(True)
    log_std.requires_grad_(True)
    # chaque ligne ne dépend que de ses propres (μ, ln σ) : le gradient de la somme est le score par ligne
    gaussian_log_prob(a, mu, log_std).sum().backward()
    d_mu, d_log_std = gaussian_score(a, mu.detach(), log_std.detach())
    assert_close(d_mu, mu.grad)
    assert_close(d_log_std, log_std.grad)


def test_score_by_hand():
    d_mu, d_log_std = gaussian_score(torch.tensor([1.5], dtype=D), torch.tensor([0.5], dtype=D),
                                     torch.tensor([math.log(2.0)], dtype=D))
    assert_close(d_mu, torch.tensor([0.25], dtype=D))  # (a − μ)/σ² = 1/4
    assert_close(d_log_std, torch.tensor([-0.75], dtype=D))  # (a − μ)²/σ² − 1 = 1/4 − 1


def test_score_has_zero_mean_under_the_policy():
    g = torch.Generator().manual_seed(0)
    mu, log_std = torch.tensor([0.3], dtype=D), torch.tensor([-0.5], dtype=D)
    a = sample_gaussian(mu.expand(200_000, 1), log_std, g)
    d_mu, d_log_std = gaussian_score(a, mu, log_std)
    assert abs(d_mu.mean().item()) < 0.03 and abs(d_log_std.mean().item()) < 0.02


def test_entropy_matches_torch_normal():
    _, _, log_std = data(2)
    assert_close(gaussian_entropy(log_std), torch.distributions.Normal(0.0, log_std.exp()).entropy().sum(-1))
    assert_close(gaussian_entropy(torch.zeros(1, dtype=D)), torch.tensor(0.5 * math.log(2 * math.pi * math.e), dtype=D))


def test_sampling_is_seeded_and_has_the_right_moments():
    mu, log_std = torch.tensor([1.0, -2.0]), torch.tensor([0.0, math.log(0.5)])
    a = sample_gaussian(mu.expand(100_000, 2), log_std, torch.Generator().manual_seed(3))
    b = sample_gaussian(mu.expand(100_000, 2), log_std, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert_close(a.mean(0), mu, atol=0.02, rtol=0)
    assert_close(a.std(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)


def test_policy_module():
    torch.manual_seed(0)
    pi = GaussianPolicy(3, 2, 8, log_std_init=-0.5).double()
    obs = torch.randn(4, 3, dtype=D)
    act = pi.sample(obs, torch.Generator().manual_seed(0))
    assert act.shape == (4, 2)
    expected = torch.distributions.Normal(pi(obs), pi.log_std.exp()).log_prob(act).sum(-1)
    assert_close(pi.log_prob(obs, act), expected)
    assert_close(pi.entropy(obs), torch.full((4,), 2 * (-0.5 + 0.5 * math.log(2 * math.pi * math.e)), dtype=D))
    assert "log_std" in pi.state_dict()


def test_bad_inputs_raise_french_errors():
    with pytest.raises(TypeError, match="tenseur"):
        gaussian_log_prob([0.0], torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="même forme"):
        gaussian_log_prob(torch.zeros(2, 1), torch.zeros(3, 1), torch.zeros(1))
    with pytest.raises(ValueError, match="strictement positif"):
        GaussianPolicy(3, 0, 8)
