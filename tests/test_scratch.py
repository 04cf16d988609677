"""Le cadre sans autograd comparé à PyTorch (float64) : valeurs et tous les gradients."""

import pytest
import torch
from torch.testing import assert_close

from profond import scratch


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "ours, ref",
    [(scratch.Tanh, torch.tanh), (scratch.Sigmoid, torch.sigmoid), (scratch.ReLU, torch.relu)],
)
def test_activations_match_autograd(ours, ref):
    x = torch.randn(7, 5, dtype=torch.float64, generator=_gen())
    delta = torch.randn(7, 5, dtype=torch.float64, generator=_gen(1))
    m = ours()
    z = m.forward(x)
    xt = x.clone().requires_grad_(True)
    zt = ref(xt)
    zt.backward(delta)
    assert_close(z, zt.detach())
    assert_close(m.backward(delta), xt.grad)


def test_linear_matches_autograd():
    lin = scratch.Linear(4, 3, generator=_gen())
    x = torch.randn(6, 4, dtype=torch.float64, generator=_gen(1))
    delta = torch.randn(6, 3, dtype=torch.float64, generator=_gen(2))
    w = lin.params["weight"].clone().requires_grad_(True)
    b = lin.params["bias"].clone().requires_grad_(True)
    xt = x.clone().requires_grad_(True)
    zt = xt @ w + b
    zt.backward(delta)
    assert_close(lin.forward(x), zt.detach())
    assert_close(lin.backward(delta), xt.grad)
    assert_close(lin.grads["weight"], w.grad)
    assert_close(lin.grads["bias"], b.grad)


def test_linear_matches_torch_linear_and_accumulates():
    lin = scratch.Linear(4, 2, generator=_gen())
    ref = torch.nn.Linear(4, 2).double()
    with torch.no_grad():
        ref.weight.copy_(lin.params["weight"].T)
        ref.bias.copy_(lin.params["bias"])
    x = torch.randn(3, 4, dtype=torch.float64, generator=_gen(3))
    assert_close(lin(x), ref(x).detach())
    delta = torch.ones(3, 2, dtype=torch.float64)
    lin.backward(delta)
    lin.backward(delta)  # deux passes arrière : les gradients s'additionnent, comme .grad
    assert_close(lin.grads["bias"], torch.full((2,), 6.0, dtype=torch.float64))
    lin.zero_grad()
    assert lin.grads["weight"].abs().sum() == 0


def _out_and_targets(kind):
    """Sorties et cibles de chaque perte : régression, classes, probabilités et cibles 0/1."""
    if kind == "mse":
        return torch.randn(5, 2, dtype=torch.float64, generator=_gen()), torch.randn(5, 2, dtype=torch.float64, generator=_gen(1))
    if kind == "cross_entropy":
        return 3 * torch.randn(8, 4, dtype=torch.float64, generator=_gen()), torch.randint(0, 4, (8,), generator=_gen(1))
    p = torch.sigmoid(torch.randn(6, 3, dtype=torch.float64, generator=_gen()))
    return p, torch.randint(0, 2, (6, 3), generator=_gen(1)).double()


@pytest.mark.parametrize("loss_cls, ref, kind", [
    (scratch.MSELoss, torch.nn.functional.mse_loss, "mse"),
    (scratch.CrossEntropyLoss, torch.nn.functional.cross_entropy, "cross_entropy"),
    (scratch.BCELoss, torch.nn.functional.binary_cross_entropy, "bce"),
])
def test_losses_match_autograd(loss_cls, ref, kind):
    out, y = _out_and_targets(kind)
    loss = loss_cls()
    value = loss(out, y)
    ot = out.clone().requires_grad_(True)
    expected = ref(ot, y)
    expected.backward()
    assert_close(value, expected.detach())
    assert_close(loss.backward(), ot.grad)
    if kind == "cross_entropy":  # le gradient vaut (SoftMax − one-hot)/N : chaque ligne somme à zéro
        assert_close(loss.backward().sum(dim=1), torch.zeros(8, dtype=torch.float64))


