"""Training, checkpoints and sampling: the behaviours users rely on."""

import json

import numpy as np
import pytest
import torch
from conftest import tiny_train_args

import geocgan
from geocgan.checkpoint import (
    META_KEY,
    export_model,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from geocgan.constraints import FieldSpec, from_points, sample_constraints
from geocgan.errors import CheckpointError, InputError
from geocgan.models import build_model
from geocgan.models.base import Batch
from geocgan.simulate import auto_batch_size, simulate
from geocgan.train import FieldArray, PatchSampler, TrainConfig, Trainer

SMALL = {"arch": "fcn", "ngf": 8, "ndf": 8, "nz": 4, "d_layers": 3, "density": 0.02}


def small_model(**kw):
    return build_model("pixel-cgan", {**SMALL, **kw}, FieldSpec("categorical", [0, 1]))


def test_realization_i_is_the_same_whatever_the_batch_size(facies32):
    m = small_model()
    c = sample_constraints(facies32[0], density=0.02, seed=0)
    m.G.out.bias.data[:] = torch.tensor([0.0, 0.05])  # near-ties would make argmax fragile
    a = simulate(m, c, 7, seed=11, batch_size=7)
    b = simulate(m, c, 7, seed=11, batch_size=2)
    np.testing.assert_array_equal(a, b)
    c5 = simulate(m, c, 5, seed=11, batch_size=3)
    np.testing.assert_array_equal(a[:5], c5)  # i does not depend on n either
    assert not np.array_equal(a[0], a[1])  # and realizations differ
    assert not np.array_equal(a, simulate(m, c, 7, seed=12))
    np.testing.assert_array_equal(a, simulate(m, c, 7, seed=11))  # default batch size


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_either_noise_scheme_keeps_realization_i_whatever_the_batch(facies32, precision):
    """The old per-realization generators ("torch") and Philox give different ensembles,
    each independent of the batch size; bfloat16 is an opt-in close to float32."""
    m = build_model("pixel-cgan", SMALL, FieldSpec("continuous"))
    c = from_points((32, 32), np.array([3, 20]), np.array([5, 9]), np.array([0.5, -1.0]))
    runs = {
        s: [
            simulate(m, c, 5, seed=3, batch_size=bs, noise_scheme=s, precision=precision)
            for bs in (5, 2)
        ]
        for s in ("torch", "philox")
    }
    for a, b in runs.values():
        np.testing.assert_allclose(a, b, atol=1e-5 if precision == "float32" else 2e-2)
    assert not np.allclose(runs["torch"][0], runs["philox"][0], atol=1e-2)
    if precision == "bfloat16":
        exact = simulate(m, c, 5, seed=3, noise_scheme="philox")
        diff = runs["philox"][0] - exact  # bf16 rounding: small on the whole, a few % at worst
        assert np.sqrt(np.mean(diff**2)) < 0.02 * exact.std()
        assert np.abs(diff).max() < 0.3 * exact.std()
        assert not np.array_equal(runs["philox"][0], exact)


def test_default_batch_size_follows_the_device_and_grid():
    assert auto_batch_size("cpu", 128, 128) == 16  # about 2**18 pixels per pass on a CPU
    assert auto_batch_size("cpu", 64, 64) == 64
    assert auto_batch_size("cpu", 1024, 1024) == 1  # never 0
    assert auto_batch_size("cuda", 128, 128) == 1024  # GPUs want large batches


def test_checkpoint_round_trip_rebuilds_the_model_without_flags(tmp_path, facies32):
    m = small_model(lam=3.0)
    p = save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 0})
    m2, doc = load_model(p)
    assert doc["config"]["lam"] == 3.0 and doc["field"]["codes"] == [0, 1] and doc["version"]
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    c = sample_constraints(facies32[1], density=0.02, seed=0)
    np.testing.assert_array_equal(simulate(m, c, 3, seed=1), simulate(m2, c, 3, seed=1))
    assert not list(tmp_path.glob("*.partial"))  # atomic write left nothing behind


