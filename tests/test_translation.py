"""Image-to-image translation: pix2pix, CycleGAN, super-resolution and `geocgan translate`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from typer.testing import CliRunner

from geocgan.checkpoint import load_model, save_checkpoint
from geocgan.cli import app
from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.fields.pairs import coarse_fine, facies_permeability, two_styles
from geocgan.models import build_model
from geocgan.models.cyclegan import CycleGAN, ImagePool
from geocgan.models.image_nets import PatchGAN, gan_loss
from geocgan.models.pix2pix import Pix2Pix
from geocgan.models.srgan import SRGAN, block_mean
from geocgan.pairs import PairedArray, PairedPatches, Unpaired
from geocgan.train import FieldArray, TrainConfig, Trainer
from geocgan.translate import read_raster, translate, translate_array

runner = CliRunner()
CRS = "EPSG:32631"
TRANSFORM = Affine(25.0, 0, 500000.0, 0, -25.0, 4600000.0)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: faster on one thread


def tiny_pix2pix(source_kind="continuous", kind="continuous", seed=0, **cfg):
    x = np.random.default_rng(0).normal(size=(8, 16, 16)).astype(np.float32)
    src = (x > 0).astype(np.float32) if source_kind == "categorical" else x
    tgt = (x > 0.5).astype(np.float32) if kind == "categorical" else x
    spec = Pix2Pix.translation_spec(tgt, src, kind, source_kind)
    config = {"ngf": 4, "ndf": 4, "levels": 3, "receptive_field": 16, **cfg}
    return build_model("pix2pix", config, spec, seed=seed)


def write_tif(path, data, *, crs=CRS, nodata=-9999.0, dtype="float32", transform=TRANSFORM):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype))
    return path


# -- losses against hand cases -----------------------------------------------------------------


def test_gan_losses_by_hand():
    logits = torch.tensor([0.0, 2.0])
    # cross-entropy: -log sigmoid(0) = log 2; -log sigmoid(2) = log(1 + e^-2)
    want = (np.log(2) + np.log1p(np.exp(-2))) / 2
    assert gan_loss(logits, True).item() == pytest.approx(want, rel=1e-6)
    assert gan_loss(logits, False).item() == pytest.approx(
        (np.log(2) + np.log1p(np.exp(2))) / 2, rel=1e-6
    )
    # least squares: ((0-1)^2 + (2-1)^2)/2 = 1 for real; (0 + 4)/2 = 2 for fake
    assert gan_loss(logits, True, "lsgan").item() == pytest.approx(1.0)
    assert gan_loss(logits, False, "lsgan").item() == pytest.approx(2.0)


def test_block_mean_by_hand():
    x = torch.arange(16.0).reshape(1, 4, 4)
    np.testing.assert_allclose(block_mean(x, 2)[0], [[2.5, 4.5], [10.5, 12.5]])


def test_patchgan_receptive_fields():
    for rf in (1, 16, 70):
        d = PatchGAN(1, 4, rf).eval()  # batch norm on running statistics: local
        x = torch.zeros(1, 1, 96, 96, requires_grad=True)
        out = d(x)
        out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).ravel()
        assert rows.max() - rows.min() + 1 <= rf  # the patch one logit sees
        assert rows.max() - rows.min() + 1 >= rf - 3  # padding may hide a border row or two
    with pytest.raises(InputError, match="1, 16, 70, 286"):
        PatchGAN(1, 4, 32)


def test_dropout_keep_masks_are_the_rate_and_realizations_differ():
    m = tiny_pix2pix()
    u = torch.rand(1, 2000) * 2 - 1
    keep = m.keep_masks([u])[0]
    assert (keep == 0).float().mean().item() == pytest.approx(0.5, abs=0.05)
    assert set(keep.unique().tolist()) == {0.0, 2.0}


def test_pix2pix_loss_is_gan_plus_lambda_l1():
    """With an untrainable D (lr 0) the G step's loss terms equal hand-computed ones."""
    m = tiny_pix2pix(lam_l1=100.0)
    data = PairedArray(*[np.random.default_rng(1).normal(size=(4, 16, 16))] * 2)
    batch = m.encode(data.sample(4, torch.Generator().manual_seed(0)))
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    out = m.train_step(batch, g)
    assert set(out) == {"loss_d", "loss_g_gan", "loss_l1"}
    assert 0 < out["loss_l1"] and 0 < out["loss_g_gan"]


