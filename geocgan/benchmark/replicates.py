"""The benchmark's quality statistics over many independent truths and wells, judged on their mean.

:func:`run_replicates` draws ``K`` cases (truth seed ``first_seed + k``, wells seed
``first_seed + 100 + k``), runs every method on each as :func:`geocgan.benchmark.run.run_grid`
does, keeps each finished case so that an interrupted run resumes, and writes the summary:
per method, grid and statistic the mean over the cases and its standard error
(:func:`mean_se`); per quality target the paired difference geocgan - peer over the cases
(:func:`paired`); coverage pooled over every held-out well (:func:`pooled_coverage`).
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from geocgan.benchmark import report
from geocgan.benchmark.config import CHANNEL_TRUTH_SIDE, TRUTH_SEED, BenchConfig, log
from geocgan.benchmark.run import case_inputs, case_methods, run_grid
from geocgan.errors import InputError, OutputExistsError
from geocgan.evaluate import to_json
from geocgan.files import atomic_path
from geocgan.peers import PEERS_INSTALL_HINT, available_peers
from geocgan.recipes import DENSITY

FIRST_SEED = 3000  # truth seeds 3000, 3001, ...; wells seeds 3100, 3101, ...
STATISTICS = {  # per case: (row key, label, lower is better)
    "gaussian": [
        ("honoring_mse_over_variance", "well MSE / var", True),
        ("spread", "spread (std)", None),
        ("variogram_error", "variogram err", True),
        ("corr_error", "cond. corr. err", True),
        ("std_ratio_near", "std / kriging std ≤ 1.5 px", None),
        ("std_ratio_error", "std / kriging std err", True),
        ("mean_bias", "mean bias (kriging stds)", True),
        ("mean_slope", "mean vs estimate: slope (exact 1)", None),
        ("mean_shift", "mean vs estimate: shift (exact 0)", None),
        ("coverage", "coverage 5-95 %", None),
    ],
    "channels": [
        ("honoring", "facies match", False),
        ("neighbourhood_share", "wells amid own facies", False),
        ("proportion_error", "prop. err", True),
        ("variogram_error", "ind. variogram err", True),
        ("connectivity_error", "connectivity err", True),
        ("spanning_error", "spanning err", True),
        ("spread", "spread (bits)", None),
        ("brier", "Brier held-out", True),
    ],
}
CHANNEL_TARGETS = ("proportion_error", "variogram_error", "connectivity_error", "spanning_error")
EXACT_GAUSSIAN = ("geone_sgs", "geone_fft")


@dataclass
class ReplicateConfig:
    """Settings of a replicate run: the benchmark's settings plus the cases to draw."""

    bench: BenchConfig
    replicates: int = 8
    first_seed: int = FIRST_SEED
    jobs: int = 2  # processes, each with bench.threads threads
    out: Path = field(kw_only=True)  # results folder
    root: Path | None = None  # the summary names the models relative to this folder
    overwrite: bool = False

    def seeds(self) -> list[tuple[int, int]]:
        """(truth seed, wells seed) of every case."""
        return [(self.first_seed + k, self.first_seed + 100 + k) for k in range(self.replicates)]


# --------------------------------------------------------------------------- running the cases


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def settings_key(cfg: ReplicateConfig, case: str, checkpoint: Path) -> dict:
    """What a finished case depends on: a case made with other settings is not reused (a new
    channel model reruns the channel cases alone)."""
    b = cfg.bench
    return {
        "sizes": list(b.sizes),
        "n": b.n,
        "large_n": b.large_n,
        "large_size": b.large_size,
        "holdout_share": b.holdout_share,
        "holdout_n": b.holdout_n,
        "seed": b.seed,
        "density": DENSITY,
        "peers": None if b.peers is None else sorted(b.peers),
        "model": _sha256(checkpoint),
        "training_image": _sha256(b.channel_ti) if case == "channels" else None,
        # how a channel truth is drawn (None: a field of the grid's size, as before 2026-11-26)
        "truth": f"tile of {CHANNEL_TRUTH_SIDE}²" if case == "channels" else None,
    }


