"""The ensemble on disk: Zarr store (CF metadata, CRS, completeness, resume) and GeoTIFFs."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import rasterio
import zarr
from affine import Affine

from geocgan.errors import GeocganError, InputError, OutputExistsError
from geocgan.io.ensemble import (
    EnsembleStore,
    iter_realizations,
    open_ensemble,
    write_geotiff_chunks,
    write_geotiff_stack,
    write_region,
    write_summary_geotiff,
)
from geocgan.io.grid import Grid

ATTRS = {
    "model": "ruffino2019-facies",
    "seed": np.int64(42),
    "lambda": 0.1,
    "inputs": ("wells.csv", "grid.tif"),
    "config": {"nz": 2, "size": [16, 12]},
}


@pytest.fixture
def grid() -> Grid:
    """12 rows x 16 columns of 25 m in UTM 31N."""
    return Grid.from_bounds(400_000, 5_000_000, 400_400, 5_000_300, 25, "EPSG:32631")


def realizations(n: int, grid: Grid, seed: int = 0) -> np.ndarray:
    """Deterministic test fields, shape (n, H, W), float32 facies codes 0..2 with a NaN."""
    data = np.random.default_rng(seed).integers(0, 3, (n, *grid.shape)).astype(np.float32)
    data[0, 0, 0] = np.nan
    return data


# ---------------------------------------------------------------- GeoTIFF


def test_geotiff_stack_metadata_roundtrip(grid, tmp_path):
    data = realizations(3, grid)
    path = write_geotiff_stack(
        tmp_path / "ens.tif",
        grid,
        data,
        band_names=[f"realization_{i}" for i in range(3)],
        tags={"model": "m", "seed": 42},
        band_tags=[{"realization": i} for i in range(3)],
    )
    with rasterio.open(path) as src:
        assert src.crs == grid.crs and src.transform == grid.transform
        assert (src.count, src.height, src.width) == (3, *grid.shape)
        assert src.descriptions == ("realization_0", "realization_1", "realization_2")
        assert src.tags(2)["realization"] == "1"
        assert src.tags()["model"] == "m" and src.tags()["seed"] == "42"
        assert src.tags(ns="IMAGE_STRUCTURE")["INTERLEAVE"] == "BAND"
        assert src.block_shapes[0] == (16, 16)  # a 16 x 16 tile over 12 rows: tiled, not strips
        assert src.compression.name == "deflate"
        assert np.isnan(src.nodata) and src.dtypes[0] == "float32"
        np.testing.assert_array_equal(src.read(), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens.tif"]  # no temp files left


def test_summary_geotiff_band_names(grid, tmp_path):
    mean, std = np.full(grid.shape, 1.5, np.float32), np.full(grid.shape, 0.5, np.float32)
    path = write_summary_geotiff(tmp_path / "summary.tif", grid, {"mean": mean, "std": std})
    with rasterio.open(path) as src:
        assert src.descriptions == ("mean", "std")
        assert src.crs == grid.crs and src.transform == grid.transform
        assert src.tags(ns="IMAGE_STRUCTURE")["INTERLEAVE"] == "BAND"
        np.testing.assert_array_equal(src.read(2), std)


def test_geotiff_refuses_to_overwrite(grid, tmp_path):
    one = np.zeros((1, *grid.shape), np.float32)
    path = write_geotiff_stack(tmp_path / "a.tif", grid, one, band_names=["a"])
    with pytest.raises(OutputExistsError, match=r"a\.tif exists.*--overwrite"):
        write_geotiff_stack(path, grid, one + 1, band_names=["a"])
    write_geotiff_stack(path, grid, one + 1, band_names=["b"], overwrite=True)
    with rasterio.open(path) as src:
        assert src.descriptions == ("b",) and src.read(1)[0, 0] == 1
    with pytest.raises(InputError, match="Output directory .*nodir does not exist"):
        write_geotiff_stack(tmp_path / "nodir" / "a.tif", grid, one, band_names=["a"])


def test_interrupted_geotiff_leaves_old_file_and_no_temp(grid, tmp_path):
    class Interrupted(dict):
        def items(self):
            raise KeyboardInterrupt

    one = np.zeros((1, *grid.shape), np.float32)
    path = write_geotiff_stack(tmp_path / "a.tif", grid, one, band_names=["old"])
    with pytest.raises(KeyboardInterrupt):
        write_geotiff_stack(
            path, grid, one + 1, band_names=["new"], band_tags=[Interrupted()], overwrite=True
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]
    with rasterio.open(path) as src:
        assert src.descriptions == ("old",) and src.read(1)[0, 0] == 0


def test_geotiff_written_in_chunks_equals_the_stack(grid, tmp_path):
    data = realizations(5, grid)
    names = [f"realization_{i}" for i in range(5)]
    chunks = ((i, data[i : i + 2]) for i in range(0, 5, 2))  # bands 1-2, 3-4, 5
    path = write_geotiff_chunks(
        tmp_path / "ens.tif", grid, chunks, count=5, band_names=names, tags={"seed": 1}
    )
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(), data)
        assert src.descriptions == tuple(names) and src.tags()["seed"] == "1"
        assert src.tags(ns="IMAGE_STRUCTURE")["INTERLEAVE"] == "BAND"
        assert src.compression.name == "deflate" and src.block_shapes[0] == (16, 16)


@pytest.mark.parametrize(
    "chunks, message",
    [
        ([(0, np.zeros((2, 12, 16))), (3, np.zeros((1, 12, 16)))], "at 3 does not follow the 2"),
        ([(0, np.zeros((2, 12, 16)))], "Only 2 of 3 bands"),
        ([(0, np.zeros((3, 16, 12)))], r"\(3, 16, 12\) do not fit grid \(12, 16\)"),
    ],
)
def test_geotiff_chunks_that_do_not_cover_the_bands_are_refused(grid, tmp_path, chunks, message):
    with pytest.raises(ValueError, match=message):
        write_geotiff_chunks(tmp_path / "a.tif", grid, chunks, count=3, band_names=["a", "b", "c"])
    assert list(tmp_path.iterdir()) == []  # no partial file, no temp file


# ---------------------------------------------------------------- Zarr


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_store_metadata_and_data(grid, tmp_path, zarr_format):
    data = realizations(3, grid)
    store = EnsembleStore.create(
        tmp_path / "ens.zarr",
        grid,
        3,
        name="facies",
        attrs=ATTRS,
        var_attrs={"flag_values": [0, 1, 2]},
        zarr_format=zarr_format,
    )
    store.write(0, data)
    store.finalize()
    ds = open_ensemble(store.path)
    assert ds["facies"].dims == ("realization", "y", "x")
    assert ds["facies"].dtype == np.float32
    assert ds["facies"].encoding["chunks"] == (1, *grid.shape)
    assert ds["facies"].encoding["grid_mapping"] == "spatial_ref"
    assert ds["facies"].attrs["flag_values"] == [0, 1, 2]
    np.testing.assert_array_equal(ds["realization"], [0, 1, 2])
    assert ds["realization"].attrs["standard_name"] == "realization"
    assert ds["realization"].attrs["units"] == "1"
    np.testing.assert_array_equal(ds["x"], grid.x)
    np.testing.assert_array_equal(ds["y"], grid.y)
    for axis in ("x", "y"):
        assert ds[axis].attrs["standard_name"] == f"projection_{axis}_coordinate"
        assert ds[axis].attrs["units"] == "metre"
        assert ds[axis].attrs["axis"] == axis.upper()
    assert ds.rio.crs == grid.crs
    assert ds.rio.transform() == grid.transform
    assert "crs_wkt" in ds["spatial_ref"].attrs
    assert ds.attrs["complete"] is True
    assert ds.attrs["model"] == "ruffino2019-facies" and ds.attrs["seed"] == 42
    assert ds.attrs["lambda"] == 0.1 and ds.attrs["inputs"] == ["wells.csv", "grid.tif"]
    assert ds.attrs["config"] == '{"nz": 2, "size": [16, 12]}'  # nested values as JSON
    np.testing.assert_array_equal(ds["facies"].values, data)
    np.testing.assert_array_equal(ds["written"].values, [1, 1, 1])


def test_iter_realizations_reads_the_store_in_chunks(grid, tmp_path):
    data = realizations(5, grid)
    store = EnsembleStore.create(tmp_path / "ens.zarr", grid, 5)
    store.write(0, data)
    with pytest.raises(InputError, match="unfinished ensemble"):
        next(iter_realizations(store.path, 2))
    store.finalize()
    chunks = list(iter_realizations(store.path, 2))
    assert [(start, len(c)) for start, c in chunks] == [(0, 2), (2, 2), (4, 1)]
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), data)


def test_incomplete_store_is_refused(grid, tmp_path):
    data = realizations(4, grid)
    store = EnsembleStore.create(tmp_path / "ens.zarr", grid, 4, name="facies", attrs=ATTRS)
    assert store.missing() == [0, 1, 2, 3]
    store.write(0, data[:1])
    store.write(2, data[2:3])
    assert store.missing() == [1, 3]
    with pytest.raises(
        InputError, match=r"unfinished ensemble: realizations 1, 3 .*Rerun the same"
    ):
        open_ensemble(store.path)
    partial = open_ensemble(store.path, allow_incomplete=True)
    assert np.isnan(partial["facies"][1]).all()
    np.testing.assert_array_equal(partial["facies"][2], data[2])
    with pytest.raises(GeocganError, match=r"Cannot finalize .*realizations 1, 3 were not written"):
        store.finalize()


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_resume_gives_the_same_store(grid, tmp_path, zarr_format):
    data = realizations(4, grid)
    kwargs = {"name": "value", "attrs": ATTRS, "zarr_format": zarr_format}
    whole = EnsembleStore.create(tmp_path / "whole.zarr", grid, 4, **kwargs)
    whole.write(0, data)
    whole.finalize()

    first = EnsembleStore.create(tmp_path / "resumed.zarr", grid, 4, **kwargs)
    first.write(0, data[:2])  # then the run is interrupted
    resumed = EnsembleStore.open_or_create(tmp_path / "resumed.zarr", grid, 4, **kwargs)
    assert resumed.missing() == [2, 3]
    for i in resumed.missing():
        resumed.write(i, data[i : i + 1])
    resumed.finalize()

    a, b = open_ensemble(whole.path), open_ensemble(resumed.path)
    assert a.identical(b)
    np.testing.assert_array_equal(b["value"].values, data)


def test_resume_refuses_another_command_or_a_complete_store(grid, tmp_path):
    path = tmp_path / "ens.zarr"
    store = EnsembleStore.create(path, grid, 2, name="facies", attrs=ATTRS)
    with pytest.raises(OutputExistsError, match=r"different command \(its attributes differ\)"):
        EnsembleStore.open_for_resume(path, grid, 2, name="facies", attrs={**ATTRS, "seed": 1})
    other = Grid.from_bounds(400_000, 5_000_000, 400_400, 5_000_300, 25, "EPSG:32632")
    with pytest.raises(OutputExistsError, match=r"number of realizations, CRS differ.*--overwrite"):
        EnsembleStore.open_for_resume(path, other, 3, name="facies", attrs=ATTRS)
    moved = Grid(grid.height, grid.width, grid.transform @ Affine.translation(1, 0), grid.crs)
    with pytest.raises(OutputExistsError, match=r"its grid transform differ"):
        EnsembleStore.open_for_resume(path, moved, 2, name="facies", attrs=ATTRS)
    store.write(0, realizations(2, grid))
    store.finalize()
    with pytest.raises(OutputExistsError, match="complete ensemble already.*--overwrite"):
        EnsembleStore.open_or_create(path, grid, 2, name="facies", attrs=ATTRS)
    with pytest.raises(OutputExistsError, match=r"is complete; refusing"):
        write_region(path, 0, realizations(1, grid))


def test_create_refuses_existing_output(grid, tmp_path):
    path = tmp_path / "ens.zarr"
    EnsembleStore.create(path, grid, 2, attrs=ATTRS)
    with pytest.raises(
        OutputExistsError, match=r"unfinished ensemble: rerun the same command.*--overwrite"
    ):
        EnsembleStore.create(path, grid, 2, attrs=ATTRS)
    store = EnsembleStore.create(path, grid, 3, attrs=ATTRS, overwrite=True)
    assert store.missing() == [0, 1, 2]
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious")
    with pytest.raises(OutputExistsError, match="not a Zarr store; geocgan will not delete it"):
        EnsembleStore.create(folder, grid, 2, overwrite=True)
    assert (folder / "keep.txt").exists()


def test_rotated_grid_store_keeps_transform(tmp_path):
    transform = Affine.translation(400_000, 5_000_000) @ Affine.rotation(15) @ Affine.scale(25, -25)
    rotated = Grid(8, 10, transform, "EPSG:32631")
    store = EnsembleStore.create(tmp_path / "rot.zarr", rotated, 1)
    store.write(0, np.ones((1, 8, 10)))
    store.finalize()
    ds = open_ensemble(store.path)
    assert ds["value"].dims == ("realization", "y", "x") and "x" not in ds.coords
    assert ds.rio.crs == rotated.crs
    assert ds.rio.transform().almost_equals(transform)


def test_write_region_checks_shape(grid, tmp_path):
    store = EnsembleStore.create(tmp_path / "ens.zarr", grid, 2)
    with pytest.raises(ValueError, match=r"shape \(1, 5, 5\) at realization 0"):
        write_region(store.path, 0, np.zeros((1, 5, 5)))
    with pytest.raises(ValueError, match="at realization 1"):
        write_region(store.path, 1, np.zeros((2, *grid.shape)))


def test_open_ensemble_errors(tmp_path):
    with pytest.raises(InputError, match=r"none\.zarr does not exist"):
        open_ensemble(tmp_path / "none.zarr")
    zarr.open_group(tmp_path / "plain.zarr", mode="w")
    with pytest.raises(InputError, match="not a geocgan ensemble store"):
        open_ensemble(tmp_path / "plain.zarr")


def test_concurrent_writes_from_worker_processes(grid, tmp_path):
    data = realizations(4, grid)
    store = EnsembleStore.create(tmp_path / "ens.zarr", grid, 4)
    context = multiprocessing.get_context("spawn")  # fresh processes that know only the path
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        jobs = [pool.submit(write_region, str(store.path), i, data[i : i + 1]) for i in range(4)]
        for job in jobs:
            job.result()
    assert store.missing() == []
    store.finalize()
    np.testing.assert_array_equal(open_ensemble(store.path)["value"].values, data)
