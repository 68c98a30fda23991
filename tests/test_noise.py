"""Noise schemes: Philox bits against numpy's and Random123's, batch independence, moments."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from geocgan import noise
from geocgan.errors import InputError
from geocgan.seeds import derive_seed, torch_generator

SHAPES = [(16, 2, 3), (1, 4, 6), (1, 8, 12)]  # like SpatialGenerator.noise_shapes(16, 32, 48)
CUDA = torch.cuda.is_available()


def words64(*tensors) -> list[int]:
    return [int(t) & (2**64 - 1) for t in tensors]


def test_philox4x64_known_answer_and_numpy():
    """Random123's known answer for a zero key and counter, and numpy's Philox (4x64-10)
    for random keys and counters: the same 64-bit words."""
    zero = torch.zeros(1, dtype=torch.int64)
    out = noise.philox4x64(zero, zero, torch.zeros(2, dtype=torch.int64))
    assert words64(*out) == [
        0x16554D9ECA36314C,
        0xDB20FE9D672D0FDC,
        0xD7E772CEE186176B,
        0x7E68B68AEC7BA23B,
    ]
    rng = np.random.default_rng(0)
    for _ in range(5):
        k0, k1, c0, c1 = (int(x) for x in rng.integers(0, 2**64, 4, dtype=np.uint64))
        key = torch.tensor([noise._signed(k0), noise._signed(k1)])
        ours = noise.philox4x64(
            torch.tensor([noise._signed(c0)]), torch.tensor([noise._signed(c1)]), key
        )
        # numpy adds one to the counter before each block
        bitgen = np.random.Philox(key=k0 | k1 << 64, counter=(c0 | c1 << 64) - 1)
        assert words64(*ours) == [int(x) for x in bitgen.random_raw(4)]


def test_philox_words_numpy_and_torch_agree():
    """The CPU's numpy path and the device path give the same 32-bit words, and they are
    numpy's raw output for the counter (0, i, 0, 0) split low half first."""
    idx = [0, 1, 7, 2**40 + 3]
    a = noise.philox_words(5, idx, 37, impl="numpy")
    b = noise.philox_words(5, idx, 37, impl="torch")
    assert a.dtype == torch.int32 and a.shape == (4, 37)
    assert torch.equal(a, b)
    key = derive_seed(5, noise.NOISE_STREAM)
    bitgen = np.random.Philox(key=key, counter=(7 << 64) - 1)
    raw = bitgen.random_raw(5).view(np.uint32).astype(np.int64)  # 10 words, low half first
    assert (a[2, :10].numpy().astype(np.int64) & 0xFFFFFFFF).tolist() == raw.tolist()


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_philox_cpu_and_cuda_agree():
    idx = list(range(0, 2000, 7))
    cpu = noise.philox_words(3, idx, 1001)
    gpu = noise.philox_words(3, idx, 1001, device="cuda")
    assert torch.equal(cpu, gpu.cpu())
    zc = noise.draw(SHAPES, 3, idx)
    zg = noise.draw(SHAPES, 3, idx, device="cuda")
    for c, g in zip(zc, zg, strict=True):
        torch.testing.assert_close(g.cpu(), c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scheme", noise.SCHEMES)
def test_realization_independent_of_batch(scheme):
    """Realization i is the same in any batch, order or call; another seed changes it."""
    whole = noise.draw(SHAPES, 11, range(10), scheme=scheme)
    assert [tuple(t.shape) for t in whole] == [(10, *s) for s in SHAPES]
    assert all(t.dtype == torch.float32 for t in whole)
    part = noise.draw(SHAPES, 11, [9, 3], scheme=scheme)
    again = noise.draw(SHAPES, 11, range(10), scheme=scheme)
    other = noise.draw(SHAPES, 12, range(10), scheme=scheme)
    for w, p, a, o in zip(whole, part, again, other, strict=True):
        assert torch.equal(w[[9, 3]], p)
        assert torch.equal(w, a)
        assert not torch.equal(w, o)
    assert not torch.equal(whole[0][0], whole[0][1])  # realizations differ from each other


def test_torch_scheme_is_the_old_draws():
    """Scheme "torch": one generator per realization seeded by (seed, i), parts in order."""
    parts = [
        (3, 4),
        SimpleNamespace(shape=(5,), dist="uniform", classes=0),
        SimpleNamespace(shape=(2, 4), dist="categorical", classes=4),
    ]
    z = noise.draw(parts, 4, [6, 2], scheme="torch")
    for row, i in enumerate([6, 2]):
        g = torch_generator(4, i)
        assert torch.equal(z[0][row], torch.randn((3, 4), generator=g))
        assert torch.equal(z[1][row], torch.rand((5,), generator=g) * 2 - 1)
        k = torch.randint(4, (2,), generator=g)
        assert torch.equal(z[2][row], torch.nn.functional.one_hot(k, 4).float())


def test_philox_moments():
    """Normals: mean 0, variance 1, kurtosis 3, two-sided 2-sigma tail 4.55 %; uniforms on
    [-1, 1] with variance 1/3; categories one-hot with equal frequencies."""
    parts = [
        (50, 100),
        SimpleNamespace(shape=(101,), dist="uniform", classes=0),
        SimpleNamespace(shape=(10, 3), dist="categorical", classes=3),
    ]
    z, u, c = noise.draw(parts, 0, range(40))
    z = z.double().flatten()  # 200 000 values
    n = len(z)
    assert abs(z.mean()) < 4 / n**0.5
    assert abs(z.var() - 1) < 4 * (2 / n) ** 0.5
    assert abs((z**4).mean() - 3) < 4 * (96 / n) ** 0.5
    assert abs((z.abs() > 2).double().mean() - 0.0455) < 0.003
    assert z.abs().max() < 6.7
    assert u.min() >= -1 and u.max() <= 1
    assert abs(u.double().var() - 1 / 3) < 0.02
    assert torch.equal(c.sum(-1), torch.ones(40, 10))
    assert (c.mean((0, 1)) - 1 / 3).abs().max() < 0.06
    # the parts of a realization are not copies of each other
    first = noise.draw([(8,), (8,)], 0, [0])
    assert not torch.equal(first[0], first[1])


def test_adding_a_part_keeps_the_earlier_ones():
    one = noise.draw([(3, 5)], 2, range(4))
    two = noise.draw([(3, 5), (7,)], 2, range(4))
    assert torch.equal(one[0], two[0])


def test_bad_scheme_and_latent():
    with pytest.raises(InputError, match="noise scheme 'mt'.*philox"):
        noise.draw(SHAPES, 0, [0], scheme="mt")
    with pytest.raises(InputError, match="latent dist 'gamma'"):
        noise.draw([SimpleNamespace(shape=(3,), dist="gamma", classes=0)], 0, [0])
    with pytest.raises(InputError, match="shape ending in its classes"):
        noise.draw([SimpleNamespace(shape=(3,), dist="categorical", classes=4)], 0, [0])


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_sampler_gives_the_cpu_ensemble():
    """The GPU loop (noise on the device, pinned copies, batch k queued before k - 1 is
    handed over) gives the CPU's realizations, whatever the batch size."""
    from geocgan.constraints import FieldSpec, from_points
    from geocgan.models import build_model
    from geocgan.simulate import simulate

    config = {"ngf": 4, "ndf": 4, "nz": 2, "d_layers": 2}
    model = build_model("pixel-cgan", config, FieldSpec("continuous"), seed=0)
    cons = from_points((32, 48), np.array([3, 20]), np.array([5, 9]), np.array([0.5, -1.0]))
    cpu = simulate(model, cons, 9, seed=2, batch_size=4)
    model.to("cuda")
    gpu = [simulate(model, cons, 9, seed=2, batch_size=batch) for batch in (4, 9)]
    np.testing.assert_allclose(gpu[0], gpu[1], atol=1e-5 * cpu.std())
    np.testing.assert_allclose(gpu[0], cpu, atol=1e-2 * cpu.std())  # cuDNN may use TF32
