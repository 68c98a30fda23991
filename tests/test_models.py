import math

import numpy as np
import pytest
import torch

from geocgan.checkpoint import export_model, load_model, read_checkpoint, save_checkpoint
from geocgan.constraints import Canvas, FieldSpec, constraint_tensor, from_points
from geocgan.errors import CheckpointError, GridError, InputError
from geocgan.evaluate import WellPixels, conditional_realizations
from geocgan.models import build_model, constraint_loss
from geocgan.models.base import Batch
from geocgan.models.nets import PatchDiscriminator
from geocgan.models.pixel_cgan import (
    PixelCGANConfig,
    diversity,
    fair_crps,
    moment_loss,
    moment_target_of,
)
from geocgan.simulate import generate_batches, simulate
from geocgan.train import config_changes

CAT = FieldSpec("categorical", codes=[0, 1, 2])


@pytest.mark.parametrize("size", [(32, 32), (64, 48), (128, 128), (256, 256)])
def test_fcn_generator_takes_any_multiple_of_16(size):
    m = build_model("pixel-cgan", {"arch": "fcn", "ngf": 8}, CAT)
    h, w = size
    z = [torch.randn(2, *s) for s in m.noise_shapes(h, w)]
    cond = torch.zeros(2, 4, h, w)
    x = m.generate(z, cond)
    assert x.shape == (2, 3, h, w)
    assert torch.allclose(x.sum(1), torch.ones(2, h, w), atol=1e-5)  # softmax over facies
    d = m.D(x, cond)
    assert d.shape[:2] == (2, 1)


def test_dcgan28_shapes_and_unconditional_baseline():
    for conditional in (True, False):
        m = build_model(
            "pixel-cgan",
            {"arch": "dcgan28", "conditional": conditional, "output": "tanh"},
            FieldSpec(),
        )
        z = [torch.randn(3, *s) for s in m.noise_shapes(28, 28)]
        x = m.generate(z, torch.zeros(3, 2, 28, 28))
        assert x.shape == (3, 1, 28, 28) and x.abs().max() <= 1
    with pytest.raises(GridError, match="only takes 28x28 grids, got 32x32"):
        m.check_grid(32, 32)


@pytest.mark.parametrize("h, w", [(40, 64), (16, 16), (100, 96)])
def test_fcn_refuses_grids_it_cannot_take(h, w):
    m = build_model("pixel-cgan", {"arch": "fcn"}, CAT)
    with pytest.raises(GridError, match="multiples of 16 and at least 32"):
        m.check_grid(h, w)


def test_constraint_loss_equals_the_formula_on_a_hand_computed_case():
    # two maps, K = 1: map 0 has wells at two pixels, map 1 at one pixel
    real = torch.zeros(2, 1, 3, 3)
    fake = torch.zeros(2, 1, 3, 3)
    mask = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    real[0, 0, 0, 0], fake[0, 0, 0, 0], mask[0, 0, 0, 0] = 1.0, 0.0, True  # error 1
    real[0, 0, 2, 2], fake[0, 0, 2, 2], mask[0, 0, 2, 2] = (
        0.0,
        3.0,
        True,
    )  # error 9 (zero-valued well)
    real[1, 0, 1, 1], fake[1, 0, 1, 1], mask[1, 0, 1, 1] = 2.0, 0.0, True  # error 4
    fake[1, 0, 0, 1] = 100.0  # off the mask: must not count
    # ||C - M ⊙ G||² per map / wells per map, averaged: ((1 + 9) / 2 + 4 / 1) / 2 = 4.5
    assert constraint_loss(fake, real, mask).item() == pytest.approx(4.5)
    # and with C built as the networks see it
    c = constraint_tensor(real, mask)
    direct = ((c[:, :1] - mask * fake) ** 2).sum((1, 2, 3)) / mask.sum((1, 2, 3))
    assert direct.mean().item() == pytest.approx(4.5)


