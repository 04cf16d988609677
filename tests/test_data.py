import numpy as np
import pytest
import torch

from profond.data import RandomShift, Standardizer, load_split, make_loaders, shift_images, to_dataset


@pytest.mark.parametrize("name, n_features", [("iris", 4), ("digits", 64), ("diabetes", 10)])
def test_standardisation_fitted_on_train_only(name, n_features):
    raw = load_split(name, seed=0, standardize=False)
    s = load_split(name, seed=0)
    assert s.x_train.shape[1] == n_features
    np.testing.assert_allclose(s.x_train.mean(axis=0), 0.0, atol=1e-10)
    std = s.x_train.std(axis=0)
    np.testing.assert_allclose(std[std > 0], 1.0, rtol=1e-10)
    # La validation est transformée avec les statistiques de l'entraînement, pas les siennes.
    mean, sd = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    np.testing.assert_allclose(s.x_val, (raw.x_val - mean) / sd, rtol=1e-12, atol=1e-12)


def test_split_is_stratified_and_seeded():
    a, b = load_split("digits", seed=3), load_split("digits", seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    counts = np.bincount(a.y_val, minlength=10)
    full = np.bincount(np.concatenate([a.y_train, a.y_val]), minlength=10)
    assert np.abs(counts - 0.25 * full).max() <= 1  # stratifié : un quart de chaque classe
    assert len(a.y_train) + len(a.y_val) == 1797


def test_n_train_keeps_validation_whole():
    s = load_split("digits", n_train=100)
    assert s.x_train.shape == (100, 64) and s.x_val.shape == (450, 64)
    with pytest.raises(ValueError, match="n_train"):
        load_split("iris", n_train=1000)


def test_loaders_types_and_shapes():
    train, val = make_loaders("iris", batch_size=16)
    x, y = next(iter(train))
    assert x.dtype == torch.float32 and y.dtype == torch.long and x.shape == (16, 4)
    train, val = make_loaders("diabetes", batch_size=8, dtype=torch.float64)
    x, y = next(iter(val))
    assert x.dtype == torch.float64 and y.shape == (111, 1)


def test_loader_order_is_seeded():
    a, _ = make_loaders("iris", seed=1)
    b, _ = make_loaders("iris", seed=1)
    assert torch.equal(next(iter(a))[1], next(iter(b))[1])


def test_standardizer_constant_column():
    sc = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(sc.transform(np.array([[2.0, 5.0]])), [[0.0, 0.0]])


def test_shift_images_and_random_shift():
    img = torch.arange(9.0).reshape(1, 3, 3)
    down = shift_images(img, 1, 0)
    assert torch.equal(down[0, 0], torch.zeros(3)) and torch.equal(down[0, 1], img[0, 0])
    left = shift_images(img, 0, -1)
    assert torch.equal(left[0, :, :2], img[0, :, 1:]) and torch.equal(left[0, :, 2], torch.zeros(3))
    x = torch.rand(50, 64, generator=torch.Generator().manual_seed(0))
    ds = RandomShift(x, torch.arange(50), generator=torch.Generator().manual_seed(0))
    seen = [not torch.equal(ds[i][0], x[i]) for i in range(50)]
    assert 30 <= sum(seen) < 50  # 8 décalages sur 9 changent l'image
    ds0 = RandomShift(x, torch.arange(50), max_shift=0)
    assert torch.equal(ds0[7][0], x[7])


def test_errors():
    with pytest.raises(ValueError, match="`name`"):
        load_split("housing")
    with pytest.raises(ValueError, match="val_fraction"):
        load_split("iris", val_fraction=1.5)
    with pytest.raises(ValueError, match="même nombre"):
        to_dataset(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="task"):
        to_dataset(np.zeros((3, 2)), np.zeros(3), task="autre")
    with pytest.raises(ValueError, match="batch_size"):
        make_loaders("iris", batch_size=0)
    with pytest.raises(ValueError, match="colonnes"):
        Standardizer.fit(np.zeros((3, 2))).transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="trop grand"):
        shift_images(torch.zeros(1, 3, 3), 3, 0)
    with pytest.raises(ValueError, match=r"\(N, 64\)"):
        RandomShift(torch.zeros(2, 10), torch.zeros(2))