def test_resume_continues_as_if_never_stopped(tmp_path, facies32):
    def run(ckpt, epochs, resume=False):
        torch.manual_seed(0)
        cfg = TrainConfig(
            epochs=epochs, batch_size=8, steps_per_epoch=2, seed=5, device="cpu", val_size=8
        )
        return Trainer(
            small_model(),
            FieldArray(facies32),
            cfg,
            checkpoint=ckpt,
            log=ckpt.with_suffix(".jsonl"),
            progress=False,
        ).fit(resume=resume)

    straight = run(tmp_path / "a.safetensors", 2)
    run(tmp_path / "b.safetensors", 1)  # "interrupted" after one epoch
    resumed = run(tmp_path / "b.safetensors", 2, resume=True)
    ta, _ = read_checkpoint(tmp_path / "a.safetensors")
    tb, doc = read_checkpoint(tmp_path / "b.safetensors")
    assert doc["epoch"] == 2 and doc["complete"]
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert [r["loss_d"] for r in straight] == [r["loss_d"] for r in resumed]
    lines = (tmp_path / "b.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


def _snapshotting_run(ckpt, facies32, epochs: int, every: int) -> Trainer:
    """A finished small training run to ``ckpt`` that kept every ``every``-th epoch."""
    cfg = TrainConfig(
        epochs=epochs, batch_size=8, steps_per_epoch=1, seed=5, device="cpu", val_size=8
    )
    t = Trainer(
        small_model(),
        FieldArray(facies32),
        cfg,
        checkpoint=ckpt,
        progress=False,
        snapshot_every=every,
        meta={"patch": 32, "flip": "xy", "started_from": "gpu/snapshot.safetensors"},
    )
    t.fit()
    return t


def test_snapshots_keep_the_weights_of_every_kth_epoch(tmp_path, facies32):
    ckpt = tmp_path / "m.safetensors"
    t = _snapshotting_run(ckpt, facies32, epochs=4, every=2)
    assert sorted(p.name for p in tmp_path.glob("m_epoch*")) == [
        "m_epoch0002.safetensors",
        "m_epoch0004.safetensors",
    ]
    last, doc = read_checkpoint(t.snapshot_path(4))
    final, _ = read_checkpoint(ckpt)
    assert doc["epoch"] == 4 and not any(k.startswith("optim") for k in last)
    for k in last:  # the last snapshot holds the final weights
        assert torch.equal(last[k], final[k]), k
    early, _ = read_checkpoint(t.snapshot_path(2))
    assert any(not torch.equal(early[k], last[k]) for k in last)  # and epoch 2 is not them
    with pytest.raises(InputError, match="snapshot_every"):
        Trainer(
            small_model(), FieldArray(facies32), TrainConfig(), checkpoint=ckpt, snapshot_every=-1
        )


def test_resuming_with_a_setting_the_checkpoint_predates_is_refused(tmp_path, facies32):
    ckpt = tmp_path / "m.safetensors"
    cfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=1, seed=5, device="cpu", val_size=8)
    Trainer(small_model(), FieldArray(facies32), cfg, checkpoint=ckpt, progress=False).fit()
    tensors, doc = read_checkpoint(ckpt)
    del doc["config"]["ema"]  # as written before the setting existed
    from safetensors.torch import save_file

    save_file(tensors, str(ckpt), metadata={META_KEY: json.dumps(doc)})
    later = TrainConfig(epochs=2, batch_size=8, steps_per_epoch=1, seed=5, device="cpu", val_size=8)
    with pytest.raises(CheckpointError, match="model config"):
        Trainer(small_model(ema=0.9), FieldArray(facies32), later, checkpoint=ckpt).fit(resume=True)
    rows = Trainer(small_model(), FieldArray(facies32), later, checkpoint=ckpt).fit(resume=True)
    assert [r["epoch"] for r in rows] == [2]  # its default then is today's default: resumes


def test_resuming_with_other_training_windows_is_refused(tmp_path, facies32):
    """A run drawn from mirrored windows does not go on unmirrored (nor with other patches)."""
    ckpt = tmp_path / "m.safetensors"
    images = [np.tile(f, (2, 2)) for f in facies32[:4]]  # 64x64

    def run(epochs, patch, flip):
        cfg = TrainConfig(
            epochs=epochs, batch_size=4, steps_per_epoch=1, seed=5, device="cpu", val_size=4
        )
        meta = {"patch": patch} | ({"flip": flip} if flip else {})
        sampler = PatchSampler(images, patch, flip=flip)
        return Trainer(small_model(), sampler, cfg, checkpoint=ckpt, meta=meta, progress=False)

    run(1, 32, "xy").fit()
    with pytest.raises(CheckpointError, match="flip"):
        run(2, 32, "").fit(resume=True)
    with pytest.raises(CheckpointError, match="patch"):
        run(2, 48, "xy").fit(resume=True)
    assert [r["epoch"] for r in run(2, 32, "xy").fit(resume=True)] == [2]