# -- history pool, schedule and resume ------------------------------------------------------


def test_image_pool_fills_then_swaps_and_reloads_its_shape():
    pool = ImagePool(3)
    g = torch.Generator().manual_seed(0)
    first = torch.arange(3.0).reshape(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first, g), first)
    assert pool.images.shape == (3, 1, 2, 2)
    new = torch.full((20, 1, 2, 2), 9.0)
    out = pool.query(new, g)
    swapped = (out[:, 0, 0, 0] != 9).sum().item()
    assert 3 <= swapped <= 17  # about half come from the history
    back = ImagePool(3)
    back.load_state_dict(pool.state_dict())
    assert torch.equal(back.images, pool.images)


def test_cyclegan_learning_rate_is_held_then_decays_linearly():
    a, b = two_styles(4, (16, 16))
    spec = CycleGAN.translation_spec(a, b, "continuous", "continuous")
    m = build_model(
        "cyclegan", {"ngf": 2, "ndf": 2, "n_blocks": 1, "hold_steps": 2, "decay_steps": 4}, spec
    )
    assert [m.lr_factor(s) for s in (0, 2, 3, 4, 6, 9)] == [1, 1, 0.75, 0.5, 0.0, 0.0]


def test_cyclegan_pool_and_schedule_resume_bit_identically(tmp_path):
    a, b = two_styles(8, (16, 16))
    spec = CycleGAN.translation_spec(a, b, "continuous", "continuous")
    cfg = {"ngf": 2, "ndf": 2, "n_blocks": 1, "receptive_field": 16, "pool_size": 5}
    cfg |= {"hold_steps": 2, "decay_steps": 4}

    def run(epochs, path, resume=False):
        m = build_model("cyclegan", cfg, spec, seed=0)
        data = Unpaired(FieldArray(a), FieldArray(b))
        tc = TrainConfig(epochs=epochs, batch_size=2, steps_per_epoch=3, device="cpu", val_size=2)
        Trainer(m, data, tc, checkpoint=path, progress=False).fit(resume=resume)
        return load_model(path, training_state=True)

    whole, _ = run(2, tmp_path / "a.safetensors")
    run(1, tmp_path / "b.safetensors")
    resumed, _ = run(2, tmp_path / "b.safetensors", resume=True)
    assert whole.pool_A.images.shape == (5, 1, 16, 16)
    assert int(whole.clock.step) == 6
    for (k, v), w in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(v, w), k
    assert whole.optimizers["G"].param_groups[0]["lr"] == pytest.approx(2e-4 * 0.5 * 0.5 + 0)
    assert (
        resumed.optimizers["G"].param_groups[0]["lr"] == whole.optimizers["G"].param_groups[0]["lr"]
    )


# -- a few steps lower each model's loss ---------------------------------------------------------


def _train(model, data, steps=40):
    tc = TrainConfig(epochs=1, batch_size=4, steps_per_epoch=steps, device="cpu", val_size=4)
    g = torch.Generator().manual_seed(0)
    losses = []
    for batch in data.batches(tc.batch_size, steps, g):
        losses.append({k: float(v) for k, v in model.train_step(model.encode(batch), g).items()})
    return losses


def test_few_steps_lower_each_models_loss():
    torch.manual_seed(0)
    facies, logk = facies_permeability(8, (16, 16), seed=2)
    spec = Pix2Pix.translation_spec(logk, facies, "continuous", "categorical")
    p2p = build_model(
        "pix2pix",
        {"ngf": 8, "ndf": 4, "levels": 3, "receptive_field": 16, "lr": 2e-3},
        spec,
        seed=0,
    )
    l1 = [r["loss_l1"] for r in _train(p2p, PairedArray(logk, facies))]
    assert np.mean(l1[-5:]) < 0.7 * np.mean(l1[:5])

    coarse, fine = coarse_fine(8, (32, 32), factor=2, seed=1)
    spec = SRGAN.translation_spec(fine, coarse, "continuous", "continuous")
    sr = build_model(
        "srgan",
        {"nf": 8, "n_blocks": 1, "ndf": 4, "factor": 2, "nz": 1, "receptive_field": 16, "lr": 2e-3},
        spec,
        seed=0,
    )
    pix = [r["loss_pixel"] for r in _train(sr, PairedArray(fine, coarse, scale=2))]
    assert np.mean(pix[-5:]) < 0.7 * np.mean(pix[:5])

    a, b = two_styles(8, (16, 16), seed=3)
    spec = CycleGAN.translation_spec(a, b, "continuous", "continuous")
    cg = build_model(
        "cyclegan",
        {"ngf": 4, "ndf": 4, "n_blocks": 1, "receptive_field": 16, "lr": 2e-3},
        spec,
        seed=0,
    )
    cyc = [r["loss_cycle"] for r in _train(cg, Unpaired(FieldArray(a), FieldArray(b)), 30)]
    assert np.mean(cyc[-5:]) < 0.7 * np.mean(cyc[:5])


