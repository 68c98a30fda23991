"""Train, or train on, the two models the workflows use, on any device, keeping snapshots.

* ``channels``: the sample-data channel model (``geocgan.recipes.CHANNEL_MODEL``) on the 256x256
  sample training image (made from its seed, the same array as
  ``sample_data/training_image.tif``);
* ``gaussian``: the Gaussian benchmark model (``geocgan.recipes.GAUSSIAN_MODEL``) on the
  benchmark's unconditional training fields.

``--set KEY=VALUE`` changes a model setting (``ngf=8``: a narrower generator). ``--init CKPT``
starts from a checkpoint with optimizer state (e.g. ``runs/sample_data/checkpoint.safetensors``)
and trains on to ``--epochs``; the nets, batch, steps and seed must then be the ones it was
trained with, the loss weights may change (a fine-tune, ``--set lam_local=3``). ``--ema 0.999`` adds an averaged generator (the model's
``ema`` setting), also to a model trained without one: the average starts from its weights.
Every ``--snapshot-every`` epochs the weights are kept as
``<run>/<case>_epoch<NNNN>.safetensors``, to be compared afterwards on validation wells
(``benchmark_peers.py --truth-seed``). Needs only torch, numpy, scipy, safetensors, tqdm and
matplotlib, so it runs on a bare GPU node (``workflows/gpu_session.sh``).

``--start SNAPSHOT`` starts a new run from a snapshot's weights (no optimizer state: Adam
starts afresh), e.g. a GPU-trained snapshot fine-tuned on the CPU with ``--set lam_local=5``.

``--distill TEACHER --set lam_distill=W [--start WEIGHTS]`` adds to the generator's loss W times
its squared difference to a trained model's realizations from the same noise and constraints
(``PixelCGAN.distill_from``), e.g. for a narrower generator (``--set ngf=8``) than the
benchmark's Gaussian model.

``--export SNAPSHOT --to PATH`` writes a chosen snapshot as a finished model (weights only,
``complete``, with ``--note`` on how it was trained and chosen), e.g. the shipped
``sample_data/channels.safetensors``.

Run: ``python workflows/train_models.py channels --epochs 400 --run runs/gpu/channels
[--init CKPT] [--batch 16] [--patch 128] [--flip xy] [--steps 40] [--snapshot-every 50]
[--ema 0.999]`` (patch and flip default to the case's recipe: 128² mirrored for the channels,
96² for the Gaussian case)
or ``python workflows/train_models.py channels --export SNAPSHOT --to PATH --note TEXT
[--canvas N] [--noise-gain STAGE=GAIN ...]`` (``--canvas``: the model's generation canvas,
``PixelCGANConfig.canvas``; ``--noise-gain``: ``PixelCGAN.scale_noise``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from geocgan.checkpoint import export_model, load_model, read_checkpoint, save_checkpoint
from geocgan.constraints import FieldSpec
from geocgan.devices import resolve_device
from geocgan.errors import GeocganError, InputError
from geocgan.models import build_model
from geocgan.models.pixel_cgan import PixelCGANConfig
from geocgan.recipes import (
    CHANNEL_FLIP,
    CHANNEL_PATCH,
    CHANNEL_SPEC,
    GAUSSIAN_MODEL,
    GAUSSIAN_PATCH,
    channel_model_config,
    gaussian_training_images,
    training_image,
)
from geocgan.train import PatchSampler, TrainConfig, Trainer, config_changes

TUNABLE = {
    "lam",
    "lam_local",
    "lam_moments",
    "moment_target",
    "lam_div",
    "lam_crps",
    "crps_patch",
    "lam_distill",
    "ema",
    "canvas",
}  # may change in a fine-tune
SETTINGS = asdict(PixelCGANConfig())  # what --set may name, with a value of each type


def case_data(case: str) -> tuple[dict, FieldSpec, list, str, int, str]:
    """Model settings, field description, training images and their description, and the
    default patch side and mirroring."""
    if case == "channels":
        ti = training_image()
        return (
            channel_model_config(ti),
            CHANNEL_SPEC,
            [ti],
            "training_image.tif",
            CHANNEL_PATCH,
            CHANNEL_FLIP,
        )
    tis = gaussian_training_images()  # (4, 512, 512)
    spec = FieldSpec.from_data(tis, "continuous")
    return GAUSSIAN_MODEL, spec, list(tis), f"gaussian_field x{len(tis)}", GAUSSIAN_PATCH, ""


def start_from(init: Path, ckpt: Path, model) -> dict:
    """Copy checkpoint ``init`` to ``ckpt`` as a start for ``model``; return what changed.

    ``model`` may differ from ``init``'s in its loss weights (``--set lam_local=3``) and may add
    an averaged generator (started from the trained weights); the nets must be the same."""
    old, doc = load_model(init, training_state=True)  # its config: newer settings at default
    old_config = asdict(old.config)
    other = config_changes(doc, model.config)
    if not other:
        shutil.copyfile(init, ckpt)
        return {}
    if old.config.ema and not model.config.ema:
        raise InputError(f"--init {init} has an averaged generator: keep its ema setting")
    fixed = [k for k in other if k not in TUNABLE]
    if fixed:
        raise InputError(
            f"--init {init} has other net settings ({', '.join(fixed)}): a fine-tune may change "
            f"only {', '.join(sorted(TUNABLE))}"
        )
    load_weights(model, old.state_dict(), f"--init {init}")
    for name, opt in model.optimizers.items():
        opt.load_state_dict(old.optimizers[name].state_dict())
    describe = ("model", "config", "field", "version", "optimizer_groups")
    keep = {k: v for k, v in doc.items() if k not in describe}
    keep["fine_tune"] = {"from": str(init), "changed": {k: old_config[k] for k in other}}
    save_checkpoint(ckpt, model, keep)
    return keep["fine_tune"]


def load_weights(model, state: dict, what: str) -> bool:
    """Load ``state`` into ``model`` (the same nets); an averaged generator that ``state``
    lacks starts from its trained one. True when it did."""
    try:
        res = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # same names, other shapes: another width
        raise InputError(f"{what} holds nets of other sizes than this case's model") from err
    wrong = [*res.unexpected_keys, *(k for k in res.missing_keys if not k.startswith("G_ema."))]
    if wrong:
        few = ", ".join(wrong[:3]) + (" ..." if len(wrong) > 3 else "")
        raise InputError(f"{what} holds other nets than this case's model ({few})")
    if res.missing_keys:
        model.G_ema.load_state_dict(model.G.state_dict())
    return bool(res.missing_keys)


def start_weights(model, path: Path) -> None:
    """Load the weights of snapshot ``path`` into ``model``; with ``ema`` the trained
    generator starts from the snapshot's average, or the average from its generator."""
    added = load_weights(model, load_model(path)[0].state_dict(), f"--start {path}")
    if model.config.ema and not added:
        model.G.load_state_dict(model.G_ema.state_dict())


