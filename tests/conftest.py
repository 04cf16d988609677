"""Avant tout test : les mêmes noyaux de calcul que la construction du site (profond.kernels), pour
les tests qui calculent ici comme pour les noyaux Jupyter qu'ils lancent."""

from profond.kernels import pin_cpu_kernels

pin_cpu_kernels()


import pytest  # noqa: E402
from torch.testing import assert_close  # noqa: E402


def _same_as_reference(ours, ref, x, dy, *, buffers=(), parameters=True, **tolerance):
    """Un passage avant puis arrière des deux couches sur les mêmes ``x`` et ∂L/∂y : mêmes sorties,
    mêmes gradients (entrée et, si ``parameters``, chaque paramètre), mêmes tampons nommés dans
    ``buffers``. Les gradients des paramètres sont remis à zéro ensuite, pour enchaîner les pas."""
    x = x.detach().clone().requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    y, y_ref = ours(x), ref(x_ref)
    assert_close(y, y_ref, **tolerance)
    y.backward(dy)
    y_ref.backward(dy)
    assert_close(x.grad, x_ref.grad, **tolerance)
    if parameters:
        for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
            assert_close(p.grad, q.grad, msg=name, **tolerance)
    ours.zero_grad()
    ref.zero_grad()
    for name in buffers:
        a, b = getattr(ours, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert_close(a, b, **tolerance)


@pytest.fixture
def same_as_reference():
    """La comparaison d'une couche écrite ici à sa jumelle de PyTorch (voir ``_same_as_reference``)."""
    return _same_as_reference