def run_case(
    bench: BenchConfig, case: str, seeds: tuple[int, int], inputs: tuple, methods: list[str]
) -> list:
    """Every method on every grid of one case drawn with ``seeds``: the benchmark's rows.
    ``inputs``: the case's ``(checkpoint, training image, codes)`` (:func:`~geocgan.benchmark.run.case_inputs`)."""
    torch.set_num_threads(bench.threads)
    bench = replace(bench, truth_seed=seeds[0], wells_seed=seeds[1])
    checkpoint, ti, codes = inputs
    rows = []
    for size in bench.sizes:
        grid_rows, _ = run_grid(bench, case, size, methods, checkpoint, ti, codes)
        rows += [{**r, "truth_seed": seeds[0], "wells_seed": seeds[1]} for r in grid_rows]
    return rows


def run_replicates(cfg: ReplicateConfig, command: str = "") -> list[dict]:
    """Run (or resume) every case; write the summary; return every row."""
    b = cfg.bench
    summary = cfg.out / "summary.md"
    if summary.exists() and not cfg.overwrite:
        raise OutputExistsError(f"{summary} exists; pass --overwrite to run the replicates again.")
    missing = [p for p, ok in available_peers().items() if not ok]
    if missing:
        log(f"peers missing, skipped: {', '.join(missing)} (install: {PEERS_INSTALL_HINT})")
    inputs = {case: case_inputs(b, case) for case in b.cases}  # once, for every case
    checkpoints = {case: value[0] for case, value in inputs.items()}
    keys = {case: settings_key(cfg, case, path) for case, path in checkpoints.items()}
    methods = {case: case_methods(b, case, available_peers()) for case in b.cases}
    cases_dir = cfg.out / "cases"
    if cfg.overwrite:  # the cases are checked one by one below
        for name in ("summary.md", "summary.json", "replicates.csv", "replicates.png"):
            (cfg.out / name).unlink(missing_ok=True)
    cases_dir.mkdir(parents=True, exist_ok=True)
    done, todo = {}, []
    for seeds in cfg.seeds():
        for case in b.cases:
            path = cases_dir / f"{case}_{seeds[0]}_{seeds[1]}.json"
            kept = json.loads(path.read_text()) if path.exists() else None
            changed = [] if kept is None else _changes(kept, keys[case], methods[case])
            if changed and not cfg.overwrite:
                raise InputError(
                    f"{path} was made with other settings ({', '.join(changed)}); pass "
                    "--overwrite to make such cases again, or --out for a separate run."
                )
            if kept is not None and not changed:
                done[(case, seeds)] = kept["rows"]
            else:
                todo.append((case, seeds, path))
    if done:
        log(f"resuming: {len(done)} case(s) already done under {cases_dir}")
    started = time.perf_counter()
    with tqdm(total=len(todo), unit="case", desc="replicates") as bar:
        if cfg.jobs > 1 and len(todo) > 1:
            # spawn: a fresh interpreter per worker, no torch/OpenMP state shared through fork
            with ProcessPoolExecutor(cfg.jobs, mp_context=get_context("spawn")) as pool:
                futures = {
                    pool.submit(run_case, b, case, seeds, inputs[case], methods[case]): (
                        case,
                        seeds,
                        path,
                    )
                    for case, seeds, path in todo
                }
                failed = []
                for future in as_completed(futures):  # a case that fails loses no other
                    case, seeds, path = futures[future]
                    try:
                        done[(case, seeds)] = _keep(path, keys[case], future.result())
                    except Exception as err:  # noqa: BLE001 (re-raised once the others are in)
                        failed.append(err)
                        log(f"case {case} {seeds} failed: {err}")
                    bar.update()
                if failed:
                    raise failed[0]
        else:
            for case, seeds, path in todo:
                rows = run_case(b, case, seeds, inputs[case], methods[case])
                done[(case, seeds)] = _keep(path, keys[case], rows)
                bar.update()
    rows = [r for seeds in cfg.seeds() for case in b.cases for r in done[(case, seeds)]]
    wall = time.perf_counter() - started
    _write_outputs(cfg, rows, checkpoints, command, wall, kept=len(done) - len(todo))
    log(f"replicates done in {wall / 60:.1f} min -> {cfg.out}")
    return rows


