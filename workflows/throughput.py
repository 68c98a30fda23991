"""Throughput of generation: the table of issue 21 (and, with --train, training images/s).

For each trained model (the benchmark's Gaussian model and the channel sample model, or
``--model CK``), grid (``--sizes``, default 64² 128² 256² 512²) and batch size (``--batches``:
``auto`` is ``geocgan.simulate.auto_batch_size``), on the device at hand (CUDA when present):

- ``gen``: the generator alone, realizations/s of forward passes and decoding on the model's
  canvas, the latent parts drawn on the device beforehand (float32; on a GPU also
  ``gen_bf16``, under bfloat16 autocast), i.e. what generation would reach if its noise and
  its copy to the host cost nothing;
- ``sim``: ``geocgan.simulate.simulate`` (noise scheme philox, float32; on a GPU also
  ``sim_bf16``), realizations/s into a host array; at the automatic batch size also
  ``sim_torch``, the per-realization CPU draws that every ensemble used before (today's);
- ``noise``: realizations/s of the latent draws alone (philox on the device; ``noise_torch``);
- ``mem_mb``: GPU memory per realization of a generator call (peak allocated / batch);
- at the automatic batch size, ``zarr``: realizations/s generated and written into a local
  ensemble store the way ``geocgan simulate`` writes them (``EnsembleStore``, ``write_region``
  on a background thread; ``zarr_writer_busy``: the share of that time the writer worked),
  and ``bytes``: the store's bytes per realization on disk (facies: also ``bytes_float32``,
  the float32 codes facies were stored as before); on a GPU also ``zarr_4writers``, with four
  writer threads;
- ``bf16``: at 128², the effect of bfloat16 generation on honoring (the well match or MSE,
  and the share of pixels that differ from float32).

Rows are written to ``workflows/results/throughput/<device>[_<threads>threads]_table.json``
and ``.md`` as they are measured, so a run stopped by a time limit keeps what it measured;
``--budget S`` skips what would start after S seconds. Run: ``python workflows/throughput.py
--threads 1 --quick`` (the 2-core CPU: about 10 minutes) or ``bash workflows/
gpu_throughput.sh OUT`` (an H200: under 10 minutes). Where geocgan's GIS stack is missing (the
GPU image), the store is a skeleton made beforehand (``--make-skeletons DIR`` on a machine
that has it) and ``geocgan.io.ensemble``'s GIS imports are stubbed: its write path uses zarr
and numpy only.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from geocgan import noise
from geocgan.background import Background
from geocgan.checkpoint import load_model
from geocgan.constraints import FieldSpec, sample_constraints
from geocgan.devices import resolve_device
from geocgan.fields import channel_field, gaussian_field
from geocgan.metrics.geostats import honoring
from geocgan.models import build_model
from geocgan.models.base import Batch
from geocgan.simulate import auto_batch_size, generate_batches, simulate

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "gaussian": ROOT / "workflows/results/benchmark/gaussian_model.safetensors",
    "channels": ROOT / "sample_data/channels.safetensors",
}
TRAIN_CONFIG = {"arch": "fcn", "ngf": 12, "ndf": 16, "d_layers": 4, "nz": 16}
# realizations per timed call: (GPU, CPU) by grid side
N_CALL = {64: (32768, 64), 128: (16384, 16), 256: (4096, 4), 512: (1024, 2)}
N_ZARR = {64: (16384, 128), 128: (8192, 32), 256: (2048, 8), 512: (512, 2)}


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev: torch.device, reps: int) -> float:
    """Seconds of the best of ``reps`` calls of ``fn`` after a warm-up call."""
    return best_times({"fn": fn}, dev, reps)["fn"]


def best_times(calls: dict, dev: torch.device, reps: int) -> dict[str, float]:
    """Seconds of the best call of each of ``calls`` (name -> function) over ``reps`` rounds
    that call each once, after a warm-up round: on a shared machine the least disturbed
    call, with the load falling alike on every function."""
    best = dict.fromkeys(calls, float("inf"))
    for r in range(reps + 1):
        for key, fn in calls.items():
            t = time.perf_counter()
            fn()
            sync(dev)
            if r:
                best[key] = min(best[key], time.perf_counter() - t)
    return best


def wells(model, size: int):
    """0.5 % of a field of the model's kind as wells: the constraints every rate is measured
    with (channel facies for a facies model, an exponential Gaussian field otherwise)."""
    if model.spec.kind == "categorical":
        field = channel_field((size, size), seed=5)
    else:
        field = gaussian_field((size, size), seed=5).astype(np.float32)
    return sample_constraints(field, density=0.005, seed=1)


def generator_call(model, cons, batch: int, bf16: bool):
    """One forward pass and decoding of ``batch`` realizations on the model's canvas, the
    latent parts drawn on the device beforehand."""
    dev = model.device
    placed = model.canvas(*cons.shape).place(cons)
    cond = placed.tensor(model.spec, device=dev).expand(batch, -1, -1, -1)
    z = noise.draw(model.latent(*placed.shape), 0, range(batch), device=dev)

    def once():
        with torch.inference_mode(), torch.autocast(dev.type, torch.bfloat16, enabled=bf16):
            return model.spec.decode(model.generate(z, cond).float())

    return once


def memory_per_realization(model, cons, batch: int) -> float | None:
    """MB of GPU memory a generator call takes per realization (peak allocated / batch)."""
    dev = model.device
    if dev.type != "cuda":
        return None
    once = generator_call(model, cons, batch, False)
    once()
    sync(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    once()
    sync(dev)
    return (torch.cuda.max_memory_allocated(dev) - base) / batch / 2**20


def _dummy(attr: str):
    """A stub module's names: a dummy class for each (dunder names: none)."""
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (Exception,), {})