def test_lambda_weights_the_constraint_term_in_the_generator_step():
    """With plain SGD the generator's update is linear in λ: G's step = -(∇L_adv + λ ∇L_C)."""
    spec = FieldSpec()
    real = torch.randn(4, 1, 32, 32)
    updates = {}
    for lam in (0.0, 1.0, 2.0):
        torch.manual_seed(0)
        m = build_model(
            "pixel-cgan", {"arch": "fcn", "lam": lam, "ngf": 8, "ndf": 8, "density": 0.05}, spec
        )
        m.optimizers["G"] = torch.optim.SGD(m.G.parameters(), lr=1.0)
        before = torch.cat([p.detach().flatten().clone() for p in m.G.parameters()])
        out = m.train_step(Batch(real), torch.Generator().manual_seed(1))
        updates[lam] = torch.cat([p.detach().flatten() for p in m.G.parameters()]) - before
        assert set(out) == {"loss_d", "loss_g", "loss_c"}
    d1, d2 = updates[1.0] - updates[0.0], updates[2.0] - updates[1.0]
    assert d1.abs().max() > 1e-6  # the constraint term moves G
    assert torch.allclose(d1, d2, atol=1e-5)  # ... in proportion to λ


def test_unknown_model_arch_and_config_errors():
    with pytest.raises(
        InputError, match=r"model 'pix3pix' is unknown; valid models: .*pixel-cgan"
    ):
        build_model("pix3pix", {}, CAT)
    with pytest.raises(
        InputError, match=r"arch 'resnet' is unknown; choose one of \['fcn', 'dcgan28'\]"
    ):
        build_model("pixel-cgan", {"arch": "resnet"}, CAT)
    with pytest.raises(CheckpointError, match=r"config keys \['wings'\] are not settings"):
        build_model("pixel-cgan", {"wings": 2}, CAT)
    with pytest.raises(InputError, match="loss weights must be >= 0"):
        build_model("pixel-cgan", {"lam": -1}, CAT)


def test_constraints_shared_by_a_batch_give_the_same_fields_as_one_map_per_realization():
    """The sampler expands one constraint map over the batch; the generator then pools and
    convolves it once. That shortcut must not change the result."""
    torch.manual_seed(0)
    m = build_model("pixel-cgan", {"arch": "fcn", "ngf": 8}, CAT)
    real = torch.nn.functional.one_hot(torch.randint(0, 3, (1, 64, 64)), 3).permute(0, 3, 1, 2)
    mask = torch.rand(1, 1, 64, 64) < 0.02
    cond = constraint_tensor(real.float(), mask)  # (1, 4, 64, 64)
    z = [torch.randn(5, *s) for s in m.noise_shapes(64, 64)]
    with torch.no_grad():
        shared = m.generate(z, cond.expand(5, -1, -1, -1))
        each = m.generate(z, cond.repeat(5, 1, 1, 1))
    assert torch.allclose(shared, each, atol=1e-5)
    assert (shared[0] - shared[1]).abs().max() > 1e-3  # and the noise still matters


def test_moment_loss_on_hand_computed_cases():
    # facies: generated proportions 0.5 / 0.5 against real 0.25 / 0.75 -> 2 * 0.25² = 0.125
    fake = torch.full((2, 2, 4, 4), 0.5)
    real = torch.zeros(2, 2, 4, 4)
    real[:, 1] = 1.0
    real[:, 1, 0] = 0.0  # one row of four in class 0
    real[:, 0, 0] = 1.0
    assert moment_loss(fake, real, std=False).item() == pytest.approx(0.125)
    assert moment_loss(real, real, std=False).item() == 0.0
    # continuous: same mean (0), standard deviation 0 against s -> s²
    values = torch.randn(3, 1, 8, 8)
    values = values - values.mean()
    s = values.std().item()
    assert moment_loss(torch.zeros_like(values), values, std=True).item() == pytest.approx(s**2)


def test_moment_target_of_whole_images_and_matched_instead_of_the_batch():
    # a training image whose top quarter has no channel: windows see its inside more often,
    # the target is the whole image's 0.75 / 0.25 split
    ti = np.zeros((16, 16), np.int64)
    ti[4:8] = 1
    spec = FieldSpec("categorical", codes=[0, 1])
    assert moment_target_of([ti], spec) == [0.75, 0.25]
    assert moment_target_of([ti, 1 - ti], spec) == [0.5, 0.5]
    values = np.arange(16.0).reshape(4, 4)
    cont = FieldSpec.from_data(values, "continuous")
    encoded = cont.encode(torch.as_tensor(values)[None])
    assert moment_target_of([values], cont) == pytest.approx(
        [encoded.mean().item(), encoded.std().item()], abs=1e-6
    )
    # against the target, not the batch: proportions 0.5 / 0.5 against 0.75 / 0.25
    fake = torch.full((2, 2, 4, 4), 0.5)
    target = torch.tensor([0.75, 0.25])
    assert moment_loss(fake, fake, std=False, target=target).item() == pytest.approx(0.125)
    with pytest.raises(
        InputError, match="moment_target has 3 values; this categorical field needs 2"
    ):
        build_model("pixel-cgan", {"arch": "fcn", "moment_target": [0.2, 0.3, 0.5]}, spec)


