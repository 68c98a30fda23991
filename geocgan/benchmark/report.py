"""The benchmark's outputs: its CSV rows, Markdown tables, targets and figures."""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geocgan.benchmark.config import CHANNEL_CODE, TRUTH_SEED
from geocgan.evaluate import to_json
from geocgan.files import atomic_path
from geocgan.metrics.plots_geostats import distance_bin_labels
from geocgan.peers import PeerRun

TARGET_SIZE = 128  # grid side at which the speed targets are judged


def row(case, size, method, run: PeerRun, stats: dict, lwo: dict, load: float) -> dict:
    """One CSV row: timings, honoring and the headline statistics (None where not applicable)."""
    hon, conn = stats["honoring"], stats["connectivity"]
    props, corr = stats["proportions"], stats["conditional_correlation"]
    cspread, cmean = stats.get("conditional_spread"), stats.get("conditional_mean")
    channel = conn["by_facies"][CHANNEL_CODE] if conn else None
    k = None if props is None else list(props["codes"]).index(CHANNEL_CODE)
    return {
        "case": case,
        "size": size,
        "method": method,
        "n": len(run.realizations),
        "setup_s": run.setup_s,
        "per_realization_s": run.per_realization_s,
        "geocgan_speedup": None,  # filled once geocgan's time is known
        "load_1min": load,
        "honoring_metric": hon["metric"],
        "honoring": hon["overall"],
        "honoring_mse_over_variance": hon.get("mse_over_variance"),
        "worst_realization": hon["worst_realization"],
        "neighbourhood_share": hon.get("neighbourhood_share"),
        "neighbourhood_share_truth": None,  # filled by the grid, which knows the truth
        "spread": stats["spread"]["value"],
        "channel_proportion": None if props is None else props["ensemble"][k],
        "channel_proportion_ti": None if props is None else props["training_image"][k],
        "proportion_error": None if props is None else props["error"],
        "variogram_error": stats["variogram"]["error"],
        "connectivity_error": None if conn is None else conn["error"],
        "spanning_channel": None if channel is None else channel["spanning"]["ensemble"],
        "spanning_channel_ti": None if channel is None else channel["spanning"]["training_image"],
        "spanning_error": None if conn is None else conn["spanning_error"],
        "corr_error": None if corr is None else corr["mean_abs_error"],
        "corr_pair_error": None if corr is None else float(np.mean(corr["pair_abs_error"])),
        # ensemble std / simple-kriging std beside the wells (<= 1.5 px), and |ratio - 1|
        # averaged over distance bins (``conditional_spread_check``)
        "std_ratio_near": None if cspread is None else float(cspread["ratio"][0]),
        "std_ratio_error": None if cspread is None else cspread["mean_abs_error"],
        # RMS of (ensemble mean - simple-kriging estimate) / kriging std, the sampling error of
        # n taken out (``conditional_mean_check``): a biased conditional mean
        "mean_bias": None if cmean is None else cmean["rms_bias"],
        # the ensemble mean against the estimate, a least-squares line: 1 and 0 when exact
        "mean_slope": None if cmean is None else cmean["slope"],
        "mean_shift": None if cmean is None else cmean["shift"],
        "n_held_out": lwo["n_held_out"],
        "coverage": lwo.get("coverage"),
        "coverage_expected": lwo.get("expected_if_calibrated"),
        "brier": lwo.get("brier"),
        "holdout_accuracy": lwo.get("accuracy"),
    }


# --------------------------------------------------------------------------- outputs


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
        cpu = names[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}"