def stub_gis() -> None:
    """Let ``geocgan.io.ensemble`` import where rasterio, rioxarray, dask or affine are
    missing (the GPU image): its write path (``write_region``) uses zarr and numpy only."""
    names = ("rasterio", "rasterio.crs", "rasterio.errors", "rioxarray", "affine", "dask.array")
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            for part in (name.partition(".")[0], name):  # the package, then the module
                if part not in sys.modules:
                    mod = sys.modules[part] = types.ModuleType(part)
                    mod.__spec__ = importlib.machinery.ModuleSpec(part, None)
                    mod.__getattr__ = _dummy
            if "." in name:
                parent, _, child = name.rpartition(".")
                setattr(sys.modules[parent], child, sys.modules[name])


def skeleton_name(model_name: str, size: int, codes) -> str:
    return f"{model_name}_{size}_{'float32' if codes is None else 'codes'}.zarr"


def make_store(path: Path, size: int, n: int, skeletons, codes):
    """An empty ensemble store for ``n`` realizations of ``size``² (a skeleton from
    ``skeletons``, ``(model name, codes)`` -> its directory, holds at least ``n``): made by
    ``EnsembleStore`` where geocgan's GIS stack is installed, else copied."""
    if skeletons:
        shutil.copytree(skeletons, path)
        return path
    from geocgan.io.ensemble import EnsembleStore
    from geocgan.io.grid import Grid

    grid = Grid.from_bounds(0.0, 0.0, float(size), float(size), 1.0, "EPSG:32631")
    EnsembleStore.create(path, grid, n, name="facies" if codes else "value", codes=codes)
    return path


def zarr_missing(skeletons) -> bool:
    """Whether no store can be made here (no zarr, or no GIS stack and no ``--skeletons``)."""
    try:
        importlib.import_module("zarr")
        if not skeletons:
            importlib.import_module("rasterio")
    except ImportError as err:
        print(f"to-Zarr rates skipped: {err}", file=sys.stderr)
        return True
    return False


def store_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def zarr_rate(model, model_name: str, cons, n: int, skeletons, codes, writers: int = 1) -> dict:
    """Realizations/s generated and written into a local store, as ``geocgan simulate``
    writes them (a background writer thread; or ``writers`` of them), and the bytes per
    realization."""
    from geocgan.io.ensemble import write_region

    canvas = model.canvas(*cons.shape)
    busy = [0.0]

    def write(store, start, fields):
        t = time.perf_counter()
        write_region(store, start, fields)
        busy[0] += time.perf_counter() - t

    with tempfile.TemporaryDirectory(dir=os.environ.get("THROUGHPUT_TMP")) as tmp:
        size = cons.shape[0]
        skeleton = skeletons and Path(skeletons) / skeleton_name(model_name, size, codes)
        store = make_store(Path(tmp) / "s.zarr", size, n, skeleton, codes)
        empty = store_bytes(store)
        t = time.perf_counter()
        with Background(threads=writers) as bg:
            for idx, fields in generate_batches(model, canvas.place(cons), range(n)):
                bg.submit(write, store, int(idx[0]), canvas.crop(fields))
        seconds = time.perf_counter() - t
        return {
            "per_s": n / seconds,
            "writer_busy": busy[0] / seconds,
            "bytes": (store_bytes(store) - empty) / n,
        }