def test_moment_target_survives_the_checkpoint_and_replaces_the_batch(tmp_path):
    from geocgan.checkpoint import load_model, save_checkpoint
    from geocgan.train import config_changes

    spec = FieldSpec("categorical", codes=[0, 1])
    cfg = {"arch": "fcn", "ngf": 4, "ndf": 4, "lam_moments": 1.0, "moment_target": [0.7, 0.3]}
    m = build_model("pixel-cgan", cfg, spec)
    save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 0})
    back, doc = load_model(tmp_path / "m.safetensors")
    assert back.config.moment_target == [0.7, 0.3] and config_changes(doc, m.config) == []
    # a batch with exactly 1/2 of each facies: a target of [0.5, 0.5] is the batch's own moments,
    # so the term is the same as without a target; [0.7, 0.3] makes it another
    real = spec.encode(torch.arange(2 * 32 * 32).reshape(2, 32, 32) % 2)
    loss = {}
    for target in ([], [0.5, 0.5], [0.7, 0.3]):
        torch.manual_seed(0)
        model = build_model("pixel-cgan", {**cfg, "moment_target": target}, spec)
        loss[str(target)] = model.train_step(Batch(real), torch.Generator().manual_seed(1))["loss_moments"]
    assert loss["[]"].item() == pytest.approx(loss["[0.5, 0.5]"].item(), abs=1e-7)
    assert abs(loss["[0.7, 0.3]"].item() - loss["[]"].item()) > 1e-4


def test_diversity_is_the_ratio_of_output_to_noise_differences():
    z = [torch.zeros(4, 2, 2, 2), torch.zeros(4, 1, 4, 4)]
    z[0][2:] = 1.0  # |z1 - z2| = 1 on 16 noise values of the first tensor, 0 on 32: mean 1/3
    fake = torch.zeros(4, 1, 4, 4)
    assert diversity(fake, z).item() == 0.0  # a collapsed generator
    fake[2:] = 0.3
    assert diversity(fake, z).item() == pytest.approx(0.3 * 3)


def test_fair_crps_is_lowest_for_draws_of_the_fields_distribution():
    """Fair CRPS of two draws against a field: for N(0, 1) fields it is 1/sqrt(pi) when the
    draws are N(0, 1) too, and higher for a biased, a too narrow or a too wide ensemble."""
    g = torch.Generator().manual_seed(0)
    y = torch.randn(4000, 1, 8, 8, generator=g)

    def score(shift=0.0, scale=1.0):
        x = shift + scale * torch.randn(8000, 1, 8, 8, generator=g)
        return fair_crps(x, y).item()

    calibrated = score()
    assert calibrated == pytest.approx(1 / math.sqrt(math.pi), abs=0.005)
    for other in (score(shift=0.3), score(scale=0.6), score(scale=1.5)):
        assert other > calibrated + 0.01
    assert fair_crps(torch.cat([y, y]), y).item() == 0.0  # both draws the field itself
    with pytest.raises(InputError, match="two realizations per field"):
        fair_crps(y[:3], y[:2])