def test_super_resolution_with_wells_honours_them():
    """A coarse map and fine-scale wells give a fine ensemble that honours the wells: the
    same model's squared error at the wells is several times lower with them than without
    (measured 0.057 against 0.26 after 100 steps)."""
    from geocgan.constraints import from_points
    from geocgan.simulate import generate_batches

    c, f = coarse_fine(32, (32, 32), factor=4, seed=1)
    spec = SRGAN.translation_spec(f, c, "continuous", "continuous")
    cfg = {"nf": 8, "n_blocks": 1, "ndf": 4, "factor": 4, "nz": 2, "receptive_field": 16}
    cfg |= {"lr": 2e-3, "lam_wells": 30.0, "well_density": 0.05}
    m = build_model("srgan", cfg, spec, seed=0)
    data, g = PairedArray(f, c, scale=4), torch.Generator().manual_seed(0)
    for batch in data.batches(8, 100, g):
        m.train_step(m.encode(batch), g)
    ct, ft = coarse_fine(1, (32, 32), factor=4, seed=9)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, 32, 10), rng.integers(0, 32, 10)
    wells = from_points((32, 32), rows, cols, ft[0, rows, cols])
    with_wells = m.ensemble_with_wells(ct[0], wells, 8, seed=1)
    cond = m.input_spec.encode(torch.as_tensor(ct))
    without = np.concatenate([x for _, x in generate_batches(m, cond, range(8), seed=1)])
    err = [((e[:, rows, cols] - ft[0, rows, cols]) ** 2).mean() for e in (with_wells, without)]
    assert err[0] < 0.5 * err[1], err
    assert with_wells.std(0).mean() > 0.02  # still an ensemble
    np.testing.assert_array_equal(m.ensemble_with_wells(ct[0], wells, 3, seed=1), with_wells[:3])
    with pytest.raises(InputError, match="fine grid"):
        m.ensemble_with_wells(ct[0], from_points((16, 16), [1], [1], [0.0]), 2)


def test_paired_patches_are_aligned_across_scales():
    fine = np.arange(64.0 * 64).reshape(64, 64)
    coarse = block_mean(torch.as_tensor(fine)[None], 4)[0].numpy()
    data = PairedPatches([fine], [coarse], 16, scale=4)
    b = data.sample(3, torch.Generator().manual_seed(0))
    np.testing.assert_allclose(block_mean(b.x, 4), b.source)
    with pytest.raises(InputError, match="not aligned"):
        PairedPatches([fine], [coarse[:-1]], 16, scale=4)


# -- translate ---------------------------------------------------------------------------------


def test_translate_a_1000x700_float32_geotiff_with_nodata(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(700, 1000)).astype(np.float32)
    data[100:150, 200:260] = -9999.0
    src = write_tif(tmp_path / "in.tif", data)
    m = tiny_pix2pix()
    out = tmp_path / "out.tif"
    summary = translate(m, src, out, tile=256)
    assert summary["shape"] == [700, 1000]
    with rasterio.open(out) as o:
        assert (o.height, o.width, o.count) == (700, 1000, 1)
        assert o.crs == rasterio.crs.CRS.from_string(CRS) and o.transform == TRANSFORM
        assert o.nodata == -9999.0 and o.dtypes[0] == "float32"
        got = o.read(1)
    assert (got[100:150, 200:260] == -9999.0).all()
    assert np.isfinite(got).all() and (got != -9999.0).sum() == 700 * 1000 - 50 * 60