def _targets(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) at TARGET_SIZE (speed) and at every grid (quality)."""
    out = []
    by = {(r["case"], r["size"], r["method"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    speed_size = TARGET_SIZE if TARGET_SIZE in sizes else sizes[-1]

    def verdict(ok: bool, margin: str) -> str:
        return ("met" if ok else "MISSED") + f" ({margin})"

    if ("channels", speed_size, "geone_deesse") in by:
        s = by[("channels", speed_size, "geone_deesse")]["geocgan_speedup"]
        out.append(
            (
                f"{speed_size}²: ≥ 100x faster than DeeSse",
                f"{s:.3g}x",
                verdict(s >= 100, f"{s / 100:.2f} of target"),
            )
        )
    fastest = [
        by[("gaussian", speed_size, p)]["geocgan_speedup"]
        for p in ("gstools_condsrf", "geone_sgs", "geone_fft")
        if ("gaussian", speed_size, p) in by
    ]
    if fastest:
        s = min(fastest)
        out.append(
            (
                f"{speed_size}²: ≥ 10x faster than the fastest Gaussian peer",
                f"{s:.3g}x",
                verdict(s >= 10, f"{s / 10:.2f} of target"),
            )
        )
    for size in sizes:
        g = by.get(("channels", size, "geocgan"))
        if g:
            out.append(
                (
                    f"channels {size}²: facies match at wells ≥ 99 %",
                    f"{100 * g['honoring']:.2f} %",
                    verdict(g["honoring"] >= 0.99, f"{100 * (g['honoring'] - 0.99):+.2f} pts"),
                )
            )
            d = by.get(("channels", size, "geone_deesse"))
            if d:
                for key in (
                    "proportion_error",
                    "variogram_error",
                    "connectivity_error",
                    "spanning_error",
                ):
                    a, b = g[key], d[key]
                    out.append(
                        (
                            f"channels {size}²: {key.replace('_', ' ')} < DeeSse's",
                            f"{a:.3f} vs {b:.3f}",
                            verdict(a < b, f"{a - b:+.3f}"),
                        )
                    )
        g = by.get(("gaussian", size, "geocgan"))
        if g:
            r = g["honoring_mse_over_variance"]
            out.append(
                (
                    f"gaussian {size}²: well MSE ≤ 1 % of variance",
                    f"{100 * r:.2f} %",
                    verdict(r <= 0.01, f"{100 * (r - 0.01):+.2f} pts"),
                )
            )
            geone = [
                by[("gaussian", size, p)]["corr_error"]
                for p in ("geone_sgs", "geone_fft")
                if ("gaussian", size, p) in by
            ]
            if geone:
                ref = max(geone)
                out.append(
                    (
                        f"gaussian {size}²: conditional-correlation error ≤ geone's",
                        f"{g['corr_error']:.3f} vs {ref:.3f}",
                        verdict(g["corr_error"] <= ref, f"{g['corr_error'] - ref:+.3f}"),
                    )
                )
            c = g["coverage"]
            out.append(
                (
                    f"gaussian {size}²: 5-95 % coverage of held-out wells within 5 pts of 90 %",
                    f"{100 * c:.0f} % ({g['n_held_out']} wells; exact ensemble of this n: {100 * g['coverage_expected']:.0f} %)",
                    verdict(abs(c - 0.9) <= 0.05, f"{100 * (c - 0.9):+.0f} pts"),
                )
            )
    return out


COLUMNS = {
    "gaussian": [
        ("method", "method"),
        ("size", "grid"),
        ("per_realization_s", "s / real."),
        ("setup_s", "set-up s"),
        ("geocgan_speedup", "geocgan speed-up"),
        ("honoring_mse_over_variance", "well MSE / var"),
        ("spread", "spread (std)"),
        ("variogram_error", "variogram err"),
        ("corr_error", "cond. corr. err"),
        ("corr_pair_error", "per-pair corr. err"),
        ("std_ratio_near", "std / kriging std ≤ 1.5 px"),
        ("std_ratio_error", "std / kriging std err"),
        ("mean_bias", "mean bias (kriging stds)"),
        ("mean_slope", "mean vs estimate: slope"),
        ("mean_shift", "mean vs estimate: shift"),
        ("coverage", "coverage 5-95 %"),
        ("coverage_expected", "exact-ensemble coverage"),
        ("load_1min", "load"),
    ],
    "channels": [
        ("method", "method"),
        ("size", "grid"),
        ("per_realization_s", "s / real."),
        ("setup_s", "set-up s"),
        ("geocgan_speedup", "geocgan speed-up"),
        ("honoring", "facies match"),
        ("neighbourhood_share", "wells amid own facies"),
        ("neighbourhood_share_truth", "truth: amid own facies"),
        ("channel_proportion", "channel prop."),
        ("channel_proportion_ti", "TI prop."),
        ("proportion_error", "prop. err"),
        ("variogram_error", "ind. variogram err"),
        ("connectivity_error", "connectivity err"),
        ("spanning_channel", "spanning share"),
        ("spanning_channel_ti", "TI spanning"),
        ("spread", "spread (bits)"),
        ("brier", "Brier held-out"),
        ("load_1min", "load"),
    ],
}


def write_outputs(cfg, rows, details, examples, command, wall, loads) -> None:
    with (cfg.out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: fmt(v, 6) for k, v in r.items()} for r in rows)
    (cfg.out / "details.json").write_text(
        json.dumps(to_json({"config": asdict(cfg), "results": details}), indent=1, allow_nan=False)
    )
    plots = _plot_all(cfg.out, rows, details, examples)
    load_txt = ", ".join(f"{a:.1f}/{b:.1f}/{c:.1f}" for a, b, c in loads)
    lines = [
        "# geocgan vs GSTools and geone: side-by-side benchmark",
        "",
        f"- command: `{command}`",
        f"- truth seed {cfg.truth_seed}, wells seed {cfg.wells_seed}"
        + ("" if cfg.truth_seed == TRUTH_SEED else " (validation wells, not the reported case)"),
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {machine()}; every method on {cfg.threads} threads; geocgan "
        + ("through torch.compile (compilation counted in its set-up)" if cfg.compile else "eager"),
        f"- wall time: {wall / 60:.1f} min",
        f"- load average (1/5/15 min) at the start and after each grid: {load_txt}. The cores "
        "were shared with other jobs: timings are noisy, the `load` column is the 1-minute load "
        "when each method started.",
        f"- realizations: n = {cfg.n} ({cfg.repeats} timed calls) below {cfg.large_size}², "
        f"n = {cfg.large_n} ({cfg.large_repeats} timed calls) from {cfg.large_size}²; "
        f"{100 * cfg.holdout_share:.0f} % of the wells held out for the leave-wells-out check"
        + (f", re-simulated with n = {cfg.holdout_n}" if cfg.holdout_n else ""),
        "- s / real.: median over timed calls of call time / realizations per call, after a "
        "warm-up; geocgan is timed before and after the peers of each grid and its time is the "
        "median of all its calls, so that a drift of the machine's speed does not favour either "
        "side; set-up: one-off work plus the warm-up call; geocgan speed-up: the method's "
        "time per realization / geocgan's.",
        "- statistics (definitions in `geocgan/evaluate.py`), against windows of the training "
        "image of the grid's size: wells amid own facies = share of (realization, well) whose 8 "
        "neighbours are mostly of the well's facies (low: wells honored by isolated pixels; the "
        "truth's own share beside it); prop. err = largest |proportion difference|; variogram err = "
        "relative RMSE of the (indicator) variograms over x, y, omni and all lags up to half the "
        "grid; connectivity err = mean |tau_ens - tau_TI| over lags, x/y and facies; spanning "
        "share = channel pixels in components touching both x edges (spanning error in the "
        "targets: largest difference over facies); cond. corr. err = |exact - ensemble| of the "
        "mean conditional correlation of 200 random off-well pixel pairs per lag, averaged over "
        "lags 1, 3, 6, 12 px (per-pair: mean over pairs, includes sampling noise ~(1 - rho²) / "
        "sqrt(n)); std / kriging std = the ensemble's std over the exact simple-kriging std at "
        "4000 random off-well pixels, beside the wells (<= 1.5 px) and as |ratio - 1| averaged "
        "over distance bins 0-1.5, 1.5-3, 3-6, 6-12, 12-24, > 24 px (an exact simulator: 1 and "
        "0, up to sampling noise ~1/sqrt(2n)); coverage = held-out wells inside the 5-95 % interval of the ensemble simulated "
        "without them; Brier = multi-class Brier score of the facies probabilities there; "
        "spread = mean per-pixel std (Gaussian) or entropy in bits (channels).",
        "",
    ]
    for case in cfg.cases:
        cols = COLUMNS[case]
        lines += [f"## {case}", "", "| " + " | ".join(h for _, h in cols) + " |"]
        lines.append("|" + "---|" * len(cols))
        for r in rows:
            if r["case"] == case:
                lines.append("| " + " | ".join(fmt(r[k]) for k, _ in cols) + " |")
        lines.append("")
    lines += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in _targets(rows)]
    lines += ["", "## Plots", ""] + [f"- [{p.name}]({p.name})" for p in plots] + [""]
    if (cfg.out / "discussion.md").exists():
        lines += [
            "Analysis, written by hand (check its date against this run's): "
            "[discussion.md](discussion.md)",
            "",
        ]
    (cfg.out / "results.md").write_text("\n".join(lines))


# --------------------------------------------------------------------------- plots


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (90 dpi); return ``path``."""
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    return path