def test_block_energy_score_sees_the_spatial_structure_the_crps_misses():
    """Fields constant over 4x4 blocks, N(0, 1): draws with the same structure and draws of
    white noise have the same per-pixel marginals, so the per-pixel CRPS cannot tell them
    apart; the energy score over 4x4 blocks scores the white noise worse. With patch 1 the
    score is the per-pixel CRPS itself."""
    g = torch.Generator().manual_seed(1)

    def blocky(n):  # (n, 1, 16, 16), constant over 4x4 blocks
        return torch.randn(n, 1, 4, 4, generator=g).repeat_interleave(4, 2).repeat_interleave(4, 3)

    y = blocky(3000)
    same, white = blocky(6000), torch.randn(6000, 1, 16, 16, generator=g)
    assert fair_crps(same, y).item() == pytest.approx(fair_crps(white, y).item(), abs=0.01)
    assert fair_crps(white, y, patch=4).item() > fair_crps(same, y, patch=4).item() + 0.05
    x, y = torch.randn(4, 2, 6, 6, generator=g), torch.randn(2, 2, 6, 6, generator=g)
    x1, x2 = x[:2], x[2:]
    per_pixel = 0.5 * ((x1 - y).abs() + (x2 - y).abs()) - 0.5 * (x1 - x2).abs()
    assert fair_crps(x, y, patch=1).item() == pytest.approx(per_pixel.mean().item())

    def block_norm(d):  # 4x4 blocks of a 6x6 grid: the one top-left block, the rest cropped
        return d[..., :4, :4].pow(2).sum((-2, -1)).sqrt() / 4

    blocks = 0.5 * (block_norm(x1 - y) + block_norm(x2 - y)) - 0.5 * block_norm(x1 - x2)
    assert fair_crps(x, y, patch=4).item() == pytest.approx(blocks.mean().item())
    with pytest.raises(InputError, match="crps patch 7"):
        fair_crps(x, y, patch=7)
    with pytest.raises(InputError, match="crps_patch"):
        build_model("pixel-cgan", {"lam_crps": 1.0, "crps_patch": 0}, FieldSpec())


def test_crps_term_scores_the_field_the_wells_came_from(monkeypatch):
    """With constraint maps drawn from other fields (``cond_source``), the CRPS target is those
    fields, and each of the two halves of the generated batch lines up with them."""
    import geocgan.models.pixel_cgan as pc

    seen = {}

    def spy(fake, field, patch=1):
        seen["fake"], seen["field"], seen["patch"] = fake, field, patch
        return fair_crps(fake, field, patch)

    monkeypatch.setattr(pc, "fair_crps", spy)
    m = build_model(
        "pixel-cgan",
        {"arch": "fcn", "ngf": 4, "ndf": 4, "density": 0.05, "lam_crps": 1.0, "crps_patch": 4},
        FieldSpec(),
    )
    real, source = torch.randn(3, 1, 32, 32), torch.randn(3, 1, 32, 32)
    out = m.train_step(Batch(real, cond_source=source), torch.Generator().manual_seed(0))
    assert seen["patch"] == 4
    assert seen["field"] is source and seen["fake"].shape[0] == 6 and out["crps"] > 0
    with pytest.raises(InputError, match="an unconditional model has none"):
        build_model("pixel-cgan", {"conditional": False, "lam_crps": 1.0}, FieldSpec())


@pytest.mark.parametrize("term", ["lam_moments", "lam_div", "lam_crps"])
def test_optional_terms_weight_the_generator_step_linearly(term):
    """As for λ: with plain SGD, G's update is linear in the weight of each optional term."""
    spec = FieldSpec()
    real = torch.randn(4, 1, 32, 32)
    updates, outs = {}, {}
    for weight in (1e-3, 1.0, 2.0):  # the term > 0 throughout, so the noise draws are the same
        torch.manual_seed(0)
        cfg = {"arch": "fcn", "ngf": 8, "ndf": 8, "density": 0.05, term: weight}
        m = build_model("pixel-cgan", cfg, spec)
        m.optimizers["G"] = torch.optim.SGD(m.G.parameters(), lr=1.0)
        before = torch.cat([p.detach().flatten().clone() for p in m.G.parameters()])
        outs[weight] = m.train_step(Batch(real), torch.Generator().manual_seed(1))
        updates[weight] = torch.cat([p.detach().flatten() for p in m.G.parameters()]) - before
    d1, d2 = updates[2.0] - updates[1.0], updates[1.0] - updates[1e-3]
    assert d1.abs().max() > 1e-6
    # linear up to float32 rounding, which PixelNorm amplifies where features are near 0
    assert (d2 - d1 * (1.0 - 1e-3)).abs().max() < 1e-3 * d1.abs().max()
    key = {"lam_moments": "loss_moments", "lam_div": "diversity", "lam_crps": "crps"}[term]
    assert key in outs[1.0] and outs[1.0][key] > 0


