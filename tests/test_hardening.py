"""Issue 17: atomic writes, device strings, kills, bad input, GIS readability."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from geocgan.devices import resolve_device
from geocgan.errors import InputError
from geocgan.files import atomic_path, is_partial, remove_partials


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_path_replaces_on_success_with_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "a.txt"
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".") and is_partial(tmp.name)
            tmp.write_text("new")
        assert target.read_text() == "new"
        assert _mode(target) == 0o644
        assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    finally:
        os.umask(old)


def test_atomic_path_keeps_old_file_and_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_path_restores_mode_of_writer_that_recreates(tmp_path):
    old = os.umask(0o002)
    try:
        target = tmp_path / "b.bin"
        with atomic_path(target) as tmp:
            tmp.unlink()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)  # like tempfile.mkstemp
            os.close(fd)
        assert _mode(target) == 0o664
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    "name, partial",
    [
        (".realizations.tif.1a2b3c4d.partial", True),
        (".realizations.tif.k3j_x9qz.part", True),  # tempfile.mkstemp, earlier versions
        ("honoring.json.partial", True),
        ("overview.partial.png", True),
        ("realizations.tif", False),
        ("notes.part", False),
        ("my.partial.txt", False),
    ],
)
def test_is_partial(name, partial):
    assert is_partial(name) is partial


def test_remove_partials(tmp_path):
    for name in (".x.tif.ab12cd34.partial", ".y.tif.abcdefgh.part", "keep.txt"):
        (tmp_path / name).write_text("")
    assert remove_partials(tmp_path) == [".x.tif.ab12cd34.partial", ".y.tif.abcdefgh.part"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match=r"unknown device 'tpu'.*auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("cuda:x")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            resolve_device("cuda:0")


# -- shared site: a 24 x 40 grid in UTM 31N, four wells, the shipped channel model ---------

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import rasterio  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from geocgan.cli import app  # noqa: E402
from geocgan.errors import GeocganError  # noqa: E402
from geocgan.io.ensemble import EnsembleStore, open_ensemble, write_region  # noqa: E402
from geocgan.io.grid import Grid  # noqa: E402

MODEL = Path(__file__).parents[1] / "sample_data" / "channels.safetensors"
runner = CliRunner()


@pytest.fixture
def site(tmp_path):
    grid = Grid.from_bounds(500000.0, 5700000.0, 500400.0, 5700240.0, 10.0, "EPSG:32631")
    grid.write_template(tmp_path / "grid.tif")
    rows, cols = np.array([0, 5, 10, 20]), np.array([0, 7, 30, 12])
    xs, ys = grid.transform @ (cols + 0.5, rows + 0.5)
    df = pd.DataFrame({"well_id": ["A", "B", "C", "D"], "x": xs, "y": ys, "facies": [0, 1, 1, 0]})
    df.to_csv(tmp_path / "wells.csv", index=False)
    return grid, tmp_path / "wells.csv", tmp_path / "grid.tif"


def _args(site, out, *extra, wells=None):
    _, wells_csv, grid_tif = site
    return [
        "simulate",
        str(wells or wells_csv),
        "--grid",
        str(grid_tif),
        "--model",
        str(MODEL),
        "--value-column",
        "facies",
        "-n",
        "5",
        "--batch-size",
        "2",
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def _bands(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()  # (n, H, W)


# -- item 2: a kill at any point leaves a state that a rerun completes ----------------------

KILL_POINTS = {  # name: (patched "module:attribute", call number, kill before/after it)
    "store skeleton written, not renamed": ("xarray:Dataset.to_zarr", 1, "after"),
    "between two batches": ("geocgan.io.ensemble:write_region", 2, "after"),
    "GeoTIFF half written": ("geocgan.job:_EnsembleStats.add", 1, "before"),
    "overview PNG not renamed": ("matplotlib.figure:Figure.savefig", 1, "after"),
    "complete, not consolidated": ("zarr:consolidate_metadata", 1, "before"),
    "--overwrite deleting": ("shutil:rmtree", 1, "after"),
}

DRIVER = textwrap.dedent(
    """
    import importlib, json, os, signal, sys
    import matplotlib.pyplot as plt
    import geocgan.job  # imports torch before forking; no thread pool has started yet
    import geocgan.plots
    from geocgan.cli import app

    def quick_overview(path, *args, **kwargs):  # the real one takes seconds on a busy CPU
        return geocgan.plots._save(plt.figure(figsize=(0.1, 0.1)), path)

    geocgan.plots.plot_overview = quick_overview

    def kill_at(target, call, when):
        module, _, attr = target.partition(":")
        owner = importlib.import_module(module)
        *parents, last = attr.split(".")
        for p in parents:
            owner = getattr(owner, p)
        original, calls = getattr(owner, last), [0]

        def patched(*a, **k):
            calls[0] += 1
            if calls[0] == call and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = original(*a, **k)
            if calls[0] == call and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(owner, last, patched)

    specs = json.loads(sys.argv[1])
    killed = {}
    for name, (target, call, when, args) in specs.items():
        pid = os.fork()
        if pid == 0:
            kill_at(target, call, when)
            try:
                app(args, standalone_mode=False)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        killed[name] = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    print(json.dumps(killed))
    """
)


def _quick_overview(path, *args, **kwargs):
    """A one-pixel overview: the drawing is not under test here, the writing is."""
    import matplotlib.pyplot as plt

    from geocgan.plots import _save

    return _save(plt.figure(figsize=(0.1, 0.1)), path)


def test_a_kill_at_any_point_of_simulate_is_completed_by_a_rerun_or_overwrite(
    site, tmp_path, monkeypatch
):
    monkeypatch.setattr("geocgan.plots.plot_overview", _quick_overview)
    ref = tmp_path / "ref"
    assert runner.invoke(app, _args(site, ref)).exit_code == 0
    expected = _bands(ref / "realizations.tif")  # (5, H, W)
    specs = {}
    for k, (name, (target, call, when)) in enumerate(KILL_POINTS.items()):
        out = tmp_path / f"kill{k}"
        extra = []
        if name.startswith("--overwrite"):
            shutil.copytree(ref, out)
            extra = ["--overwrite"]
        specs[name] = (target, call, when, _args(site, out, *extra))
    (tmp_path / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "driver.py"),
            json.dumps(specs),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == dict.fromkeys(KILL_POINTS, True)
    for k, name in enumerate(KILL_POINTS):
        out = tmp_path / f"kill{k}"
        again = tmp_path / f"kill{k}_overwrite"
        shutil.copytree(out, again, symlinks=True)
        for where, extra in ((out, []), (again, ["--overwrite"])):
            r = runner.invoke(app, _args(site, where, *extra))
            assert r.exit_code == 0, (name, extra, r.output)
            np.testing.assert_array_equal(
                _bands(where / "realizations.tif"), expected, err_msg=f"{name} {extra}"
            )
            assert open_ensemble(where / "ensemble.zarr").attrs["complete"] is True
            assert sorted(p.name for p in where.iterdir()) == sorted(
                p.name for p in ref.iterdir()
            ), (name, "leftovers")


def test_unfinished_store_with_every_realization_says_what_is_missing(site, tmp_path):
    grid = site[0]
    store = EnsembleStore.create(tmp_path / "e.zarr", grid, 2)
    write_region(store.path, 0, np.zeros((2, *grid.shape)))
    with pytest.raises(GeocganError, match=r"every realization is written, but the other outputs"):
        open_ensemble(store.path)


def test_info_lists_what_an_unfinished_store_lacks(site, tmp_path):
    grid = site[0]
    (tmp_path / "o").mkdir()
    store = EnsembleStore.create(tmp_path / "o" / "ensemble.zarr", grid, 3)
    write_region(store.path, 1, np.zeros((1, *grid.shape)))
    r = runner.invoke(app, ["info", str(store.path)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["complete"] is False and doc["missing_realizations"] == [0, 2]
    assert doc["missing_outputs"] == [
        "realizations.tif",
        "summary.tif",
        "honoring.json",
        "overview.png",
    ]
    assert "realizations 0, 2 were not written" in r.stderr and "rerun the same" in r.stderr
