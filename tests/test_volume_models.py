"""3-D nets and training, soft probability maps and proportions as conditions."""

import numpy as np
import pytest
import torch

from geocgan.conditioning import (
    calibration,
    check_soft,
    condition_maps,
    proportion_line,
    proportion_range_of,
    proportion_vector,
    smooth,
)
from geocgan.constraints import Constraints, FieldSpec, random_masks
from geocgan.errors import GridError, InputError
from geocgan.fields import channel_field, channel_field_3d
from geocgan.models import build_model
from geocgan.models.base import Batch
from geocgan.models.nets import PatchDiscriminator, SpatialGenerator
from geocgan.models.pixel_cgan import PixelCGANConfig
from geocgan.simulate import generate_batches

TINY = {"nz": 2, "ngf": 4, "ndf": 4, "d_layers": 2}


pytestmark = pytest.mark.usefixtures("one_thread")  # 3-D convolutions: see conftest


SPEC = FieldSpec(kind="categorical", codes=[0, 1])


@pytest.mark.parametrize("size", [(32, 32, 32), (32, 48, 64), (48, 32, 16)])
def test_3d_nets_shapes(size):
    g = SpatialGenerator(2, 3, nz=2, ngf=4, ndim=3)
    z = [torch.randn(2, *s) for s in g.noise_shapes(2, *size)]
    cond = torch.zeros(2, 3, *size)
    assert g(z, cond).shape == (2, 2, *size)
    d = PatchDiscriminator(2, 3, ndf=4, n_layers=2, ndim=3)
    assert d(torch.zeros(2, 2, *size), cond).shape == (2, 1, *(n // 4 for n in size))


def test_2d_nets_keep_their_parameter_shapes():
    g2 = SpatialGenerator(2, 3, nz=2, ngf=4)
    g3 = SpatialGenerator(2, 3, nz=2, ngf=4, ndim=3)
    s2, s3 = g2.state_dict(), g3.state_dict()
    assert s2.keys() == s3.keys()
    assert s2["stages.0.noise_scale"].shape == (1, 16, 1, 1)
    assert s3["stages.0.noise_scale"].shape == (1, 16, 1, 1, 1)
    assert s2["out.weight"].shape == (2, 2, 3, 3) and s3["out.weight"].shape == (2, 2, 3, 3, 3)


def test_random_masks_3d():
    g = torch.Generator().manual_seed(0)
    m = random_masks(3, (8, 16, 20), density=0.01, generator=g)
    assert m.shape == (3, 1, 8, 16, 20) and m.sum((1, 2, 3, 4)).tolist() == [26, 26, 26]
    wells = random_masks(2, (8, 16, 20), density=0.02, mode="borehole", generator=g)
    columns = wells[:, 0].any(1)  # (B, H, W) plan cells drilled
    assert columns.sum((1, 2)).tolist() == [6, 6]  # round(0.02 * 320)
    assert bool((wells[:, 0] == columns[:, None]).all())  # every layer of a drilled column
    part = random_masks(2, (8, 16, 20), density=0.02, mode="borehole", partial=True, generator=g)
    assert 0 < part.sum() < wells.sum()


def test_encode_decode_volumes():
    vol = torch.as_tensor(channel_field_3d((4, 6, 8), n=2)).float()
    enc = SPEC.encode(vol)
    assert enc.shape == (2, 2, 4, 6, 8)
    assert torch.equal(SPEC.decode(enc), vol)


def train_3d(lam: float, steps: int = 12) -> dict:
    torch.manual_seed(0)
    vols = channel_field_3d((32, 32, 32), proportion=0.3, width=6, thickness=3, n=6, seed=0)
    x = SPEC.encode(torch.as_tensor(vols).float())
    cfg = PixelCGANConfig(
        ndim=3, density=0.02, mode="borehole", lam=lam, lr_g=2e-3, lr_d=2e-3, **TINY
    )
    m = build_model("pixel-cgan", cfg, SPEC, seed=0)
    g = torch.Generator().manual_seed(0)
    for i in range(steps):
        m.train_step(Batch(x=x[2 * (i % 3) : 2 * (i % 3) + 2]), g)
    held = torch.as_tensor(vols[:2]).float()
    mask = random_masks(2, (32, 32, 32), density=0.02, mode="borehole", generator=g)
    return m.validate((held, mask), torch.Generator().manual_seed(1))


def test_short_3d_training_lambda_lowers_the_constrained_voxel_error():
    """12 steps on 32³ channel volumes (~3 s of CPU each): λ = 10 ends at 0.37, λ = 0 at 0.48."""
    with_lam, without = train_3d(10.0), train_3d(0.0)
    assert with_lam["val_loss_c"] < without["val_loss_c"] - 0.05


def test_3d_model_generates_volumes_with_soft_and_proportion():
    cfg = PixelCGANConfig(ndim=3, soft=True, proportion=True, lam_soft=1, lam_prop=1, **TINY)
    m = build_model("pixel-cgan", cfg, SPEC, seed=0)
    vol = channel_field_3d((32, 32, 32), proportion=0.3, width=6, thickness=3, n=2)
    out = m.train_step(Batch(x=SPEC.encode(torch.as_tensor(vol).float())), torch.Generator())
    assert {"loss_soft", "loss_prop"} <= out.keys()
    mask = np.zeros((32, 32, 32), bool)
    mask[:, 5, 7] = True
    wells = Constraints(np.where(mask, vol[0], np.nan), mask)
    soft = np.stack([np.full((32, 32, 32), 0.7), np.full((32, 32, 32), 0.3)])
    cond = condition_maps(
        SPEC, (32, 32, 32), soft=True, proportion=True, constraints=wells, soft_map=soft, target=0.3
    )
    assert cond.shape == (1, 7, 32, 32, 32)
    (_, fields), *_ = list(generate_batches(m, cond, range(2), seed=3))
    assert fields.shape == (2, 32, 32, 32)
    with pytest.raises(GridError, match="multiples of 16"):
        m.check_grid(32, 32, 40)
    with pytest.raises(GridError, match=r"3-D model cannot take a grid of shape \(32, 32\)"):
        m.check_grid(32, 32)


def test_smooth_keeps_probabilities_and_spreads():
    one_hot = SPEC.encode(torch.as_tensor(channel_field_3d((8, 16, 16), n=1)).float())
    soft = smooth(one_hot, 2.0)
    assert torch.allclose(soft.sum(1), torch.ones(1, 8, 16, 16), atol=1e-5)
    assert 0 < soft.min() and soft.max() < 1
    assert torch.allclose(smooth(one_hot, 0.1), one_hot, atol=1e-6)  # narrower than a cell


def test_calibration_on_known_ensembles():
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0, 1, (32, 32))
    soft = np.stack([1 - p1, p1])
    follows = (rng.uniform(size=(400, 32, 32)) < p1).astype(int)  # facies 1 with probability p1
    ignores = (rng.uniform(size=(400, 32, 32)) < 0.5).astype(int)
    assert calibration(follows, soft, [0, 1])["slope"] == pytest.approx(1.0, abs=0.02)
    assert calibration(ignores, soft, [0, 1])["slope"] == pytest.approx(0.0, abs=0.02)
    curve = calibration(follows, soft, [0, 1], bins=5)["curve"]
    assert len(curve) == 5 and all(abs(c["p"] - c["freq"]) < 0.02 for c in curve)
    assert proportion_line([0.1, 0.2, 0.4], [0.15, 0.25, 0.45]) == pytest.approx(
        {"slope": 1.0, "offset": 0.05}
    )


@pytest.mark.parametrize(
    ("soft", "match"),
    [
        (np.full((3, 4, 4), 1 / 3), r"shape \(3, 4, 4\) does not fit.*facies \[0, 1\]"),
        (np.stack([np.full((4, 4), 0.5), np.full((4, 4), 0.6)]), r"sum to 1.*sum to 1\.1"),
        (np.stack([np.full((4, 4), -0.5), np.full((4, 4), 1.5)]), r"in \[0, 1\]"),
    ],
)
def test_bad_probability_maps(soft, match):
    with pytest.raises(InputError, match=match):
        check_soft(soft, SPEC, (4, 4), "soft map")


@pytest.mark.parametrize(
    ("value", "match"),
    [(1.2, r"in \(0, 1\)"), (0.0, r"in \(0, 1\)"), ([0.2, 0.3, 0.5], "needs 2 values")],
)
def test_bad_proportions(value, match):
    with pytest.raises(InputError, match=match):
        proportion_vector(value, SPEC)
    assert proportion_vector(0.3, SPEC).tolist() == [0.7, 0.3]


def test_proportion_outside_the_trained_range():
    imgs = np.stack([np.zeros((4, 4)), np.ones((4, 4))])
    imgs[0, 0, :2] = 1  # facies 1: 1/8 and 1
    assert proportion_range_of(imgs, SPEC) == [[0.0, 0.875], [0.125, 1.0]]
    rng = [[0.3, 0.9], [0.1, 0.5]]
    cond = condition_maps(
        SPEC, (32, 32), soft=False, proportion=True, target=0.3, trained_range=rng
    )
    assert cond.shape == (1, 5, 32, 32) and float(cond[0, 4, 0, 0]) == pytest.approx(0.3)
    with pytest.raises(InputError, match=r"proportion 0.6 of facies 1 is outside .*\(0.1 to 0.5\)"):
        condition_maps(SPEC, (32, 32), soft=False, proportion=True, target=0.6, trained_range=rng)


def test_conditions_a_model_was_not_trained_with():
    with pytest.raises(InputError, match="not trained with a proportion"):
        condition_maps(SPEC, (32, 32), soft=True, proportion=False, target=0.3)
    with pytest.raises(InputError, match="need a conditional 'fcn' model"):
        PixelCGANConfig(arch="dcgan28", soft=True)
    with pytest.raises(InputError, match="ndim must be 2, or 3"):
        PixelCGANConfig(ndim=4)
    with pytest.raises(InputError, match="facies"):
        build_model("pixel-cgan", PixelCGANConfig(soft=True, **TINY), FieldSpec(), seed=0)


def test_tiny_training_follows_the_proportion_and_the_soft_map():
    """80 steps of a tiny 32² model (~3 s of CPU): a higher requested proportion gives more
    channel (measured 0.019 at 0.15, 0.068 at 0.45: the right way, far from the values), and
    a soft map of 0.9 / 0.1 on the left / right half gives 0.996 / 0.010."""
    rng = np.random.default_rng(0)
    props = rng.uniform(0.1, 0.5, 32)
    imgs = np.stack(
        [
            channel_field((32, 32), proportion=float(p), width=4.0, seed=i)
            for i, p in enumerate(props)
        ]
    )
    x = SPEC.encode(torch.as_tensor(imgs).float())
    cfg = PixelCGANConfig(
        density=0.01,
        soft=True,
        proportion=True,
        lam_soft=10,
        lam_prop=10,
        lr_g=2e-3,
        lr_d=2e-3,
        **TINY,
    )
    m = build_model("pixel-cgan", cfg, SPEC, seed=0)
    g = torch.Generator().manual_seed(0)
    for i in range(80):
        m.train_step(Batch(x=x[(8 * i) % 32 : (8 * i) % 32 + 8]), g)
    m.eval()

    def ensemble(**given) -> np.ndarray:
        cond = condition_maps(SPEC, (32, 32), soft=True, proportion=True, **given)
        return np.concatenate([f for _, f in generate_batches(m, cond, range(16), seed=1)])

    low, high = ensemble(target=0.15).mean(), ensemble(target=0.45).mean()
    assert high > low + 0.02
    soft = np.zeros((2, 32, 32))
    soft[1, :, :16], soft[1, :, 16:] = 0.9, 0.1
    soft[0] = 1 - soft[1]
    f = ensemble(soft_map=soft)
    assert f[:, :, :16].mean() > 0.7 and f[:, :, 16:].mean() < 0.2