def test_tiled_equals_untiled_within_tolerance(tmp_path):
    """The tiny U-Net (3 levels) sees about 43 px. Tiles drop the first quarter of their
    overlap at an inner edge and ramp up over the next half. Overlap 64 px: the blend equals
    one pass to float rounding (measured 5e-7 of the output's spread); 32 px: within 5 % at
    the worst pixel (measured 2.1 %, mean 0.09 %)."""
    rng = np.random.default_rng(1)
    raster = read_raster(write_tif(tmp_path / "in.tif", rng.normal(size=(140, 200))))
    m = tiny_pix2pix()
    torch.manual_seed(0)
    for mod in m.G.modules():  # outputs of unit scale, not the small ones of a fresh pix2pix
        if isinstance(mod, torch.nn.Conv2d | torch.nn.ConvTranspose2d):
            mod.reset_parameters()
    one = next(translate_array(m, raster, [0, 1], tile=None))[1]
    assert one.shape == (2, 140, 200) and not np.allclose(one[0], one[1])  # dropout noise
    tiled = next(translate_array(m, raster, [0, 1], tile=128, overlap=64))[1]
    assert np.abs(one - tiled).max() < 1e-5 * one.std()
    tiled = next(translate_array(m, raster, [0, 1], tile=48, overlap=32))[1]
    err = np.abs(one - tiled) / one.std()
    assert err.max() < 0.05 and err.mean() < 0.005, (err.max(), err.mean())


def test_realization_does_not_depend_on_batch_or_tiling_batch(tmp_path):
    raster = read_raster(
        write_tif(tmp_path / "in.tif", np.random.default_rng(2).normal(size=(40, 24)))
    )
    m = tiny_pix2pix()
    a = np.concatenate([f for _, f in translate_array(m, raster, range(3), batch_size=1)])
    b = np.concatenate([f for _, f in translate_array(m, raster, range(3), batch_size=3)])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_facies_output_codes_colour_table_and_ensemble_store(tmp_path):
    from geocgan.io.ensemble import open_ensemble

    data = np.random.default_rng(3).normal(size=(40, 56)).astype(np.float32)
    data[:5, :5] = -9999.0
    src = write_tif(tmp_path / "in.tif", data)
    m = tiny_pix2pix(kind="categorical")
    translate(m, src, tmp_path / "f.tif")
    with rasterio.open(tmp_path / "f.tif") as o:
        assert o.dtypes[0] == "uint8" and o.nodata == 255
        assert o.colormap(1)[1][:3] == (31, 119, 180)
        got = o.read(1)
    assert (got[:5, :5] == 255).all() and set(np.unique(got[5:])) <= {0, 1}
    translate(m, src, tmp_path / "e.zarr", n=3)
    ds = open_ensemble(tmp_path / "e.zarr")
    assert ds["facies"].shape == (3, 40, 56) and ds.rio.crs == rasterio.crs.CRS.from_string(CRS)
    assert np.isnan(ds["facies"].values[:, :5, :5]).all()
    with pytest.raises(Exception, match="exists"):
        translate(m, src, tmp_path / "f.tif")


def test_super_resolution_output_grid(tmp_path):
    coarse, fine = coarse_fine(4, (16, 16), factor=2)
    spec = SRGAN.translation_spec(fine, coarse, "continuous", "continuous")
    m = build_model("srgan", {"nf": 4, "n_blocks": 1, "ndf": 4, "factor": 2, "nz": 1}, spec)
    src = write_tif(tmp_path / "c.tif", np.random.default_rng(0).normal(size=(30, 44)))
    translate(m, src, tmp_path / "f.tif", tile=16, overlap=8)
    with rasterio.open(tmp_path / "f.tif") as o:
        assert (o.height, o.width) == (60, 88)
        assert o.transform == TRANSFORM @ Affine.scale(0.5)


def test_netcdf_and_zarr_input(tmp_path):
    import rioxarray  # noqa: F401
    import xarray as xr

    src = write_tif(tmp_path / "in.tif", np.random.default_rng(4).normal(size=(20, 30)))
    da = xr.open_dataarray(src, engine="rasterio").squeeze("band", drop=True)
    da.to_dataset(name="perm").to_netcdf(tmp_path / "in.nc")
    r = read_raster(tmp_path / "in.nc")
    assert r.shape == (20, 30) and r.crs == rasterio.crs.CRS.from_string(CRS)
    translate(tiny_pix2pix(), tmp_path / "in.nc", tmp_path / "o.tif")
    da.to_dataset(name="perm").to_zarr(tmp_path / "in.zarr")
    translate(tiny_pix2pix(), tmp_path / "in.zarr", tmp_path / "z.tif")
    with rasterio.open(tmp_path / "z.tif") as o:
        assert o.crs == rasterio.crs.CRS.from_string(CRS) and o.transform == TRANSFORM
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.transform == TRANSFORM