def test_ema_generator_is_the_running_average_of_the_trained_one(tmp_path):
    from geocgan.checkpoint import load_model, save_checkpoint

    spec = FieldSpec()
    torch.manual_seed(0)
    m = build_model("pixel-cgan", {"arch": "fcn", "ngf": 8, "ndf": 8, "ema": 0.9}, spec)
    start = [p.detach().clone() for p in m.G_ema.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(start, m.G.parameters(), strict=True))
    m.train_step(Batch(torch.randn(4, 1, 32, 32)), torch.Generator().manual_seed(1))
    for avg, before, now in zip(m.G_ema.parameters(), start, m.G.parameters(), strict=True):
        torch.testing.assert_close(avg, 0.9 * before + 0.1 * now.detach())
        assert not avg.requires_grad
    assert any(
        not torch.equal(a, b) for a, b in zip(m.G_ema.parameters(), m.G.parameters(), strict=True)
    )
    # the average generates, and travels with the checkpoint
    z = [torch.randn(2, *s) for s in m.noise_shapes(32, 32)]
    cond = torch.zeros(2, 2, 32, 32)
    with torch.no_grad():
        out = m.generate(z, cond)
        torch.testing.assert_close(out, m.activate(m.G_ema(z, cond)))
        assert not torch.allclose(out, m.activate(m.G(z, cond)))
    m2, _ = load_model(save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 1}))
    with torch.no_grad():
        torch.testing.assert_close(m2.generate(z, cond), out)
    with pytest.raises(InputError, match="ema decay must be in"):
        build_model("pixel-cgan", {"ema": 1.0}, spec)


def test_distillation_term_pulls_the_generator_towards_the_teachers_realizations():
    spec = FieldSpec()
    torch.manual_seed(0)
    teacher = build_model("pixel-cgan", {"arch": "fcn", "ngf": 8, "ndf": 8}, spec)
    cfg = {"arch": "fcn", "ngf": 4, "ndf": 4, "lr_g": 2e-3, "lam_distill": 10.0}
    student = build_model("pixel-cgan", cfg, spec)
    with pytest.raises(InputError, match="needs a teacher"):
        student.train_step(Batch(torch.randn(2, 1, 32, 32)), torch.Generator().manual_seed(1))
    student.distill_from(teacher)
    noise = torch.Generator().manual_seed(2)
    z = [torch.randn(8, *s, generator=noise) for s in student.noise_shapes(32, 32)]
    cond = torch.zeros(8, 2, 32, 32)

    def gap() -> float:
        with torch.no_grad():
            return float(((student.generate(z, cond) - teacher.generate(z, cond)) ** 2).mean())

    start = gap()
    g = torch.Generator().manual_seed(1)
    for _ in range(40):
        out = student.train_step(Batch(torch.randn(8, 1, 32, 32)), g)
    assert {"loss_d", "loss_g", "loss_c", "loss_distill"} <= set(out)
    assert gap() < 0.8 * start  # closer to the teacher on noise it never trained on
    assert not any("teacher" in k for k in student.state_dict())  # not saved with it
    other = build_model("pixel-cgan", {"arch": "fcn", "ngf": 8, "ndf": 8, "nz": 4}, spec)
    with pytest.raises(InputError, match="same noise"):
        student.distill_from(other)
    with pytest.raises(InputError, match="lam_distill > 0"):
        build_model("pixel-cgan", {"arch": "fcn", "ngf": 4}, spec).distill_from(teacher)


def test_reflect_padding_leaves_no_border_in_a_field_from_uniform_inputs():
    spec = FieldSpec()
    torch.manual_seed(0)
    out = {}
    for padding in ("zeros", "reflect"):
        m = build_model("pixel-cgan", {"arch": "fcn", "ngf": 4, "ndf": 4, "padding": padding}, spec)
        z = [torch.ones(1, *s) for s in m.noise_shapes(64, 48)]
        with torch.no_grad():
            out[padding] = m.generate(z, torch.zeros(1, 2, 64, 48))[0, 0]
    # uniform noise and no wells: mirrored padding sees uniform surroundings everywhere
    assert float(out["reflect"].std()) < 1e-5 * float(out["reflect"].abs().mean() + 1)
    # zero padding makes the edge differ from the inside
    assert float(out["zeros"].std()) > 1e-3
    with pytest.raises(InputError, match="padding 'same' is unknown"):
        build_model("pixel-cgan", {"padding": "same"}, spec)