def bf16_effect(model, cons, n: int) -> dict:
    """Honoring of float32 and bfloat16 ensembles (same seeds), and how much they differ."""
    f32 = simulate(model, cons, n, seed=7)
    b16 = simulate(model, cons, n, seed=7, precision="bfloat16")
    rows, cols = cons.rows_cols
    vals = cons.values[rows, cols]
    cat = model.spec.kind == "categorical"
    out = {
        f"honoring_{p}": honoring(f, rows, cols, vals, cat)["overall"]
        for p, f in (("f32", f32), ("bf16", b16))
    }
    if cat:
        out["pixels_differing"] = float((f32 != b16).mean())
    else:
        out["rms_difference_over_std"] = float(np.sqrt(((f32 - b16) ** 2).mean()) / f32.std())
    out["metric"] = "facies_match" if cat else "mse"
    return out


def rates(model, cons, batch: int, n: int, reps: int, old: bool) -> dict:
    """One row's rates (realizations/s) at ``batch``, measured in interleaved rounds: the
    generator alone, the noise, and ``simulate`` (n realizations a call); with ``old`` also
    the torch scheme's."""
    dev = model.device
    gpu = dev.type == "cuda"
    parts = model.latent(*model.canvas(*cons.shape).shape)
    ids = torch.arange(batch, device=dev)
    calls_per = max(1, n // batch)
    n_old = max(batch, n // (8 if gpu else 1))  # the old draws are slow on a GPU
    gen = generator_call(model, cons, batch, False)
    jobs = {  # name -> (function, realizations per call)
        "gen": (lambda: [gen() for _ in range(calls_per)], calls_per * batch),
        "noise": (lambda: noise.draw(parts, 0, ids, device=dev), batch),
        "sim": (lambda: simulate(model, cons, n, batch_size=batch), n),
    }
    if gpu:
        gen16 = generator_call(model, cons, batch, True)
        jobs["gen_bf16"] = (lambda: [gen16() for _ in range(calls_per)], calls_per * batch)
        jobs["sim_bf16"] = (
            lambda: simulate(model, cons, n, batch_size=batch, precision="bfloat16"),
            n,
        )
    if old:  # today's draws: one CPU generator per realization
        jobs["noise_torch"] = (
            lambda: noise.draw(parts, 0, range(batch), device=dev, scheme="torch"),
            batch,
        )
        jobs["sim_torch"] = (
            lambda: simulate(model, cons, n_old, batch_size=batch, noise_scheme="torch"),
            n_old,
        )
    cheap = [k for k in jobs if k.startswith("noise")]  # milliseconds: many more rounds
    seconds = best_times({k: jobs[k][0] for k in cheap}, dev, 10 * reps)
    seconds |= best_times({k: f for k, (f, _) in jobs.items() if k not in cheap}, dev, reps)
    row = {k: jobs[k][1] / seconds[k] for k in jobs}
    row["sim/gen"] = row["sim"] / row["gen"]
    row["mem_mb"] = memory_per_realization(model, cons, batch)
    return row


def train_rate(dev, batch: int, steps: int, size: int = 64) -> float:
    """Training images/s of the sample-data recipe's nets at ``size``² patches."""
    model = build_model("pixel-cgan", TRAIN_CONFIG, FieldSpec("categorical", [0, 1])).to(dev)
    fields = torch.as_tensor(
        channel_field((size, size), n=batch, seed=3), dtype=torch.float32, device=dev
    )
    real = Batch(model.spec.encode(fields))
    g = torch.Generator(device=dev).manual_seed(0)
    return steps * batch / timed(lambda: [model.train_step(real, g) for _ in range(steps)], dev, 1)


def markdown(res: dict) -> str:
    keys = ["model", "size", "batch", "gen", "gen_bf16", "noise", "noise_torch", "sim"]
    keys += ["sim_bf16", "sim_torch", "sim/gen", "mem_mb", "zarr", "zarr_writer_busy"]
    keys += ["zarr_4writers"]
    keys += ["bytes", "bytes_float32"]
    rows = res["rows"]
    keys = [k for k in keys if any(k in r for r in rows)]
    lines = [
        f"Measured {res['date']} on {res['device']} (torch {res['torch']}, "
        f"{res['torch_threads']} threads): `{res['command']}`. Realizations/s; mem_mb per "
        "realization; bytes on disk per realization.",
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
    ]
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    for name, eff in res.get("bf16", {}).items():
        lines.append(f"\nbfloat16 at 128², {name}: {json.dumps(eff)}")
    for k, v in res.items():
        if k.startswith("train_"):
            lines.append(f"\n{k}: {v:.1f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, default=ROOT / "workflows" / "results" / "throughput")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--model", type=Path, nargs="+", help="checkpoints instead of --models")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--batches", nargs="+", default=None, help="'auto' and/or numbers")
    p.add_argument("--quick", action="store_true", help="CPU: 64-256 only, fewer repeats")
    p.add_argument("--compile", action="store_true", help="generate through torch.compile")
    p.add_argument("--train", action="store_true", help="also training images/s")
    p.add_argument("--no-zarr", action="store_true", help="skip the store writes")
    p.add_argument("--skeletons", type=Path, help="empty stores made by --make-skeletons")
    p.add_argument("--make-skeletons", type=Path, help="make the GPU run's empty stores; exit")
    p.add_argument("--budget", type=float, default=None, help="seconds; later items skipped")
    a = p.parse_args()
    t_start = time.perf_counter()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    gpu = dev.type == "cuda"
    col = 0 if gpu or a.make_skeletons else 1
    named = {c.stem: c for c in a.model} if a.model else {m: MODELS[m] for m in a.models}
    if a.make_skeletons:
        a.make_skeletons.mkdir(parents=True, exist_ok=True)
        for name, ck in named.items():
            model, _ = load_model(ck)
            codes = model.spec.codes if model.spec.kind == "categorical" else None
            for size in a.sizes:
                kinds = [codes, None] if codes else [None]
                for c in kinds:  # the GPU run's n (64 for the float32 comparison)
                    n = N_ZARR[size][0] if c == codes else 64
                    make_store(a.make_skeletons / skeleton_name(name, size, c), size, n, None, c)
        return
    stores = not a.no_zarr and not zarr_missing(a.skeletons)  # before the stubs
    stub_gis()
    sizes = [s for s in a.sizes if not (a.quick and s > 256)]
    batches = a.batches or (["auto", "256"] if gpu else ["auto"])
    reps = 3 if gpu else (2 if a.quick else 4)
    res = {
        "device": torch.cuda.get_device_name(dev)
        if gpu
        else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_before": os.getloadavg(),
        "command": "python workflows/throughput.py " + " ".join(sys.argv[1:]),
        "rows": [],
        "bf16": {},
    }
    a.out.mkdir(parents=True, exist_ok=True)
    stem = ("gpu" if gpu else "cpu") + (f"_{a.threads}threads" if a.threads and not gpu else "")
    stem += "_compiled" if a.compile else ""

    def save():
        res["load_average_after"] = os.getloadavg()
        (a.out / f"{stem}_table.json").write_text(json.dumps(res, indent=1))
        (a.out / f"{stem}_table.md").write_text(markdown(res))

    def over_budget() -> bool:
        return a.budget is not None and time.perf_counter() - t_start > a.budget

    if a.train:
        res["train_images_per_s_64"] = train_rate(dev, 16, 50 if gpu else 10)
    for name, ck in named.items():
        model, _ = load_model(ck, device=dev)
        model.eval()
        if a.compile:
            model.compile_generator()
        codes = model.spec.codes if model.spec.kind == "categorical" else None
        for size in sizes:
            cons = wells(model, size)
            shape = model.canvas(size, size).shape
            auto = auto_batch_size(dev, *shape)
            for b in batches:
                if over_budget():
                    res["stopped_by_budget"] = True
                    save()
                    return
                batch = auto if b == "auto" else int(b)
                n = max(N_CALL[size][col], batch)
                row = {"model": name, "size": size, "batch": f"{batch}" + " (auto)" * (b == "auto")}
                row.update(rates(model, cons, batch, n, reps, old=b == "auto"))
                if b == "auto" and stores:
                    z = zarr_rate(model, name, cons, N_ZARR[size][col], a.skeletons, codes)
                    row.update(zarr=z["per_s"], zarr_writer_busy=z["writer_busy"], bytes=z["bytes"])
                    if gpu:  # would more writer threads keep up? (disjoint realizations)
                        z4 = zarr_rate(model, name, cons, N_ZARR[size][0], a.skeletons, codes, 4)
                        row["zarr_4writers"] = z4["per_s"]
                    if codes:
                        f = zarr_rate(model, name, cons, 64, a.skeletons, None)
                        row["bytes_float32"] = f["bytes"]
                res["rows"].append({k: v for k, v in row.items() if v is not None})
                print(json.dumps(res["rows"][-1]), flush=True)
                save()
            if size == 128 and (gpu or not a.quick):
                res["bf16"][name] = bf16_effect(model, cons, 512 if gpu else 16)
                save()
    res["seconds"] = time.perf_counter() - t_start
    save()
    print(markdown(res))


if __name__ == "__main__":
    main()