def test_digits_tensors_scaled_and_built_on_split_tensors():
    from profond.data import digits_tensors, split_tensors

    x, y, xv, yv = digits_tensors(100, seed=0)
    assert x.shape == (100, 64) and xv.shape == (450, 64) and y.dtype == torch.long
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    raw = split_tensors(load_split("digits", seed=0, standardize=False, n_train=100))
    torch.testing.assert_close(x * 16, raw[0])
    assert torch.equal(yv, raw[3])


def test_tensor_loader_batches_and_seeded_order():
    from profond.data import tensor_loader

    x, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    batches = list(tensor_loader(x, y, batch_size=4, shuffle=False))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and torch.equal(batches[0][1], torch.arange(4))
    assert len(tensor_loader(x, y, 4, drop_last=True)) == 2
    a = [b[1] for b in tensor_loader(x, y, 4, generator=torch.Generator().manual_seed(5))]
    b = [b[1] for b in tensor_loader(x, y, 4, generator=torch.Generator().manual_seed(5))]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert sorted(torch.cat(a).tolist()) == list(range(10)) and torch.cat(a).tolist() != list(range(10))
    assert torch.equal(x[a[0]], [xb for xb, _ in tensor_loader(x, y, 4, generator=torch.Generator().manual_seed(5))][0])
    with pytest.raises(ValueError, match="même nombre"):
        tensor_loader(x, y[:5])


def _worker_batches(worker_init_fn, loader_seed=0, n=72):
    from torch.utils.data import DataLoader

    x = torch.rand(1, 64, generator=torch.Generator().manual_seed(1)).repeat(n, 1)  # la même image n fois
    ds = RandomShift(x, torch.zeros(n, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    loader = DataLoader(ds, batch_size=8, num_workers=2, worker_init_fn=worker_init_fn,
                        generator=torch.Generator().manual_seed(loader_seed))
    return [xb for xb, _ in loader]


def test_workers_copy_the_generator_unless_seed_worker_reseeds_it():
    from profond.data import seed_worker

    naive = _worker_batches(None)
    # les lots alternent entre les processus 0 et 1 : mêmes décalages, donc mêmes images
    assert all(torch.equal(a, b) for a, b in zip(naive[0::2], naive[1::2]))
    seeded = _worker_batches(seed_worker)
    same = torch.cat([(a == b).all(dim=1) for a, b in zip(seeded[0::2], seeded[1::2])]).float().mean()
    assert same < 0.4  # 1/9 attendu au hasard
    again = _worker_batches(seed_worker)
    assert all(torch.equal(a, b) for a, b in zip(seeded, again))  # reproductible : même graine du chargeur
    other = _worker_batches(seed_worker, loader_seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(seeded, other))
    with pytest.raises(RuntimeError, match="worker_init_fn"):
        seed_worker(0)


def test_worker_seeds_are_base_seed_plus_worker_id():
    from torch.utils.data import DataLoader

    from profond.data import WorkerSeeds

    rows = torch.cat(list(DataLoader(WorkerSeeds(8), batch_size=2, num_workers=2,
                                     generator=torch.Generator().manual_seed(0))))
    assert rows[:, 0].tolist() == list(range(8))
    assert rows[:, 1].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # les lots tournent entre les processus
    base = rows[0, 2].item()
    assert rows[:, 2].tolist() == [base + w for w in rows[:, 1].tolist()]
    assert WorkerSeeds(3)[2][1].item() == -1  # processus principal
    with pytest.raises(ValueError, match="n"):
        WorkerSeeds(0)