def test_cross_entropy_is_stable_for_large_scores():
    out = torch.tensor([[1000.0, 0.0]], dtype=torch.float64)
    value = scratch.CrossEntropyLoss()(out, torch.tensor([1]))
    assert_close(value, torch.tensor(1000.0, dtype=torch.float64))


def test_softmax_matches_torch():
    z = torch.randn(4, 5, dtype=torch.float64, generator=_gen())
    assert_close(scratch.softmax(z), torch.softmax(z, dim=-1))
    assert_close(scratch.logsumexp(z), torch.logsumexp(z, dim=-1))


def test_sequential_gradients_match_autograd():
    net = scratch.Sequential(
        scratch.Linear(5, 6, generator=_gen(0)), scratch.Tanh(),
        scratch.Linear(6, 4, generator=_gen(1)), scratch.ReLU(),
        scratch.Linear(4, 3, generator=_gen(2)),
    )
    x = torch.randn(9, 5, dtype=torch.float64, generator=_gen(3))
    y = torch.randint(0, 3, (9,), generator=_gen(4))
    loss = scratch.CrossEntropyLoss()
    value = loss(net(x), y)
    net.zero_grad()
    dx = net.backward(loss.backward())

    params = [p.clone().requires_grad_(True) for p, _ in net.parameters()]
    xt = x.clone().requires_grad_(True)
    w1, b1, w2, b2, w3, b3 = params
    out = torch.relu(torch.tanh(xt @ w1 + b1) @ w2 + b2) @ w3 + b3
    ref = torch.nn.functional.cross_entropy(out, y)
    ref.backward()
    assert_close(value, ref.detach())
    assert_close(dx, xt.grad)
    for (_, g), pt in zip(net.parameters(), params):
        assert_close(g, pt.grad)


def test_sigmoid_bce_chain_matches_autograd():
    net = scratch.Sequential(scratch.Linear(3, 2, generator=_gen(0)), scratch.Sigmoid())
    x = torch.randn(4, 3, dtype=torch.float64, generator=_gen(1))
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    loss = scratch.BCELoss()
    loss(net(x), y)
    net.zero_grad()
    net.backward(loss.backward())
    w, b = (p.clone().requires_grad_(True) for p, _ in net.parameters())
    torch.nn.functional.binary_cross_entropy(torch.sigmoid(x @ w + b), y).backward()
    (_, gw), (_, gb) = net.parameters()
    assert_close(gw, w.grad)
    assert_close(gb, b.grad)


def test_train_scratch_learns_digits():
    from profond import seed_everything
    from profond.intro import digits_tensors

    seed_everything(0)  # un seul thread : sur une machine chargée, deux threads se gênent

    x, y, xv, yv = (t.double() if t.is_floating_point() else t for t in digits_tensors(None, seed=0))
    net = scratch.Sequential(scratch.Linear(64, 32, generator=_gen(0)), scratch.Tanh(),
                             scratch.Linear(32, 10, generator=_gen(1)))
    h = scratch.train_scratch(net, scratch.CrossEntropyLoss(), x, y, lr=0.1, epochs=8, x_val=xv, y_val=yv)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.metrics["val_accuracy"][-1] > 0.9


def test_errors():
    lin = scratch.Linear(3, 2)
    with pytest.raises(ValueError, match="3 colonnes"):
        lin(torch.zeros(4, 5, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="avant forward"):
        scratch.Linear(3, 2).backward(torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="même forme"):
        scratch.MSELoss()(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match="indices de classe"):
        scratch.CrossEntropyLoss()(torch.zeros(4, 3), torch.zeros(4))
    with pytest.raises(TypeError, match="pas une liste"):
        scratch.Sequential([scratch.Tanh()])
