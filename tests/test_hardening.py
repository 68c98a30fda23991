"""Issue 17: atomic writes, device strings, kills, bad input, GIS readability."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
import xarray as xr
from affine import Affine
from pyproj import Transformer
from typer.testing import CliRunner

from geocgan.cli import app
from geocgan.devices import resolve_device
from geocgan.errors import ConstraintError, GeocganError, InputError
from geocgan.files import atomic_path, is_partial, remove_partials
from geocgan.io.ensemble import EnsembleStore, open_ensemble, write_region
from geocgan.io.grid import Grid
from geocgan.io.wells import read_wells


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


def _args(site, out, *extra, wells=None, grid=None, model=None):
    _, wells_csv, grid_tif = site
    return [
        "simulate",
        str(wells or wells_csv),
        "--grid",
        str(grid or grid_tif),
        "--model",
        str(model or MODEL),
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


# -- item 3: no traceback for input a user can get wrong -------------------------------------


def _geojson(tmp_path, doc) -> Path:
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps(doc))
    return path


def _feature(geometry, properties):
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": geometry, "properties": properties}],
    }


POINT = {"type": "Point", "coordinates": [500005.0, 5700005.0]}

# name: (make the arguments from (site, tmp_path), exit code, words the message must hold)
BAD_INPUTS = {
    "--out is an existing file": (
        lambda s, t: _args(s, _touch(t / "out.txt")),
        1,
        ["out.txt", "is a file", "directory"],
    ),
    "--out below a file": (
        lambda s, t: _args(s, _touch(t / "f") / "sub"),
        1,
        ["Not a directory", "/f", "check the path"],
    ),
    "GeoJSON features: [null]": (
        lambda s, t: _args(
            s, t / "o", wells=_geojson(t, {"type": "FeatureCollection", "features": [None]})
        ),
        1,
        ["w.geojson", "feature 1", "Feature object"],
    ),
    "GeoJSON string feature": (
        lambda s, t: _args(
            s, t / "o", wells=_geojson(t, {"type": "FeatureCollection", "features": ["W1"]})
        ),
        1,
        ["w.geojson", "feature 1 is str"],
    ),
    "GeoJSON geometry as a list": (
        lambda s, t: _args(s, t / "o", wells=_geojson(t, _feature([1, 2], {"facies": 0}))),
        1,
        ["w.geojson", "feature 1", "geometry and properties must be JSON objects"],
    ),
    "GeoJSON properties as a list": (
        lambda s, t: _args(s, t / "o", wells=_geojson(t, _feature(POINT, [0]))),
        1,
        ["w.geojson", "feature 1", "properties"],
    ),
    "GeoJSON crs.properties as a list": (
        lambda s, t: _args(
            s,
            t / "o",
            wells=_geojson(
                t, {**_feature(POINT, {"facies": 0}), "crs": {"type": "name", "properties": []}}
            ),
        ),
        1,
        ["w.geojson", '"crs" member', "--wells-crs"],
    ),
    "CSV header with x and 'x '": (
        lambda s, t: _args(
            s, t / "o", wells=_text(t / "w.csv", "well_id,x,y,x ,facies\nA,1,2,3,0\n")
        ),
        1,
        ["w.csv", "'x' more than once", "Rename"],
    ),
    "--device tpu": (
        lambda s, t: [*_args(s, t / "o"), "--device", "tpu"],
        1,
        ["unknown device 'tpu'", "auto, cpu, cuda or cuda:N"],
    ),
    "config: unknown key": (
        lambda s, t: [
            "--config",
            str(_text(t / "c.yaml", "simulate:\n  seeds: 3\n")),
            *_args(s, t / "o"),
        ],
        2,
        ["c.yaml", "unknown options ['seeds']", "valid:"],
    ),
    "config: broken YAML": (
        lambda s, t: [
            "--config",
            str(_text(t / "c.yaml", "simulate: [n: 3\n")),
            *_args(s, t / "o"),
        ],
        2,
        ["c.yaml", "not valid YAML"],
    ),
    "config: not UTF-8": (
        lambda s, t: ["--config", str(_bytes(t / "c.yaml", b"\xff\xfe\x00")), *_args(s, t / "o")],
        2,
        ["c.yaml", "UTF-8"],
    ),
    "unknown EPSG code": (
        lambda s, t: [*_args(s, t / "o"), "--wells-crs", "EPSG:99999"],
        1,
        ["EPSG:99999", "not understood", "EPSG code such as"],
    ),
    "lon/lat wells without --wells-crs": (
        lambda s, t: _args(s, t / "o", wells=_lonlat(s, t, swap=False)),
        1,
        ["w.csv", "line 2", "span x", "crs='EPSG:4326'"],
    ),
    "lon/lat swapped": (
        lambda s, t: [
            *_args(s, t / "o", wells=_lonlat(s, t, swap=True)),
            "--wells-crs",
            "EPSG:4326",
        ],
        1,
        ["w.csv", "line 2", "swapped", "--x-column"],
    ),
    "wells in another UTM zone": (
        lambda s, t: _args(s, t / "o", wells=_zone32(s, t)),
        1,
        ["w.csv", "line 2", "EPSG:32632", "UTM zone"],
    ),
    "wells file missing": (
        lambda s, t: _args(s, t / "o", wells=t / "nope.csv"),
        1,
        ["nope.csv", "does not exist"],
    ),
    "grid template is text": (
        lambda s, t: _args(s, t / "o", grid=_text(t / "g.tif", "no raster")),
        1,
        ["g.tif", "cannot be read as a raster", "GeoTIFF"],
    ),
    "model is not a checkpoint": (
        lambda s, t: _args(s, t / "o", model=_bytes(t / "m.safetensors", b"x" * 64)),
        1,
        ["m.safetensors"],
    ),
    "value column missing": (
        lambda s, t: [*_args(s, t / "o"), "--value-column", "Facies"],
        1,
        ["w", "'Facies'", "Did you mean 'facies'", "--value-column"],
    ),
    "facies code unknown": (
        lambda s, t: _args(s, t / "o", wells=_edit(s, t, facies=[0, 1, 5, 0])),
        1,
        ["w.csv", "line 4 (well C): 5", "codes [0, 1]", "Recode"],
    ),
    "fractional facies": (
        lambda s, t: _args(s, t / "o", wells=_edit(s, t, facies=[0, 0.37, 1, 0])),
        1,
        ["w.csv", "line 3 (well B): 0.37", "look like continuous", "--value-column"],
    ),
    "non-numeric x": (
        lambda s, t: _args(s, t / "o", wells=_edit(s, t, x=["500005", "5000,5", "500305", "x"])),
        1,
        ["w.csv", "line 3 (well B)", "'5000,5'", "decimal separator"],
    ),
    "CSV not UTF-8": (
        lambda s, t: _args(s, t / "o", wells=_bytes(t / "w.csv", b"x,y,facies\n\xff,1,0\n")),
        1,
        ["w.csv", "UTF-8"],
    ),
    "empty CSV": (
        lambda s, t: _args(s, t / "o", wells=_text(t / "w.csv", "")),
        1,
        ["w.csv", "empty", "header row"],
    ),
    "--bounds without --res": (
        lambda s, t: [
            *_args(s, t / "o")[:2],
            "--bounds",
            "0",
            "0",
            "10",
            "10",
            *_args(s, t / "o")[4:],
        ],
        1,
        ["--bounds needs --res and --crs"],
    ),
    "-n 0": (lambda s, t: [*_args(s, t / "o"), "-n", "0"], 2, ["greater than or equal to 1"]),
    "--zarr-format 4": (
        lambda s, t: [*_args(s, t / "o"), "--zarr-format", "4"],
        1,
        ["--zarr-format must be 2 or 3"],
    ),
    "--device cuda without a GPU": (
        lambda s, t: [*_args(s, t / "o"), "--device", "cuda"],
        1,
        ["CUDA is not available", "--device cpu"],
    ),
    "info on a directory that is no store": (
        lambda s, t: ["info", str(t)],
        1,
        ["is not a Zarr store"],
    ),
    "--overwrite with foreign files": (
        lambda s, t: [*_args(s, _text(t / "o" / "thesis.docx", "x").parent), "--overwrite"],
        1,
        ["thesis.docx", "choose a new or empty directory"],
    ),
}


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _edit(site, tmp_path, **columns) -> Path:
    df = pd.read_csv(site[1]).assign(**columns)
    df.to_csv(tmp_path / "w.csv", index=False)
    return tmp_path / "w.csv"


def _lonlat(site, tmp_path, swap: bool) -> Path:
    df = pd.read_csv(site[1])
    lon, lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(df.x, df.y)
    return _edit(site, tmp_path, x=lat if swap else lon, y=lon if swap else lat)


def _zone32(site, tmp_path) -> Path:
    df = pd.read_csv(site[1])
    x, y = Transformer.from_crs(32631, 32632, always_xy=True).transform(df.x, df.y)
    return _edit(site, tmp_path, x=x, y=y)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_a_message_never_a_traceback(site, tmp_path, capfd, case):
    make, code, words = BAD_INPUTS[case]
    r = runner.invoke(app, make(site, tmp_path))
    err = r.stderr + capfd.readouterr().err  # GDAL writes to the file descriptor itself
    assert r.exit_code == code, (r.exit_code, err)
    assert (
        "Traceback" not in err
        and "ERROR 1" not in err
        and r.exception is None
        or isinstance(r.exception, SystemExit)
    ), err
    for word in words:
        assert word in err, (word, err)


# -- item 4: silent wrong input now warns ----------------------------------------------------


def test_duplicated_well_ids_warn_and_stay_apart(site, tmp_path, monkeypatch):
    grid, wells_csv, _ = site
    wells = _edit(site, tmp_path, well_id=["W000", "W000", "W000", "D"])
    with pytest.warns(UserWarning, match=r"'W000' at line 2, line 3, line 4.*separate wells"):
        got = read_wells(wells, grid, value="facies", categorical=True)
    assert list(got.ids) == ["W000 (line 2)", "W000 (line 3)", "W000 (line 4)", "D"]
    monkeypatch.setattr("geocgan.plots.plot_overview", _quick_overview)
    shutil.copy(wells, tmp_path / "w2.csv")  # a new message: Python shows each one once
    r = runner.invoke(app, _args(site, tmp_path / "o", wells=tmp_path / "w2.csv"))
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "o" / "honoring.json").read_text())
    assert [w["id"] for w in report["per_well"]][:3] == [
        "W000 (line 2)",
        "W000 (line 3)",
        "W000 (line 4)",
    ]


def test_warnings_print_as_one_line_without_python_source(site, tmp_path):
    wells = _edit(site, tmp_path, well_id=["W0", "W0", "C", "D"], facies=[0, 1, 7, 0])
    done = subprocess.run(  # pytest records warnings in-process: a real process shows them
        [sys.executable, "-m", "geocgan.cli", *_args(site, tmp_path / "o", wells=wells)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines = done.stderr.splitlines()
    assert done.returncode == 1 and lines[0].startswith("warning: Well file"), done.stderr
    assert lines[1].startswith("error: Well file") and len(lines) == 2, done.stderr


def test_integer_values_for_a_continuous_model_warn(site):
    grid, wells_csv, _ = site
    with pytest.warns(UserWarning, match=r"'facies' is one of the whole numbers 0, 1.*look like"):
        read_wells(wells_csv, grid, value="facies")


def test_continuous_values_do_not_warn(site, tmp_path):
    wells = _edit(site, tmp_path, facies=[0.12, 3.4, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_wells(wells, site[0], value="facies")


def test_fractional_values_for_a_facies_model_say_they_look_continuous(site, tmp_path):
    wells = _edit(site, tmp_path, facies=[0.12, 3.4, 2.0, 1.0])
    with pytest.raises(InputError, match=r"look like continuous values.*facies model \(codes"):
        read_wells(wells, site[0], value="facies", categorical=True, codes=[0, 1])


@pytest.mark.parametrize(
    "make, crs, fix",
    [
        (lambda s, t: _lonlat(s, t, swap=False), None, r"longitude/latitude.*EPSG:4326"),
        (lambda s, t: _lonlat(s, t, swap=True), "EPSG:4326", r"x and y swapped"),
        (lambda s, t: _zone32(s, t), None, r"EPSG:32632 \(UTM zone 32N\)"),
        (lambda s, t: _edit(s, t, x=pd.read_csv(s[1]).y, y=pd.read_csv(s[1]).x), None, "swapped"),
    ],
)
def test_all_wells_outside_say_their_extent_and_the_likely_cause(site, tmp_path, make, crs, fix):
    with pytest.raises(ConstraintError, match=r"The wells span x .* to .*, y .* in the grid's CRS"):
        read_wells(make(site, tmp_path), site[0], value="facies", crs=crs)
    with pytest.raises(ConstraintError, match=fix):
        read_wells(make(site, tmp_path), site[0], value="facies", crs=crs)


def test_lonlat_wells_in_another_utm_zone_than_the_grid(tmp_path):
    grid = Grid.from_bounds(500000.0, 5700000.0, 500400.0, 5700240.0, 10.0, "EPSG:32631")
    _text(tmp_path / "w.csv", "x,y,value\n9.1,51.4,0.5\n9.2,51.5,0.7\n")  # zone 32
    with pytest.raises(ConstraintError, match=r"UTM zone\(s\) 32, the grid is in zone 31N"):
        read_wells(tmp_path / "w.csv", grid, crs="EPSG:4326")


# -- item 5: outputs every GIS tool reads ----------------------------------------------------


def test_simulate_outputs_facies_codes_crs_for_gdal_and_umask_modes(site, tmp_path, monkeypatch):
    monkeypatch.setattr("geocgan.plots.plot_overview", _quick_overview)
    old = os.umask(0o022)
    try:
        r = runner.invoke(app, _args(site, tmp_path / "o"))
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    out = tmp_path / "o"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name: _mode(p) for p in files if _mode(p) != 0o644} == {}  # mkstemp gave 0600
    store = out / "ensemble.zarr"
    meta = json.loads((store / "facies" / ".zarray").read_text())
    attrs = json.loads((store / "facies" / ".zattrs").read_text())
    assert meta["dtype"] == "|u1" and meta["fill_value"] == 255
    assert attrs["flag_values"] == [0, 1] and attrs["flag_meanings"] == "facies_0 facies_1"
    assert "UTM zone 31N" in attrs["_CRS"]["wkt"] and attrs["grid_mapping"] == "spatial_ref"
    ds = open_ensemble(store)
    assert ds["facies"].dtype == np.float32 and set(np.unique(ds["facies"].values)) <= {0, 1}
    with rasterio.open(out / "realizations.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.colorinterp[2] != rasterio.enums.ColorInterp.blue  # not read as RGB
    with rasterio.open(f'ZARR:"{store}":/facies:0') as src:  # GDAL through rasterio
        assert src.crs == rasterio.crs.CRS.from_epsg(32631)


@pytest.mark.skipif(shutil.which("gdalinfo") is None, reason="gdalinfo not installed")
def test_gdalinfo_reads_the_zarr_crs(site, tmp_path):
    grid = site[0]
    store = EnsembleStore.create(tmp_path / "e.zarr", grid, 1, codes=[0, 1])
    write_region(store.path, 0, np.zeros((1, *grid.shape)))
    store.finalize()
    info = subprocess.run(
        ["gdalinfo", f'ZARR:"{store.path}":/value:0'], capture_output=True, text=True
    ).stdout
    assert "UTM zone 31N" in info and "Origin = (500000" in info, info


def test_rotated_grid_keeps_its_transform_in_a_plain_open_zarr(tmp_path):
    transform = Affine.translation(500000, 5700000) * Affine.rotation(20) * Affine.scale(10, -10)
    grid = Grid(8, 12, transform, "EPSG:32631")
    store = EnsembleStore.create(tmp_path / "rot.zarr", grid, 2)
    write_region(store.path, 0, np.ones((2, 8, 12)))
    store.finalize()
    ds = xr.open_zarr(store.path)  # no decode_coords: what a user types first
    assert ds["value"].rio.transform().almost_equals(transform)
    assert ds["value"].rio.crs == rasterio.crs.CRS.from_epsg(32631)


def test_float_stores_of_earlier_versions_still_read(site, tmp_path):
    grid = site[0]
    store = EnsembleStore.create(tmp_path / "old.zarr", grid, 2, name="facies")  # float32
    codes = np.stack([np.zeros(grid.shape), np.ones(grid.shape)])  # (2, H, W)
    write_region(store.path, 0, codes)
    store.finalize()
    ds = open_ensemble(store.path)
    np.testing.assert_array_equal(ds["facies"].values, codes)


def test_facies_codes_must_be_integers_other_than_the_fill(site, tmp_path):
    grid = site[0]
    store = EnsembleStore.create(tmp_path / "e.zarr", grid, 1, codes=[0, 1])
    with pytest.raises(ValueError, match="integers other than 255"):
        write_region(store.path, 0, np.full((1, *grid.shape), 0.5))


# -- item 6: smaller ---------------------------------------------------------------------


def test_batch_size_help_keeps_its_default_text():
    r = runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert "about 2^18 pixels on a CPU" in r.output


def test_debug_shows_the_traceback(site, tmp_path):
    r = runner.invoke(app, ["--debug", *_args(site, tmp_path / "o"), "--device", "tpu"])
    assert isinstance(r.exception, InputError)


def test_overview_draws_facies_as_classes_with_a_legend(site, monkeypatch, tmp_path):
    from geocgan import plots
    from geocgan.constraints import FieldSpec

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    grid = site[0]
    fields = np.zeros((2, *grid.shape), np.float32)
    fields[1, :, 20:] = 2  # (2, H, W) codes 0 and 2
    wells = read_wells(
        _edit(site, tmp_path, facies=[0, 2, 2, 0]), grid, value="facies", categorical=True
    )
    summary = {f"probability of facies {c}": np.full(grid.shape, 0.5) for c in (0, 2)}
    plots.plot_overview(
        tmp_path / "o.png", fields, grid, wells, FieldSpec("categorical", [0, 2]), summary
    )
    (fig,) = figures
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["facies 0", "facies 2"]
    colourbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colourbars) == 2  # the probability maps only


def test_unknown_epsg_code_prints_no_stray_gdal_line():
    code = (
        "from geocgan.errors import GridError\n"
        "from geocgan.io.grid import parse_crs\n"
        "try:\n    parse_crs('EPSG:99999', what='the grid')\n"
        "except GridError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "EPSG:99999" in done.stdout and "not understood" in done.stdout
    assert done.stderr == "", done.stderr  # was "ERROR 1: PROJ: ... crs not found"


def test_file_system_errors_name_the_path_and_the_fix():
    from geocgan.cli import _message

    err = PermissionError(13, "Permission denied", "/data/out")
    assert _message(err) == "Permission denied (/data/out); choose a place you may write to"
