"""Throughput of the pixel-constrained cGAN: training images/s and realizations/s.

Measures, on the device at hand (CUDA when present, else CPU), for the sample-data model
configuration (fcn, ngf=12, ndf=16, 4-layer PatchGAN):

- training: images/s at 64x64 patches (batch 16 on CPU, 128 on GPU), after a warm-up;
- generation: realizations/s at 64², 128², 256² with the sampler's default batch size
  (``geocgan.simulate.auto_batch_size``) unless ``--batch`` is given, median of 5 timed
  calls after a warm-up, noise drawn per realization as in ``simulate``.

Writes ``workflows/results/throughput/<device>[_<threads>threads].json`` and prints a
Markdown table. Run: ``python workflows/throughput.py [--threads 2]`` (1-2 minutes on a
2-core CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from geocgan.constraints import FieldSpec, sample_constraints
from geocgan.fields import channel_field
from geocgan.models import build_model
from geocgan.simulate import simulate
from geocgan.train import resolve_device

CONFIG = {"arch": "fcn", "ngf": 12, "ndf": 16, "d_layers": 4, "nz": 16}


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def train_rate(model, dev, batch: int, steps: int) -> float:
    fields = torch.as_tensor(
        channel_field((64, 64), n=batch, seed=3), dtype=torch.float32, device=dev
    )
    real = model.spec.encode(fields)
    g = torch.Generator(device=dev).manual_seed(0)
    for _ in range(3):
        model.train_step(real, g)
    sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        model.train_step(real, g)
    sync(dev)
    return steps * batch / (time.perf_counter() - t)


def generate_rate(model, size: int, n: int, batch: int | None) -> float:
    c = sample_constraints(channel_field((size, size), seed=5), density=0.005, seed=1)
    simulate(model, c, min(n, 64), batch_size=batch)  # warm-up
    times = []
    for rep in range(5):
        t = time.perf_counter()
        simulate(model, c, n, seed=rep, batch_size=batch)
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "throughput")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--batch", type=int, default=None, help="realizations per forward pass")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    gpu = dev.type == "cuda"
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
        + (f" --batch {a.batch}" if a.batch else ""),
        "config": CONFIG,
        "batch_size": a.batch or "auto (geocgan.simulate.auto_batch_size)",
    }
    res["train_images_per_s_64"] = train_rate(model, dev, 128 if gpu else 16, 20 if gpu else 10)
    model.eval()
    for size in (64, 128, 256):
        n = 4096 if gpu else (128 if size < 256 else 32)
        res[f"realizations_per_s_{size}"] = generate_rate(model, size, n, a.batch)
    res["load_average_after"] = os.getloadavg()
    a.out.mkdir(parents=True, exist_ok=True)
    name = ("gpu" if gpu else "cpu") + (f"_{a.threads}threads" if a.threads and not gpu else "")
    (a.out / f"{name}.json").write_text(json.dumps(res, indent=1))
    print(
        f"| device | train img/s (64²) | real./s 64² | real./s 128² | real./s 256² |\n|---|---|---|---|---|\n"
        f"| {res['device']} | {res['train_images_per_s_64']:.0f} | {res['realizations_per_s_64']:.0f} | "
        f"{res['realizations_per_s_128']:.0f} | {res['realizations_per_s_256']:.1f} |"
    )


if __name__ == "__main__":
    main()