@pytest.mark.parametrize("n_layers", [3, 4, 5])
def test_discriminator_receptive_field_is_the_documented_one(n_layers):
    """Each output logit sees a 7 * 2**n - 2 px window: what d_layers promises about the
    structures D can judge (54 px for 3 layers, 110 for 4, 222 for 5)."""
    d = PatchDiscriminator(1, 0, ndf=2, n_layers=n_layers)
    x = torch.zeros(1, 1, 256, 256, requires_grad=True)
    out = d(x, None)
    h = out.shape[-1] // 2
    out[0, 0, h, h].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()[:, 0]
    assert int(rows.max() - rows.min() + 1) == 7 * 2**n_layers - 2


def test_canvas_centres_small_grids_and_leaves_large_ones_as_before():
    spec = FieldSpec("categorical", [0, 1])
    plain = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2}, spec)
    assert plain.canvas(40, 50) == Canvas(48, 64, 0, 0, (40, 50))  # padded bottom/right
    wide = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2, "canvas": 96}, spec)
    c = wide.canvas(40, 100)
    assert (c.shape, c.top, c.left) == ((96, 112), 28, 0)  # rows centred, columns as before
    assert wide.canvas(128, 96) == plain.canvas(128, 96)
    small = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2, "canvas": 16}, spec)
    c = small.canvas(15, 99)  # a canvas is never under the nets' 32 px
    assert (c.shape, c.top, c.left) == ((32, 112), 8, 0)
    small.check_grid(*c.shape)
    with pytest.raises(InputError, match="canvas"):
        build_model("pixel-cgan", {"arch": "dcgan28", "canvas": 64}, spec)


def test_a_canvas_generates_the_grid_as_the_middle_of_the_larger_field():
    """The 40x40 grid's realizations are, pixel for pixel, the middle of the 96x96 field the
    same model makes (same noise) with the wells moved by the offset."""
    spec = FieldSpec("continuous")
    torch.manual_seed(0)
    model = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2, "canvas": 96}, spec)
    rows, cols, values = np.array([0, 17, 39]), np.array([5, 20, 39]), np.array([1.0, -1.0, 2.0])
    wells = WellPixels(rows, cols, values, ["a", "b", "c"])
    small = conditional_realizations(model, (40, 40), wells, n=3, seed=4)
    c = model.canvas(40, 40)
    assert small.shape == (3, 40, 40) and (c.top, c.left) == (28, 28)
    moved = WellPixels(rows + c.top, cols + c.left, values, ["a", "b", "c"])
    big = conditional_realizations(model, (96, 96), moved, n=3, seed=4)
    np.testing.assert_allclose(small, big[:, 28:68, 28:68], atol=1e-5)
    assert not np.allclose(small, big[:, :40, :40], atol=1e-2)  # not the corner


def test_canvas_is_part_of_the_config_and_an_export_may_set_it(tmp_path):
    spec = FieldSpec("categorical", [0, 1])
    model = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2}, spec)
    src = save_checkpoint(tmp_path / "a.safetensors", model, {"epoch": 3})
    doc = read_checkpoint(src)[1]
    assert config_changes(doc, PixelCGANConfig(ngf=4, ndf=4, nz=2)) == []
    # a resume that forgets the canvas is refused like any other setting
    assert config_changes(doc, PixelCGANConfig(ngf=4, ndf=4, nz=2, canvas=128)) == ["canvas"]
    out = export_model(src, tmp_path / "b.safetensors", canvas=128)
    again, _ = load_model(out)
    assert again.config.canvas == 128 and again.canvas(64, 64).shape == (128, 128)
    with pytest.raises(InputError, match="canvas"):
        export_model(src, tmp_path / "c.safetensors", canvas=-1)


def test_simulate_cuts_the_grid_out_of_the_canvas_and_takes_any_grid():
    spec = FieldSpec("continuous")
    torch.manual_seed(1)
    model = build_model("pixel-cgan", {"ngf": 4, "ndf": 4, "nz": 2, "canvas": 64}, spec)
    cons = from_points((20, 70), [3, 19], [0, 69], [1.5, -1.0])
    fields = simulate(model, cons, 2, seed=3)
    assert fields.shape == (2, 20, 70)
    c = model.canvas(20, 70)
    raw = next(generate_batches(model, c.place(cons), range(2), seed=3))[1]
    np.testing.assert_array_equal(fields, raw[:, c.top : c.top + 20, :70])