def noise_gain(text: str) -> tuple[int, float]:
    """``STAGE=GAIN`` of ``--noise-gain``."""
    stage, _, gain = text.partition("=")
    try:
        return int(stage), float(gain)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--noise-gain takes STAGE=GAIN, e.g. 0=1.5, got {text!r}"
        ) from None


def model_setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``--set``: a setting of ``PixelCGANConfig``, the value read as JSON
    (``8``, ``2.5``, ``true``) or as text, and checked against the setting's type."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set takes KEY=VALUE, got {text!r}")
    default = SETTINGS.get(key)
    if default is None:
        raise argparse.ArgumentTypeError(
            f"--set {key}: not a setting of the model; settings: {', '.join(SETTINGS)}"
        )
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(default, float) and type(parsed) is int:
        parsed = float(parsed)
    if type(parsed) is not type(default):
        raise argparse.ArgumentTypeError(
            f"--set {key}={value}: wants a {type(default).__name__} like {json.dumps(default)}"
        )
    return key, parsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("case", choices=["channels", "gaussian"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--run", type=Path, help="folder of the checkpoint and log")
    p.add_argument("--init", type=Path, help="checkpoint (with optimizer state) to train on")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, help="patch side (multiple of 16); channels: 128")
    p.add_argument("--steps", type=int, default=40, help="steps per epoch")
    p.add_argument(
        "--flip",
        choices=["", "x", "y", "xy"],
        help="mirror training patches at random (PatchSampler's flip); channels: xy",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--snapshot-every", type=int, default=50)
    p.add_argument("--device", default="auto")
    p.add_argument("--ema", type=float, help="decay of the generator's weight average")
    p.add_argument(
        "--set",
        type=model_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another model setting than the case's (e.g. ngf=8, lam_local=3); with --init "
        "only loss weights and ema",
    )
    p.add_argument(
        "--distill",
        type=Path,
        metavar="TEACHER",
        help="train the generator towards this trained model's realizations too, with weight "
        "lam_distill (a narrower generator from a wider one: --set ngf=8 --set lam_distill=1)",
    )
    p.add_argument(
        "--start",
        type=Path,
        metavar="WEIGHTS",
        help="start a new run from these weights (a snapshot of the same nets, without "
        "optimizer state: Adam starts afresh; with ema the generator starts from their "
        "average); loss weights may differ from the snapshot's",
    )
    p.add_argument("--export", type=Path, help="snapshot to write as a finished model (--to)")
    p.add_argument("--to", type=Path, help="where --export writes")
    p.add_argument("--note", default="", help="how the exported model was trained and chosen")
    p.add_argument(
        "--canvas",
        type=int,
        help="with --export: the model's generation canvas (PixelCGANConfig.canvas), e.g. "
        "its training patch's side",
    )
    p.add_argument(
        "--noise-gain",
        type=noise_gain,
        action="append",
        default=[],
        metavar="STAGE=GAIN",
        help="with --export: multiply the generator's noise scale at stage STAGE (0: 1/8 "
        "resolution, 1: 1/4, 2: 1/2, 3: full) by GAIN (PixelCGAN.scale_noise); repeatable",
    )
    p.add_argument("--overwrite", action="store_true", help="let --export replace --to")
    a = p.parse_args(argv)
    if a.export:
        if not a.to:
            p.error("--export needs --to")
        try:
            export_model(
                a.export,
                a.to,
                a.note,
                canvas=a.canvas,
                noise_gains=dict(a.noise_gain),
                overwrite=a.overwrite,
            )
        except GeocganError as err:
            sys.stderr.write(f"error: {err}\n")
            return 1
        print(f"{a.export} -> {a.to}")
        return 0
    if a.canvas is not None or a.noise_gain:
        p.error("--canvas and --noise-gain go with --export; in training give --set canvas=N")
    if a.epochs is None or a.run is None:
        p.error("training needs --epochs and --run")
    if a.start and a.init:
        p.error("--start and --init both bring weights: give one")
    ckpt, copied = a.run / f"{a.case}.safetensors", False
    try:
        config, spec, images, described, patch, flip = case_data(a.case)
        patch = patch if a.patch is None else a.patch
        flip = flip if a.flip is None else a.flip
        config = {**config, **dict(a.set)}
        if a.ema is not None:
            config = {**config, "ema": a.ema}
        a.run.mkdir(parents=True, exist_ok=True)
        if a.init:
            if ckpt.exists():
                raise InputError(f"{ckpt} exists: resume it without --init, or use another --run")
            if not a.init.exists():
                raise InputError(f"--init {a.init} does not exist")
            fine_tune = start_from(a.init, ckpt, build_model("pixel-cgan", config, spec))
            copied = True
            log = a.init.with_suffix(".jsonl")
            log = log if log.exists() else a.init.with_name("log.jsonl")
            if log.exists():
                shutil.copyfile(log, ckpt.with_suffix(".jsonl"))
        dev = resolve_device(a.device)
        model = build_model("pixel-cgan", config, spec, seed=a.seed)
        meta = {"training_images": described, "patch": patch}
        if flip:
            meta["flip"] = flip
        if a.init and fine_tune:
            meta["fine_tune"] = fine_tune
        resumed = read_checkpoint(ckpt)[1] if ckpt.exists() and not copied else {}
        provenance = ("fine_tune", "started_from", "distilled_from")
        meta |= {k: resumed[k] for k in provenance if k in resumed}  # kept from the first start
        if a.start:
            first = resumed.get("started_from") or resumed.get("distilled_from", {}).get("start")
            if resumed and first != str(a.start):
                raise InputError(
                    f"{ckpt} exists and did not start from {a.start}: resume it without "
                    "--start, or use another --run"
                )
            if not resumed:  # a resumed run takes its weights from its checkpoint
                start_weights(model, a.start)
                if not a.distill:
                    meta["started_from"] = str(a.start)
        if a.distill:
            before = resumed.get("distilled_from")
            if before and before["teacher"] != str(a.distill):
                raise InputError(
                    f"{ckpt} was distilled from {before['teacher']}: resume with that --distill"
                )
            model.distill_from(load_model(a.distill)[0])
            meta.setdefault(
                "distilled_from", {"teacher": str(a.distill), "start": str(a.start or "")}
            )
        cfg = TrainConfig(
            epochs=a.epochs,
            batch_size=a.batch,
            steps_per_epoch=a.steps,
            seed=a.seed,
            device=a.device,
        )
        start = time.perf_counter()
        rows = Trainer(
            model,
            PatchSampler(images, patch, device=dev, flip=flip),
            cfg,
            checkpoint=ckpt,
            log=ckpt.with_suffix(".jsonl"),
            meta=meta,
            snapshot_every=a.snapshot_every,
        ).fit(resume=True)
    except GeocganError as err:
        if copied and not list(a.run.glob(f"{a.case}_epoch*")):
            # the copy of --init did not train (other settings): leave --run as it was
            ckpt.unlink(missing_ok=True)
            ckpt.with_suffix(".jsonl").unlink(missing_ok=True)
        sys.stderr.write(f"error: {err}\n")
        return 1
    if rows:
        print(
            f"{a.case}: epoch {rows[-1]['epoch']} in {time.perf_counter() - start:.0f} s on {dev}, "
            f"held-out honoring {rows[-1]['val_honoring']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