def test_export_writes_a_finished_weights_only_model(tmp_path, facies32):
    ckpt = tmp_path / "m.safetensors"
    t = _snapshotting_run(ckpt, facies32, epochs=2, every=1)
    out = export_model(t.snapshot_path(1), tmp_path / "final.safetensors", "epoch 1, by hand")
    tensors, doc = read_checkpoint(out)
    assert not any(k.startswith("optim") for k in tensors)
    assert doc["epoch"] == 1 and doc["complete"] and doc["train"]["epochs"] == 1
    assert doc["trained"] == "epoch 1, by hand"
    # how it was trained travels with it
    assert (doc["patch"], doc["flip"], doc["started_from"]) == (
        32,
        "xy",
        "gpu/snapshot.safetensors",
    )
    snap, _ = read_checkpoint(t.snapshot_path(1))
    assert all(torch.equal(tensors[k], snap[k]) for k in snap)
    with pytest.raises(CheckpointError, match="exists; pass --overwrite"):
        export_model(ckpt, out)
    export_model(ckpt, out, overwrite=True)
    assert read_checkpoint(out)[1]["epoch"] == 2


def test_patch_sampler_draws_windows_of_the_training_images():
    im = np.arange(50 * 60, dtype=np.float32).reshape(50, 60)
    ps = PatchSampler([im, im[:40, :40]], 32)
    p = ps.windows(16, torch.Generator().manual_seed(0))
    assert p.shape == (16, 32, 32)
    for x in p.numpy():  # each patch is a contiguous window: rows step 60, cols step 1
        assert np.all(np.diff(x, axis=1) == 1) and np.all(np.diff(x, axis=0) == 60)


def test_patch_sampler_flips_windows_without_turning_them():
    """flip='xy' gives all four mirror images of windows, never a transposed one."""
    im = np.arange(50 * 60, dtype=np.float32).reshape(50, 60)
    p = PatchSampler([im], 32, flip="xy").windows(64, torch.Generator().manual_seed(0))
    steps = set()
    for x in p.numpy():  # rows step ±60, cols step ±1: a window, maybe mirrored
        dr, dc = np.diff(x, axis=0), np.diff(x, axis=1)
        assert len(np.unique(dr)) == 1 and len(np.unique(dc)) == 1
        steps.add((dr.flat[0], dc.flat[0]))
    assert steps == {(60, 1), (-60, 1), (60, -1), (-60, -1)}
    only_x = PatchSampler([im], 32, flip="x").windows(64, torch.Generator().manual_seed(0))
    assert np.all(np.diff(only_x.numpy(), axis=1) == 60)  # rows never mirrored
    assert set(np.diff(only_x.numpy(), axis=2)[:, 0, 0]) == {1, -1}
    with pytest.raises(InputError, match="flip='z'"):
        PatchSampler([im], 32, flip="z")


def test_constraint_term_makes_the_generator_honor_the_wells(fields28, tmp_path):
    """A short real run: with λ = 10 the held-out constrained-pixel error ends clearly below λ = 0."""
    final = {}
    for lam in (0.0, 10.0):
        torch.manual_seed(0)
        m = build_model(
            "pixel-cgan",
            {"arch": "dcgan28", "lam": lam, "density": 0.02, "ngf": 32, "ndf": 32, "lr_g": 1e-3},
            FieldSpec(),
        )
        cfg = TrainConfig(epochs=3, batch_size=32, seed=0, device="cpu", val_size=128)
        rows = Trainer(
            m, FieldArray(fields28), cfg, checkpoint=tmp_path / f"{lam}.safetensors", progress=False
        ).fit()
        final[lam] = rows[-1]["val_honoring"]  # MSE at held-out well pixels, data units
    assert final[10.0] < 0.5 * final[0.0], final


def test_honoring_of_simulated_codes():
    """geocgan.honoring takes the (float32) facies codes geocgan.simulate returns."""
    rows, cols, values = np.array([0, 3]), np.array([0, 3]), np.array([1.0, 0.0])
    fields = np.zeros((2, 4, 4), np.float32)
    fields[0, 0, 0] = 1.0
    h = geocgan.honoring(fields, rows, cols, values, categorical=True)
    assert h["metric"] == "facies_match"
    assert h["per_realization"] == [1.0, 0.5] and h["overall"] == 0.75
    h = geocgan.honoring(fields, rows, cols, values, categorical=False)
    assert h["metric"] == "mse" and h["per_realization"] == [0.0, 0.5]


