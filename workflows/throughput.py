"""Throughput of the pixel-constrained cGAN: training images/s and realizations/s.

Measures, on the device at hand (CUDA when present, else CPU), for the sample-data model
configuration (fcn, ngf=12, ndf=16, 4-layer PatchGAN):

- training: images/s at 64x64 patches, batch 16 (on a GPU also the sample model's own
  setting, 96x96 patches in batches of 16, and 128x128 in batches of 64), after a warm-up;
- generation: realizations/s at 64², 128², 256² with the sampler's default batch size
  (``geocgan.simulate.auto_batch_size``) unless ``--batch`` is given, median of 5 timed
  calls after a warm-up, noise drawn per realization as in ``simulate`` (on the CPU, from a
  generator seeded by the realization's index, then copied to the device);
- the generator alone: the same forward passes and decoding with the noise already on the
  device (float32, and on a GPU also under bfloat16 autocast), i.e. what the sampler would
  reach if its per-realization noise cost nothing.

With ``--model CK`` a trained model (a safetensors checkpoint, e.g. the benchmark's) is measured
instead, generation only: realizations/s on the model's own canvas for each grid
(``model.canvas``), which is what ``simulate`` and the benchmark pay.

With ``--compile`` the generation rates are those of the ``torch.compile``d generator (the
compilation, once per grid, happens in the warm-up). Writes
``workflows/results/throughput/<device>[_<threads>threads][_compiled].json`` and prints a
Markdown table. Run: ``python workflows/throughput.py [--threads 2] [--compile]`` (1-2
minutes on a 2-core CPU, 3-4 with ``--compile``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from geocgan.checkpoint import load_model
from geocgan.constraints import FieldSpec, sample_constraints
from geocgan.devices import resolve_device
from geocgan.fields import channel_field
from geocgan.models import build_model
from geocgan.models.base import Batch
from geocgan.simulate import auto_batch_size, simulate

CONFIG = {"arch": "fcn", "ngf": 12, "ndf": 16, "d_layers": 4, "nz": 16}


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def train_rate(model, dev, batch: int, steps: int, size: int = 64) -> float:
    fields = torch.as_tensor(
        channel_field((size, size), n=batch, seed=3), dtype=torch.float32, device=dev
    )
    real = model.spec.encode(fields)
    g = torch.Generator(device=dev).manual_seed(0)
    for _ in range(3):
        model.train_step(Batch(real), g)
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        model.train_step(Batch(real), g)
    sync(dev)
    return steps * batch / (time.perf_counter() - t)


def wells(size: int):
    """0.5 % of a channel field's pixels: the constraints every rate is measured with."""
    return sample_constraints(channel_field((size, size), seed=5), density=0.005, seed=1)


def generate_rate(model, size: int, n: int, batch: int | None) -> float:
    c = wells(size)
    simulate(model, c, min(n, 64), batch_size=batch)  # warm-up
    times = []
    for rep in range(5):
        t = time.perf_counter()
        simulate(model, c, n, seed=rep, batch_size=batch)
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def forward_rate(model, size: int, batch: int | None, dtype: torch.dtype | None) -> float:
    """Realizations/s of generator + decoding alone, noise drawn on the device."""
    dev = model.device
    canvas = model.canvas(size, size)
    batch = batch or auto_batch_size(dev, *canvas.shape)
    cond = canvas.place(wells(size)).tensor(model.spec, device=dev).expand(batch, -1, -1, -1)
    z = [torch.randn((batch, *s), device=dev) for s in model.noise_shapes(*canvas.shape)]
    autocast = torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None)

    def once():
        with torch.inference_mode(), autocast:
            return model.spec.decode(model.generate(z, cond).float())

    once()
    sync(dev)
    reps, times = (20 if dev.type == "cuda" else 3), []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            once()
        sync(dev)
        times.append(time.perf_counter() - t)
    return reps * batch / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "throughput")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--batch", type=int, default=None, help="realizations per forward pass")
    p.add_argument("--compile", action="store_true", help="generate through torch.compile")
    p.add_argument("--model", type=Path, help="trained checkpoint to measure (generation only)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    gpu = dev.type == "cuda"
    if a.model:
        model, _ = load_model(a.model, device=dev)
    else:
        model = build_model("pixel-cgan", CONFIG, FieldSpec("categorical", [0, 1])).to(dev)
    res = {
        "device": torch.cuda.get_device_name(dev)
        if gpu
        else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
        "command": "python workflows/throughput.py"
        + (f" --threads {a.threads}" if a.threads else "")
        + (f" --batch {a.batch}" if a.batch else "")
        + (" --compile" if a.compile else "")
        + (f" --model {a.model}" if a.model else ""),
        "config": asdict(model.config) if a.model else CONFIG,
        "batch_size": a.batch or "auto (geocgan.simulate.auto_batch_size)",
    }
    if not a.model:
        res["train_images_per_s_64"] = train_rate(model, dev, 16, 50 if gpu else 10)
    if gpu and not a.model:  # the sample model's setting, and larger batches of larger patches
        res["train_images_per_s_96_batch16"] = train_rate(model, dev, 16, 50, size=96)
        res["train_images_per_s_128_batch64"] = train_rate(model, dev, 64, 50, size=128)
    model.eval()
    if a.compile:
        model.compile_generator()
    for size in (64, 128, 256):
        n = 4096 if gpu else (128 if size < 256 else 32)
        res[f"realizations_per_s_{size}"] = generate_rate(model, size, n, a.batch)
        res[f"generator_only_per_s_{size}"] = forward_rate(model, size, a.batch, None)
        if gpu:
            res[f"generator_only_bf16_per_s_{size}"] = forward_rate(
                model, size, a.batch, torch.bfloat16
            )
    res["load_average_after"] = os.getloadavg()
    a.out.mkdir(parents=True, exist_ok=True)
    name = ("gpu" if gpu else "cpu") + (f"_{a.threads}threads" if a.threads and not gpu else "")
    name += "_compiled" if a.compile else ""
    name += f"_{a.model.stem}" if a.model else ""
    (a.out / f"{name}.json").write_text(json.dumps(res, indent=1))
    print(f"| {res['device']} | value |\n|---|---|")
    for key, value in res.items():
        if key.startswith(("train_", "realizations_", "generator_")):
            print(f"| {key} | {value:.1f} |")


if __name__ == "__main__":
    main()