# -- bad input ---------------------------------------------------------------------------------


def test_bad_inputs_are_refused_and_nothing_is_written(tmp_path):
    m = tiny_pix2pix()
    out = tmp_path / "o.tif"
    two = write_tif(tmp_path / "two.tif", np.zeros((2, 20, 20)))
    with pytest.raises(InputError, match="2 band.*1-band"):
        translate(m, two, out)
    u8 = write_tif(tmp_path / "u8.tif", np.ones((20, 20)), dtype="uint8", nodata=0)
    with pytest.raises(InputError, match="uint8 values; the model was trained on float32"):
        translate(m, u8, out, doc={"input_dtype": "float32"})
    empty = write_tif(tmp_path / "empty.tif", np.full((20, 20), -9999.0))
    with pytest.raises(InputError, match="every pixel .* is nodata"):
        translate(m, empty, out)
    with pytest.raises(InputError, match="CycleGAN"):
        translate(m, write_tif(tmp_path / "ok.tif", np.zeros((20, 20))), out, direction="AtoB")
    assert not out.exists()


def test_cyclegan_direction_that_does_not_exist(tmp_path):
    a, b = two_styles(4, (16, 16))
    spec = CycleGAN.translation_spec(a, b, "continuous", "continuous")
    m = build_model("cyclegan", {"ngf": 2, "ndf": 2, "n_blocks": 1}, spec)
    src = write_tif(tmp_path / "a.tif", a[0])
    with pytest.raises(InputError, match="direction 'AtoC' does not exist.*AtoB.*BtoA"):
        translate(m, src, tmp_path / "o.tif", direction="AtoC")
    translate(m, src, tmp_path / "o.tif", direction="BtoA")
    assert m.oriented("AtoB").spec.to_dict() == spec.source.to_dict() | {"source": spec.to_dict()}


def test_non_translation_model_names_its_command(tmp_path):
    m = build_model("pixel-cgan", {"nz": 2, "ngf": 4, "ndf": 4, "d_layers": 2}, FieldSpec())
    src = write_tif(tmp_path / "a.tif", np.zeros((32, 32)))
    with pytest.raises(InputError, match="geocgan simulate` instead of `geocgan translate"):
        translate(m, src, tmp_path / "o.tif")


def test_no_crs_warns_and_writes_without(tmp_path):
    src = write_tif(tmp_path / "nocrs.tif", np.zeros((20, 20)), crs=None)
    with pytest.warns(UserWarning, match="no CRS"):
        translate(tiny_pix2pix(), src, tmp_path / "o.tif")
    with rasterio.open(tmp_path / "o.tif") as o:
        assert o.crs is None and o.transform == TRANSFORM


def test_raster_smaller_than_the_net_is_padded_and_cropped(tmp_path):
    src = write_tif(tmp_path / "small.tif", np.random.default_rng(5).normal(size=(5, 3)))
    m = tiny_pix2pix(levels=4)  # the U-Net takes multiples of 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        translate(m, src, tmp_path / "o.tif")
    with rasterio.open(tmp_path / "o.tif") as o:
        assert (o.height, o.width) == (5, 3) and np.isfinite(o.read(1)).all()


# -- the command line --------------------------------------------------------------------------