def test_missing_truncated_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist; train one with `geocgan train`"):
        load_model(tmp_path / "nope.safetensors")
    p = save_checkpoint(tmp_path / "m.safetensors", small_model(), {"epoch": 0})
    data = p.read_bytes()
    (tmp_path / "t.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        load_model(tmp_path / "t.safetensors")
    (tmp_path / "x.safetensors").write_bytes(b"\x80\x04not a checkpoint at all")
    with pytest.raises(CheckpointError, match="truncated or not a safetensors file"):
        load_model(tmp_path / "x.safetensors")
    # weights from another model config
    tensors, doc = read_checkpoint(p)
    doc["config"]["ngf"] = 16
    from safetensors.torch import save_file

    save_file(tensors, str(tmp_path / "o.safetensors"), metadata={"geocgan": json.dumps(doc)})
    with pytest.raises(CheckpointError, match="does not match its own model config"):
        load_model(tmp_path / "o.safetensors")
    save_file(tensors, str(tmp_path / "f.safetensors"))
    with pytest.raises(CheckpointError, match="not a geocgan checkpoint"):
        load_model(tmp_path / "f.safetensors")
    # an export without optimizer state cannot resume
    e = save_checkpoint(
        tmp_path / "e.safetensors", small_model(), {"epoch": 1}, training_state=False
    )
    with pytest.raises(CheckpointError, match="cannot resume training"):
        load_model(e, training_state=True)


def test_training_data_with_unknown_facies_codes_is_refused_before_training(tmp_path, facies32):
    from geocgan.errors import ConstraintError

    bad = facies32.copy()
    bad[3, 0, 0] = 7  # one pixel of a code the model does not know
    cfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=1, device="cpu", val_size=4)
    with pytest.raises(
        ConstraintError, match=r"facies codes \[7.0\] are not among the model's codes \[0, 1\]"
    ):
        Trainer(
            small_model(),
            FieldArray(bad),
            cfg,
            checkpoint=tmp_path / "m.safetensors",
            progress=False,
        )


def test_compiled_generator_gives_the_eager_ensemble(facies32, tmp_path):
    m = build_model("pixel-cgan", {**SMALL, "ema": 0.5}, FieldSpec("continuous"))
    m.train_step(Batch(torch.randn(4, 1, 32, 32)), torch.Generator().manual_seed(0))  # G_ema != G
    c = from_points(facies32[0].shape, [3, 20], [5, 11], [0.4, -1.2], spec=m.spec)
    eager = simulate(m, c, 5, seed=2, batch_size=4)  # a full batch and a remainder of 1
    m.compile_generator()
    assert m.compiled and not any("_compiled" in k for k in m.state_dict())
    np.testing.assert_allclose(simulate(m, c, 5, seed=2, batch_size=4), eager, atol=1e-4)
    p = save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 0})  # saves as before
    assert not load_model(p)[0].compiled


def test_patch_sampler_draws_volume_windows_never_flipped_along_z():
    vol = np.arange(12 * 20 * 24, dtype=np.float32).reshape(12, 20, 24)  # (z, y, x)
    w = PatchSampler([vol], (8, 16, 16), flip="xy").windows(32, torch.Generator().manual_seed(0))
    assert w.shape == (32, 8, 16, 16)
    steps = np.diff(w.numpy(), axis=1)  # along z: +20*24 per layer, never reversed
    assert (steps == 20 * 24).all()
    along_x = np.diff(w.numpy(), axis=3)
    assert (along_x == 1).all(axis=(1, 2, 3)).any() and (along_x == -1).all(axis=(1, 2, 3)).any()


def test_train_command_trains_a_3d_model_on_training_volumes(tmp_path):
    from typer.testing import CliRunner

    from geocgan.cli import app

    rng = np.random.default_rng(0)
    np.save(tmp_path / "vol.npy", (rng.random((32, 40, 40)) < 0.3).astype(np.int64))
    out = tmp_path / "m3d.safetensors"
    extra = ["--set", "ndim=3", "--set", "nz=2", "--mode", "borehole", "--density", "0.02"]
    args = tiny_train_args(tmp_path / "vol.npy", out, *extra)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    m, doc = load_model(out)
    assert doc["config"]["ndim"] == 3 and doc["patch"] == 32
    # a 2-D model refuses the volume and says how to train a 3-D one
    res = CliRunner().invoke(app, [*args[:3], str(tmp_path / "m2d.safetensors"), *args[4:-8]])
    assert res.exit_code == 1 and "--set ndim=3" in res.output