ADDED_SETTINGS = {"holdout_n": 0}  # settings added since cases were kept: their value before


def _changes(kept: dict, key: dict, methods: list[str]) -> list[str]:
    """What differs between a kept case and this run: settings, or the methods that ran (a
    peer installed since, or one missing now)."""
    old = {**ADDED_SETTINGS, **kept["settings"]}
    changed = sorted(k for k in key.keys() | old.keys() if old.get(k) != key.get(k))
    if sorted({r["method"] for r in kept["rows"]}) != sorted(methods):
        changed.append("methods")
    return changed


def _keep(path: Path, key: dict, rows: list[dict]) -> list[dict]:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_json({"settings": key, "rows": rows})))
    return rows


# --------------------------------------------------------------------------- aggregation


def _values(rows, case, size, method, key) -> np.ndarray:
    """One value per case seed of ``case`` (ordered by truth seed), NaN where ``method`` has
    none: two methods' arrays line up case by case."""
    seeds = sorted({r["truth_seed"] for r in rows if r["case"] == case})
    found = {
        r["truth_seed"]: r.get(key)  # None too in cases kept before the statistic existed
        for r in rows
        if (r["case"], r["size"], r["method"]) == (case, size, method)
    }
    return np.array([np.nan if found.get(s) is None else float(found[s]) for s in seeds])


def mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and its standard error (sample std / sqrt(k)); se is NaN for one value."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else math.nan
    return float(v.mean()), se


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """Paired comparison of two methods' errors over the same cases (lower is better)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    ok = np.isfinite(d)
    mean, se = mean_se(d[ok])
    return {
        "mean_a": float(np.mean(np.asarray(a, float)[ok])),
        "mean_b": float(np.mean(np.asarray(b, float)[ok])),
        "diff_mean": mean,
        "diff_se": se,
        "a_better": int(np.sum(d[ok] < 0)),
        "k": int(ok.sum()),
    }


def pooled_coverage(rows, case, size, method) -> dict:
    """Coverage over every held-out well of every case, and what an exact ensemble expects."""
    sel = [
        r
        for r in rows
        if (r["case"], r["size"], r["method"]) == (case, size, method)
        and r.get("coverage") is not None
    ]
    n = sum(r["n_held_out"] for r in sel)
    if n == 0:
        return {"coverage": math.nan, "expected_if_exact": math.nan, "n_held_out": 0}
    return {
        "coverage": sum(r["coverage"] * r["n_held_out"] for r in sel) / n,
        "expected_if_exact": sum(r["coverage_expected"] * r["n_held_out"] for r in sel) / n,
        "n_held_out": n,
    }


def _verdict(p: dict) -> str:
    met = p["diff_mean"] < 0
    clear = math.isfinite(p["diff_se"]) and abs(p["diff_mean"]) > 2 * p["diff_se"]
    return ("met" if met else "MISSED") + (", clear" if clear else ", within noise")


def summarize(rows: list[dict]) -> dict:
    """Means, standard errors, paired target comparisons and pooled coverage of the rows."""
    out = {"statistics": {}, "targets": [], "coverage": {}}
    sizes = sorted({r["size"] for r in rows})
    for case in dict.fromkeys(r["case"] for r in rows):
        methods = list(dict.fromkeys(r["method"] for r in rows if r["case"] == case))
        for size in sizes:
            for method in methods:
                out["statistics"][f"{case}/{size}/{method}"] = {
                    key: mean_se(_values(rows, case, size, method, key))
                    for key, _, _ in STATISTICS[case]
                }
                if case == "gaussian":
                    out["coverage"][f"{size}/{method}"] = pooled_coverage(rows, case, size, method)
            g = {key: _values(rows, case, size, "geocgan", key) for key, _, _ in STATISTICS[case]}
            if case == "channels":
                worst = float(np.nanmin(g["honoring"]))
                out["targets"].append(
                    {
                        "target": f"channels {size}²: facies match at wells ≥ 99 % (worst case)",
                        "measured": f"{100 * worst:.2f} %",
                        "verdict": "met" if worst >= 0.99 else "MISSED",
                    }
                )
                if "geone_deesse" in methods:
                    for key in CHANNEL_TARGETS:
                        p = paired(g[key], _values(rows, case, size, "geone_deesse", key))
                        out["targets"].append(
                            {
                                "target": f"channels {size}²: {key.replace('_', ' ')} < DeeSse's",
                                **p,
                                "verdict": _verdict(p),
                            }
                        )
            else:
                worst = float(np.nanmax(g["honoring_mse_over_variance"]))
                out["targets"].append(
                    {
                        "target": f"gaussian {size}²: well MSE ≤ 1 % of variance (worst case)",
                        "measured": f"{100 * worst:.2f} %",
                        "verdict": "met" if worst <= 0.01 else "MISSED",
                    }
                )
                exact = [m for m in EXACT_GAUSSIAN if m in methods]
                if exact:
                    # "as close to the exact correlations as geone's exact simulators get": against
                    # the one of them with the larger mean error
                    means = {
                        m: mean_se(_values(rows, case, size, m, "corr_error"))[0] for m in exact
                    }
                    ref = max(exact, key=means.get)
                    p = paired(g["corr_error"], _values(rows, case, size, ref, "corr_error"))
                    met = p["diff_mean"] <= 0
                    clear = math.isfinite(p["diff_se"]) and abs(p["diff_mean"]) > 2 * p["diff_se"]
                    out["targets"].append(
                        {
                            "target": f"gaussian {size}²: conditional-correlation error ≤ "
                            f"geone's ({ref})",
                            **p,
                            "others": {m: means[m] for m in exact},
                            "verdict": ("met" if met else "MISSED")
                            + (", clear" if clear else ", within noise"),
                        }
                    )
                cov = out["coverage"][f"{size}/geocgan"]
                peers = "".join(
                    f"; {m} {100 * out['coverage'][f'{size}/{m}']['coverage']:.1f} %"
                    for m in methods
                    if m != "geocgan"
                )
                out["targets"].append(
                    {
                        "target": f"gaussian {size}²: 5-95 % coverage within 5 pts of 90 % "
                        "(pooled)",
                        "measured": f"{100 * cov['coverage']:.1f} % of {cov['n_held_out']} wells "
                        f"(exact ensemble of this n: {100 * cov['expected_if_exact']:.1f} %{peers})",
                        "verdict": "met" if abs(cov["coverage"] - 0.9) <= 0.05 else "MISSED",
                    }
                )
    return out


# --------------------------------------------------------------------------- outputs


def _pm(mean: float, se: float, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return ""
    return f"{mean:.{digits}f}" + (f" ± {se:.{digits}f}" if math.isfinite(se) else "")


def _write_outputs(
    cfg: ReplicateConfig, rows, checkpoints: dict, command: str, wall: float, kept: int
) -> None:
    summary = summarize(rows)
    with (cfg.out / "replicates.csv").open("w", newline="") as f:
        # every column any row has: cases kept from before a column was added lack it
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows({k: report.fmt(v, 6) for k, v in r.items()} for r in rows)
    b = cfg.bench
    lines = [
        "# geocgan vs geone over independent truths and wells",
        "",
        f"- command: `{command}`",
        f"- {cfg.replicates} cases per grid: truth seeds {cfg.first_seed}–"
        f"{cfg.first_seed + cfg.replicates - 1}, wells seeds {cfg.first_seed + 100}–"
        f"{cfg.first_seed + 100 + cfg.replicates - 1}"
        + (
            " (not the reported case, 2024, nor the validation sets, 2025–2026)"
            if not {TRUTH_SEED, 2025, 2026} & {s for s, _ in cfg.seeds()}
            else " (among them a seed of the reported case or a validation set)"
        ),
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {report.machine()}; {cfg.jobs} processes of {b.threads} thread(s); geocgan "
        + ("through torch.compile" if b.compile else "eager"),
        f"- wall time: {wall / 60:.1f} min for the cases run in this call"
        + (f"; {kept} case(s) kept from an earlier call with the same settings" if kept else ""),
        f"- models: {', '.join(f'{c} `{_rel(p, cfg.root)}`' for c, p in checkpoints.items())}",
        f"- realizations: n = {b.n} below {b.large_size}², {b.large_n} from {b.large_size}²; "
        f"{100 * b.holdout_share:.0f} % of the wells held out"
        + (f" (re-simulated with n = {b.holdout_n})" if b.holdout_n else "")
        + "; statistics as in "
        "`results.md` (definitions in `geocgan/evaluate.py`)",
        "- entries: mean ± standard error over the cases; targets: paired difference "
        "geocgan − peer over the same cases (negative favours geocgan), and in how many cases "
        "geocgan is better; 'clear' when the mean difference exceeds two standard errors",
        "",
        "## Targets",
        "",
        "| target | geocgan | peer | difference | geocgan better in | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for t in summary["targets"]:
        if "diff_mean" in t:
            lines.append(
                f"| {t['target']} | {t['mean_a']:.3f} | {t['mean_b']:.3f} | "
                f"{_pm(t['diff_mean'], t['diff_se'])} | {t['a_better']} of {t['k']} | "
                f"{t['verdict']} |"
            )
        else:
            lines.append(f"| {t['target']} | {t['measured']} | | | | {t['verdict']} |")
    for case in b.cases:
        stats = STATISTICS[case]
        lines += ["", f"## {case}", "", "| method | grid | " + " | ".join(s[1] for s in stats)]
        lines[-1] += " |"
        lines.append("|---|---|" + "---|" * len(stats))
        for name, values in summary["statistics"].items():
            c, size, method = name.split("/")
            if c == case:
                cells = [_pm(*values[key]) for key, _, _ in stats]
                lines.append(f"| {method} | {size} | " + " | ".join(cells) + " |")
        if case == "gaussian":
            lines += [
                "",
                "Coverage pooled over every held-out well: "
                + "; ".join(
                    f"{k.replace('/', '² ')} {100 * v['coverage']:.1f} % of {v['n_held_out']}"
                    for k, v in summary["coverage"].items()
                ),
            ]
    lines += ["", "## Plot", "", "- [replicates.png](replicates.png)", ""]
    _plot(cfg.out / "replicates.png", summary, b.cases)
    (cfg.out / "summary.json").write_text(
        json.dumps(
            to_json({"command": command, "seeds": cfg.seeds(), **summary}),
            indent=1,
            allow_nan=False,
        )
    )
    with atomic_path(cfg.out / "summary.md") as tmp:  # last: marks the run complete
        tmp.write_text("\n".join(lines))


def _rel(path: Path, root: Path | None) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)


def _plot(path: Path, summary: dict, cases) -> None:
    panels = [("channels", k) for k in CHANNEL_TARGETS] + [("gaussian", "corr_error")]
    panels = [p for p in panels if p[0] in cases]
    fig = Figure(figsize=(3.2 * len(panels), 3.0), constrained_layout=True)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (case, key) in zip(axes, panels, strict=True):
        by_method: dict[str, list] = {}
        for name, values in summary["statistics"].items():
            c, size, method = name.split("/")
            if c == case:
                by_method.setdefault(method, []).append((int(size), *values[key]))
        for i, (method, pts) in enumerate(by_method.items()):
            s, m, e = np.array(pts, dtype=float).T
            ax.errorbar(s * (1 + 0.04 * i), m, yerr=np.nan_to_num(e), marker="o", label=method)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("grid side (px)")
        ax.set_title(f"{case}: {key.replace('_', ' ')}", fontsize=9)
        ax.legend(fontsize=7)
    report.save_png(fig, path)