def _plot_all(out: Path, rows, details, examples) -> list[Path]:
    paths = [_plot_timing(out / "timing.png", rows)]
    cases = {r["case"] for r in rows}
    if "channels" in cases:
        paths.append(_plot_channel_errors(out / "channel_statistics.png", rows))
    if "gaussian" in cases:
        paths.append(_plot_correlation(out / "gaussian_correlation.png", details))
        paths.append(_plot_coverage(out / "gaussian_coverage.png", rows))
        paths.append(_plot_spread(out / "gaussian_spread.png", details))
    for (case, size), ex in examples.items():
        paths.append(_plot_examples(out / f"examples_{case}_{size}.png", case, size, ex))
    return paths


def _plot_timing(path: Path, rows) -> Path:
    cases = sorted({r["case"] for r in rows})
    fig = Figure(figsize=(5 * len(cases), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(cases)))
    for ax, case in zip(axes, cases, strict=True):
        for method in dict.fromkeys(r["method"] for r in rows if r["case"] == case):
            sel = [r for r in rows if r["case"] == case and r["method"] == method]
            ax.plot(
                [r["size"] for r in sel],
                [r["per_realization_s"] for r in sel],
                marker="o",
                label=method,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("grid side (pixels)")
        ax.set_ylabel("time per realization (s)")
        ax.set_title(f"{case}: median time per conditional realization")
        ax.legend(fontsize="small")
    return save_png(fig, path)


def _plot_channel_errors(path: Path, rows) -> Path:
    keys = ["proportion_error", "variogram_error", "connectivity_error", "spanning_error"]
    sel = [r for r in rows if r["case"] == "channels"]
    labels = [f"{r['method']} {r['size']}²" for r in sel]
    fig = Figure(figsize=(4 * len(keys), 3.5), layout="constrained")
    for ax, key in zip(fig.subplots(1, len(keys)), keys, strict=True):
        ax.bar(
            range(len(sel)),
            [r[key] for r in sel],
            color=["C0" if r["method"] == "geocgan" else "C1" for r in sel],
        )
        ax.set_xticks(range(len(sel)), labels, fontsize="x-small", rotation=45)
        ax.set_title(f"{key.replace('_', ' ')} vs TI (lower is better)", fontsize="small")
    return save_png(fig, path)


def _gaussian_panels(details) -> tuple[Figure, list]:
    """One panel per Gaussian grid, titled: ``(figure, [(ax, [(method, statistics), ...])])``."""
    keys = [k for k in details if k.startswith("gaussian/")]
    sizes = sorted({int(k.split("/")[1]) for k in keys})
    fig = Figure(figsize=(4.5 * len(sizes), 3.8), layout="constrained")
    panels = []
    for ax, size in zip(np.atleast_1d(fig.subplots(1, len(sizes))), sizes, strict=True):
        runs = [
            (k.split("/")[2], details[k]["statistics"])
            for k in keys
            if int(k.split("/")[1]) == size
        ]
        ax.set_title(f"gaussian {size}²")
        panels.append((ax, runs))
    return fig, panels


def _plot_correlation(path: Path, details) -> Path:
    fig, panels = _gaussian_panels(details)
    for ax, runs in panels:
        for i, (method, stats) in enumerate(runs):
            corr = stats["conditional_correlation"]
            if i == 0:
                ax.plot(
                    corr["lags"],
                    corr["exact"],
                    color="k",
                    linestyle="--",
                    label="exact (simple kriging)",
                )
            ax.plot(corr["lags"], corr["ensemble"], marker="o", label=method)
        ax.set_xlabel("lag (pixels)")
        ax.set_ylabel("mean conditional correlation (-)")
        ax.legend(fontsize="small")
    return save_png(fig, path)


def _plot_spread(path: Path, details) -> Path:
    """Ensemble std / simple-kriging std by distance to the nearest well, per grid and method."""
    fig, panels = _gaussian_panels(details)
    for ax, runs in panels:
        for method, stats in runs:
            check = stats["conditional_spread"]
            ax.plot(distance_bin_labels(check["edges"]), check["ratio"], marker="o", label=method)
        ax.axhline(1.0, color="k", linestyle="--", label="exact")
        ax.set_xlabel("distance to the nearest well (pixels)")
        ax.set_ylabel("ensemble std / kriging std (-)")
        ax.legend(fontsize="small")
    return save_png(fig, path)


def _plot_coverage(path: Path, rows) -> Path:
    sel = [r for r in rows if r["case"] == "gaussian"]
    fig = Figure(figsize=(1.2 * len(sel) + 2, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.bar(
        range(len(sel)),
        [r["coverage"] for r in sel],
        color=["C0" if r["method"] == "geocgan" else "C1" for r in sel],
    )
    ax.plot(
        range(len(sel)),
        [r["coverage_expected"] for r in sel],
        "k_",
        markersize=20,
        label="exact ensemble of this n",
    )
    ax.axhline(0.9, color="grey", linestyle="--", label="nominal 90 %")
    ax.set_xticks(
        range(len(sel)),
        [f"{r['method']}\n{r['size']}² ({r['n_held_out']})" for r in sel],
        fontsize="x-small",
    )
    ax.set_ylabel("held-out wells inside 5-95 % (fraction)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return save_png(fig, path)


def _plot_examples(path: Path, case: str, size: int, ex: dict) -> Path:
    methods = [k for k in ex if k not in ("truth", "wells") and not k.endswith(" mean")]
    panels = [("truth + wells", ex["truth"])]
    for m in methods:
        panels += [
            (f"{m} #0", ex[m][0]),
            (f"{m} mean" if case == "gaussian" else f"{m} P(channel)", ex[f"{m} mean"]),
        ]
    fig = Figure(figsize=(2.6 * len(panels), 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    vmin, vmax = (-2.5, 2.5) if case == "gaussian" else (0, 1)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    w = ex["wells"]
    axes[0].scatter(w.cols, w.rows, c="r", s=6)
    fig.suptitle(f"{case} {size}² (pixels; wells in red)", fontsize="small")
    return save_png(fig, path)
