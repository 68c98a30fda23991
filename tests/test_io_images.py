import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

from geocgan.errors import InputError
from geocgan.io.images import read_training_image

TI = np.add.outer(np.arange(20), np.arange(30)) % 3


def test_every_format_reads_the_same_image(tmp_path):
    np.save(tmp_path / "ti.npy", TI)
    with rasterio.open(
        tmp_path / "ti.tif",
        "w",
        driver="GTiff",
        height=20,
        width=30,
        count=1,
        dtype="uint8",
        transform=Affine(1, 0, 0, 0, -1, 20),
    ) as dst:
        dst.write(TI.astype("uint8"), 1)
    ds = xr.Dataset({"facies": (("y", "x"), TI)})
    ds.to_netcdf(tmp_path / "ti.nc", engine="h5netcdf")
    ds.to_zarr(tmp_path / "ti.zarr", consolidated=False)
    for name in ("ti.npy", "ti.tif", "ti.nc", "ti.zarr"):
        np.testing.assert_array_equal(read_training_image(tmp_path / name), TI)


def test_bad_training_images(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_training_image(tmp_path / "none.tif")
    (tmp_path / "ti.png").write_bytes(b"x")
    with pytest.raises(InputError, match=r"unknown format '.png'; use .tif, .nc, .zarr or .npy"):
        read_training_image(tmp_path / "ti.png")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(InputError, match=r"must be 2-D, got shape \(2, 3, 4\)"):
        read_training_image(tmp_path / "cube.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="not a plain numeric .npy"):
        read_training_image(tmp_path / "obj.npy")  # never unpickled
    xr.Dataset({"a": (("y", "x"), TI), "b": (("y", "x"), TI)}).to_zarr(
        tmp_path / "two.zarr", consolidated=False
    )
    with pytest.raises(
        InputError, match=r"holds variables \['a', 'b'\]; choose one with --variable"
    ):
        read_training_image(tmp_path / "two.zarr")
    np.testing.assert_array_equal(read_training_image(tmp_path / "two.zarr", variable="b"), TI)
    holes = TI.astype(float)
    holes[3, 4] = np.nan
    np.save(tmp_path / "holes.npy", holes)
    with pytest.raises(InputError, match="1 missing"):
        read_training_image(tmp_path / "holes.npy")


def test_geocgan_io_names_resolve_on_first_use():
    import geocgan.io as io

    for name in io.__all__:  # every re-exported name is found in its module
        assert getattr(io, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        io.nothing  # noqa: B018