def test_cli_trains_the_three_models_and_translates(tmp_path):
    facies, logk = facies_permeability(8, (32, 32), seed=1)
    big_facies, big_logk = facies_permeability(1, (64, 64), seed=2)
    perm = write_tif(tmp_path / "logk.tif", big_logk[0])
    codes = write_tif(tmp_path / "codes.tif", big_facies[0], dtype="uint8", nodata=255)
    a, b = two_styles(8, (32, 32))
    np.savez(tmp_path / "styles.npz", x=a, other=b)
    fine = write_tif(tmp_path / "fine.tif", np.random.default_rng(0).normal(size=(64, 64)))
    common = [
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "2",
        "-q",
        "--device",
        "cpu",
    ]
    runs = {
        "pix2pix": [
            str(perm),
            "--source",
            str(codes),
            "--patch",
            "32",
            "--kind",
            "continuous",
            "--source-kind",
            "categorical",
            "--set",
            "levels=3",
            "--set",
            "receptive_field=16",
            "--ngf",
            "4",
            "--ndf",
            "4",
        ],
        "cyclegan": [
            str(tmp_path / "styles.npz"),
            "--kind",
            "continuous",
            "--set",
            "n_blocks=1",
            "--set",
            "receptive_field=16",
            "--ngf",
            "2",
            "--ndf",
            "2",
        ],
        "srgan": [
            str(fine),
            "--kind",
            "continuous",
            "--patch",
            "32",
            "--set",
            "factor=2",
            "--set",
            "n_blocks=1",
            "--set",
            "nf=4",
            "--set",
            "receptive_field=16",
            "--ndf",
            "4",
        ],
    }
    for name, args in runs.items():
        ck = tmp_path / f"{name}.safetensors"
        r = runner.invoke(app, ["train", *args, "--model", name, "--out", str(ck), *common])
        assert r.exit_code == 0, r.output
        assert load_model(ck)[1]["model"] == name
    assert load_model(tmp_path / "pix2pix.safetensors")[1]["input_dtype"] == "uint8"
    pix2pix = str(tmp_path / "pix2pix.safetensors")
    r = runner.invoke(
        app,
        ["translate", str(codes), "-m", pix2pix, "-o", str(tmp_path / "k.zarr"), "-n", "2", "-q"],
    )
    assert r.exit_code == 0, r.output
    as_float = write_tif(tmp_path / "f32.tif", facies[0])
    r = runner.invoke(
        app, ["translate", str(as_float), "-m", pix2pix, "-o", str(tmp_path / "x.tif")]
    )
    assert r.exit_code == 1 and "trained on uint8 rasters" in r.output
    cyclegan = str(tmp_path / "cyclegan.safetensors")
    r = runner.invoke(
        app,
        [
            "translate",
            str(perm),
            "-m",
            cyclegan,
            "-o",
            str(tmp_path / "c.tif"),
            "--direction",
            "AtoX",
        ],
    )
    assert r.exit_code == 1 and "does not exist" in r.output and not (tmp_path / "c.tif").exists()


def test_multi_band_input(tmp_path):
    """The missing-pixels task's input: two bands (values, mask), normalised per band."""
    from geocgan.fields.pairs import missing_pixels

    src, full = missing_pixels(4, (16, 16), density=0.05)
    spec = Pix2Pix.translation_spec(full, src, "continuous", "continuous")
    assert spec.source.bands == 2 and len(spec.source.center) == 2
    m = build_model("pix2pix", {"ngf": 4, "ndf": 4, "levels": 3, "receptive_field": 16}, spec)
    stack = np.stack([src[0, 0], src[0, 1]])
    stack[:, 0, 0] = -9999.0
    translate(m, write_tif(tmp_path / "two.tif", stack), tmp_path / "o.tif")
    with rasterio.open(tmp_path / "o.tif") as o:
        got = o.read(1)
    assert got[0, 0] == -9999.0 and (got != -9999.0).sum() == 16 * 16 - 1
    with pytest.raises(InputError, match="1 band.*2-band"):
        translate(m, write_tif(tmp_path / "one.tif", src[0, 0]), tmp_path / "p.tif")


def test_training_windows_the_nets_cannot_take_name_the_fix():
    m = tiny_pix2pix(levels=5)
    data = PairedArray(*[np.zeros((4, 16, 16), np.float32)] * 2)
    with pytest.raises(InputError, match="multiples of 32 .*--set levels=N"):
        Trainer(m, data, TrainConfig(device="cpu"), checkpoint="x.safetensors")


def test_checkpoint_of_a_translation_model_round_trips(tmp_path):
    m = tiny_pix2pix(source_kind="categorical", kind="categorical")
    save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 0})
    back, doc = load_model(tmp_path / "m.safetensors")
    assert back.spec == m.spec and back.input_spec.kind == "categorical"
    assert doc["field"]["source"]["codes"] == [0, 1]
