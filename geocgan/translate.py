"""Translate a raster with a trained translation model: any size, georeference kept.

``read_raster`` reads a GeoTIFF (1..N bands; uint8, uint16, int16, float32...), a Zarr store
or a NetCDF file into raw values, the valid-pixel mask, the transform, CRS and nodata value.
``translate_array`` runs the model on it in overlapping tiles blended with weights that fall
linearly towards a tile's inner edges over the overlap (``ramp``), so that no seam shows and a raster of any
size fits the device's memory; the noise of realization ``i`` is drawn once for the whole
(padded) grid from ``(seed, i)`` and each tile takes its window of it, so a tile sees the
same noise wherever the tiling puts it. ``translate`` writes one realization as a GeoTIFF
(facies: integer codes with a colour table) or ``n`` as an ensemble store (Zarr, as
``geocgan simulate`` writes them, resumable). Nodata pixels of the input (any band) are
nodata in every output.

Tiled and untiled outputs agree away from the raster's edges up to the context the tiles
cut off: with an overlap at least the generator's receptive field they agree to float
rounding; the tests state the tolerance they check.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from affine import Affine
from rasterio.crs import CRS
from tqdm.auto import tqdm

from geocgan import noise
from geocgan.errors import GridError, InputError, OutputExistsError
from geocgan.files import atomic_path
from geocgan.io.images import choose_variable
from geocgan.models import GANModel
from geocgan.simulate import require_command

PALETTE = [  # RGB of facies codes 0, 1, 2... (colour table of facies GeoTIFFs)
    (230, 216, 173),
    (31, 119, 180),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
FACIES_NODATA = 255


@dataclass
class Raster:
    """A raster as read: raw ``values`` ``(C, H, W)`` (float64), ``valid`` ``(H, W)`` (no band
    is nodata or NaN), ``transform``, ``crs`` (None when the file has none), ``nodata`` and the
    stored ``dtype``."""

    values: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS | None
    nodata: float | None
    dtype: str
    path: str = ""

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape[1:])


def read_raster(path: str | Path, variable: str | None = None) -> Raster:
    """Read a GeoTIFF, Zarr store (``.zarr``) or NetCDF (``.nc``) raster.

    A Zarr/NetCDF variable is ``(y, x)`` or ``(band, y, x)``; its CRS and transform are read
    through rioxarray. Raises ``InputError`` for a missing or unreadable file.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input raster {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".zarr", ".nc"):
        return _read_xarray(path, variable)
    try:
        with rasterio.open(path) as src:
            values = src.read()  # (C, H, W) stored dtype
            valid = (src.read_masks() > 0).all(0)  # (H, W)
            out = Raster(
                values.astype(np.float64),
                valid,
                src.transform,
                src.crs,
                src.nodata,
                str(src.dtypes[0]),
                str(path),
            )
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{path} cannot be read as a raster ({err}); give a GeoTIFF") from None
    out.valid &= np.isfinite(out.values).all(0)
    return out


def _read_xarray(path: Path, variable: str | None) -> Raster:
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray as xr

    if path.suffix.lower() == ".zarr":
        ds = xr.open_zarr(path, consolidated=None, decode_coords="all")
    else:
        ds = xr.open_dataset(path, decode_coords="all")
    name = choose_variable(ds, path, variable)
    da = ds[name]
    if da.ndim not in (2, 3):
        raise InputError(f"{path}:{name} must be (y, x) or (band, y, x), got dims {da.dims}")
    values = np.asarray(da.values, np.float64)
    values = values[None] if values.ndim == 2 else values  # (C, H, W)
    nodata = da.rio.encoded_nodata if da.rio.encoded_nodata is not None else da.rio.nodata
    valid = np.isfinite(values).all(0)
    if nodata is not None and np.isfinite(nodata):
        valid &= (values != nodata).all(0)
    dtype = str(da.encoding.get("dtype", da.dtype))
    return Raster(values, valid, da.rio.transform(), da.rio.crs, nodata, dtype, str(path))


# -- tiling -------------------------------------------------------------------------------


def tile_starts(size: int, tile: int, step: int) -> list[int]:
    """Starts of tiles of ``tile`` px every ``step`` px covering ``size`` px, the last one
    flush with the end."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return [*starts, size - tile]


def ramp(tile: int, overlap: int, first: bool, last: bool) -> np.ndarray:
    """Blending weights of a tile along one axis ``(tile,)``.

    On a side shared with a neighbour tile the weight is 0 for the first quarter of the
    overlap (the pixels that see the tile's cut-off edge most), rises linearly to 1 over
    the next half, and is 1 beyond; on a side at the raster's edge (``first``/``last``) it is
    1 throughout. Where two tiles overlap, one of their weights is always > 0.
    """
    d = np.arange(tile) + 0.5  # distance to the tile's first edge
    w = np.ones(tile)
    if overlap > 0:
        rise = lambda dist: np.clip((dist - overlap / 4) / (overlap / 2), 0, 1)  # noqa: E731
        if not first:
            w = np.minimum(w, rise(d))
        if not last:
            w = np.minimum(w, rise(tile - d))
    return w


def _window(part: torch.Tensor, grid: tuple[int, int], r0: int, c0: int, th: int, tw: int):
    """The window of a spatial latent part ``(B, C, h, w)`` on a ``grid``-sized input that
    falls under the tile ``[r0, r0 + th) x [c0, c0 + tw)``."""
    if part.ndim < 4:
        return part
    fy, fx = grid[0] // part.shape[-2], grid[1] // part.shape[-1]
    return part[..., r0 // fy : (r0 + th) // fy, c0 // fx : (c0 + tw) // fx]


def translate_array(
    model: GANModel,
    raster: Raster,
    indices,
    *,
    seed: int = 0,
    tile: int | None = 512,
    overlap: int | None = None,
    batch_size: int = 4,
    progress: bool = False,
):
    """Yield ``(indices, outputs)``: decoded outputs ``(b, H', W')`` (or ``(b, C, H', W')``
    for a multi-band output) with ``H' = scale · H``, NaN where the input is nodata.

    Parameters
    ----------
    tile : int or None
        Tile side in input pixels (rounded up to the model's grid multiple); None or a side
        the raster fits in: one pass.
    overlap : int, optional
        Overlap of neighbouring tiles (default a quarter of the tile), rounded up to the
        model's grid multiple.
    """
    if tile is not None and tile < 1:
        raise GridError(f"tile {tile}: give a positive side in pixels, or None for one pass")
    spec_in, spec_out = model.input_spec, model.spec
    dev = model.device
    h, w = raster.shape
    image = torch.as_tensor(raster.values, dtype=torch.float32)  # (C, H, W)
    valid = torch.as_tensor(raster.valid)
    fill = spec_in.codes[0] if spec_in.kind == "categorical" else spec_in.center
    fill = torch.as_tensor(fill, dtype=torch.float32)
    fill = fill[:, None, None] if fill.ndim else fill
    image = torch.where(valid, image, fill)
    enc = spec_in.encode(
        image[None] if spec_in.bands > 1 else image[:1], check=True
    )  # (1, Cs, H, W)
    m = model.multiple
    up = lambda v: -(-v // m) * m  # noqa: E731
    hp, wp = up(h), up(w)
    t = None if tile is None or up(tile) >= max(hp, wp) else up(tile)
    enc = torch.nn.functional.pad(enc, (0, wp - w, 0, hp - h), mode="replicate").to(dev)
    parts = model.latent(hp, wp)
    s = model.scale
    if t is None:
        tiles = [(0, 0, hp, wp)]
        weights = {(0, 0): 1.0}
    else:
        ov = up(t // 4 if overlap is None else overlap)
        if ov >= t:
            raise InputError(f"overlap {ov} must be smaller than the tile {t}")
        th, tw = min(t, hp), min(t, wp)  # a side shorter than the tile: one tile across it
        rows, cols = tile_starts(hp, th, t - ov), tile_starts(wp, tw, t - ov)
        tiles = [(r, c, th, tw) for r in rows for c in cols]

        def axis(starts, k, side):
            w1 = ramp(s * side, s * ov, k == starts[0], k == starts[-1])
            return torch.as_tensor(w1, dtype=torch.float32, device=dev)

        weights = {
            (r, c): axis(rows, r, th)[:, None] * axis(cols, c, tw)[None, :] for r, c, _, _ in tiles
        }
    indices = np.asarray(list(indices), np.int64)
    bar = tqdm(
        total=len(indices) * len(tiles),
        desc="translate",
        unit="tile",
        disable=not progress,
        file=sys.stderr,
    )
    mask_out = ~np.repeat(np.repeat(raster.valid, s, 0), s, 1)  # (sH, sW)
    was = model.training
    model.eval()
    try:
        for start in range(0, len(indices), batch_size):
            idx = indices[start : start + batch_size]
            b = len(idx)
            z = noise.draw(parts, seed, idx, device=dev)
            acc = None
            with torch.inference_mode():
                for r, c, th, tw in tiles:
                    cond = enc[..., r : r + th, c : c + tw].expand(b, -1, -1, -1)
                    zt = [_window(p, (hp, wp), r, c, th, tw) for p in z]
                    out = model.generate(zt, cond)  # (b, K, s th, s tw)
                    if acc is None:
                        acc = torch.zeros((b, out.shape[1], s * hp, s * wp), device=dev)
                        norm = torch.zeros((s * hp, s * wp), device=dev)
                    wt = weights[r, c]  # (s th, s tw), or 1
                    acc[..., s * r : s * (r + th), s * c : s * (c + tw)] += out * wt
                    norm[s * r : s * (r + th), s * c : s * (c + tw)] += wt
                    bar.update(b)
                fields = spec_out.decode(acc / norm)[..., : s * h, : s * w].cpu().numpy()
            fields = fields.astype(np.float32)
            fields[..., mask_out] = np.nan
            yield idx, fields
    finally:
        model.train(was)
        bar.close()


# -- the command's library part -----------------------------------------------------------


def check_input(model: GANModel, raster: Raster, doc: dict) -> None:
    """Refuse a raster the model cannot translate, saying why and what to do."""
    spec = model.input_spec
    bands = raster.values.shape[0]
    want = 1 if spec.kind == "categorical" else spec.bands
    where = raster.path or "the input"
    if bands != want:
        raise InputError(
            f"{where} has {bands} band(s); the model was trained on {want}-band inputs "
            f"({spec.kind}): give a raster with {want} band(s)"
        )
    trained = doc.get("input_dtype")
    if trained and trained != raster.dtype:
        gdal_type = {"uint8": "Byte"}.get(trained, trained.capitalize())  # GDAL's -ot names
        raise InputError(
            f"{where} holds {raster.dtype} values; the model was trained on {trained} rasters, "
            f"whose values it normalises as such: convert the input to {trained} (e.g. "
            f"`gdal_translate -ot {gdal_type} ...`) or train on {raster.dtype} data"
        )
    if not raster.valid.any():
        raise InputError(f"every pixel of {where} is nodata: there is nothing to translate")
    if spec.kind == "categorical":
        vals = np.unique(raster.values[0][raster.valid])
        unknown = sorted(set(vals.tolist()) - set(spec.codes))
        if unknown:
            raise InputError(
                f"{where} holds facies codes {unknown[:10]} the model does not know (it knows "
                f"{spec.codes}); recode the input or use a model trained on these codes"
            )


def prepare(model: GANModel, direction: str | None) -> GANModel:
    """The model as ``translate`` runs it: refused if it is not a translation model; a
    CycleGAN turned to ``direction`` (default AtoB)."""
    require_command(model, "translate")
    if hasattr(model, "oriented"):
        return model.oriented(direction or "AtoB")
    if direction is not None:
        raise InputError(
            f"--direction is for CycleGAN models; a {model.name!r} model translates one way only"
        )
    return model


def output_grid(model: GANModel, raster: Raster) -> tuple[int, int, Affine]:
    s = model.scale
    h, w = raster.shape
    return s * h, s * w, raster.transform @ Affine.scale(1 / s)


def write_geotiff(
    path: Path, model: GANModel, raster: Raster, fields: np.ndarray, *, tags: dict
) -> Path:
    """One realization ``(H', W')`` or ``(C, H', W')`` as a GeoTIFF (atomic): facies as
    uint8 codes with a colour table (nodata 255); values as float32 with the nodata value of
    a continuous input, NaN when it had none, float32 cannot hold it, a valid output pixel
    takes it, or the input is facies codes (whose nodata, e.g. 0 or 255, is no output value)."""
    bands = fields[None] if fields.ndim == 2 else fields
    h, w, transform = output_grid(model, raster)
    facies = model.spec.kind == "categorical"
    if facies:
        if max(model.spec.codes) >= FACIES_NODATA or min(model.spec.codes) < 0:
            raise InputError(f"facies codes {model.spec.codes} do not fit uint8 codes 0..254")
        nodata = FACIES_NODATA
        data = np.where(np.isnan(bands), nodata, bands).astype(np.uint8)
    else:
        nodata = raster.nodata
        if (
            nodata is None
            or model.input_spec.kind == "categorical"
            or float(np.float32(nodata)) != nodata
            or np.any(bands == nodata)
        ):
            nodata = float("nan")
        data = np.where(np.isnan(bands), nodata, bands).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "height": h,
        "width": w,
        "count": len(data),
        "dtype": data.dtype.name,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    if raster.crs is not None:
        profile["crs"] = raster.crs
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**{k: str(v) for k, v in tags.items()})
        if facies:
            dst.write_colormap(1, {c: (*PALETTE[c % len(PALETTE)], 255) for c in model.spec.codes})
    return path


def translate(
    model: GANModel,
    input_path: str | Path,
    out: str | Path,
    *,
    doc: dict | None = None,
    n: int = 1,
    seed: int = 0,
    direction: str | None = None,
    variable: str | None = None,
    tile: int | None = 512,
    overlap: int | None = None,
    batch_size: int = 4,
    zarr_format: int = 2,
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """Translate ``input_path`` into ``out``: a GeoTIFF for one realization, an ensemble
    store (``.zarr``) for ``n`` > 1. Returns a summary.

    Everything is checked before anything is written; an existing ``out`` is refused without
    ``overwrite`` (an unfinished store of the same command is resumed).
    """
    model = prepare(model, direction)
    doc = doc or {}
    out = Path(out)
    raster = read_raster(input_path, variable)
    check_input(model, raster, doc)
    if raster.crs is None:
        warnings.warn(
            f"{input_path} has no CRS: the output is written without one (assign one with "
            f"`gdal_edit.py -a_srs EPSG:XXXX {input_path}`)",
            stacklevel=2,
        )
    multi_band = model.spec.channels > 1 and model.spec.kind == "continuous"
    store = n > 1
    if store and out.suffix.lower() != ".zarr":
        raise InputError(f"-n {n} writes an ensemble store: give --out ending in .zarr, not {out}")
    if not store and out.suffix.lower() not in (".tif", ".tiff"):
        raise InputError(
            f"one realization is written as a GeoTIFF: give --out ending in .tif, not {out}"
        )
    if store and (multi_band or raster.crs is None):
        raise InputError(
            "an ensemble store holds one-band realizations on a grid with a CRS: "
            + ("this model makes several bands" if multi_band else f"{input_path} has no CRS")
            + "; translate one realization at a time to GeoTIFF (-n 1, --seed)"
        )
    if not out.parent.is_dir():
        raise InputError(f"output directory {out.parent} does not exist; create it first")
    attrs = {
        "model": model.name,
        "seed": seed,
        "input": str(input_path),
        "direction": getattr(model, "direction", ""),
        "tile": tile or 0,
    }
    kw = {"seed": seed, "tile": tile, "overlap": overlap, "progress": progress}
    if store:
        return _translate_store(
            model, raster, out, n, attrs, zarr_format, overwrite, batch_size=batch_size, **kw
        )
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass --overwrite to replace it")
    ((_, fields),) = list(translate_array(model, raster, [0], batch_size=1, **kw))
    write_geotiff(out, model, raster, fields[0], tags=attrs)
    return {"out": str(out), "n": 1, "shape": list(fields.shape[-2:]), **attrs}


def _translate_store(model, raster, out, n, attrs, zarr_format, overwrite, **kw) -> dict:
    """``n`` realizations into an ensemble store (resuming an unfinished one)."""
    from geocgan.io.ensemble import EnsembleStore
    from geocgan.io.grid import Grid

    h, w, transform = output_grid(model, raster)
    grid = Grid(h, w, transform, raster.crs)
    facies = model.spec.kind == "categorical"
    store = EnsembleStore.open_or_create(
        out,
        grid,
        n,
        name="facies" if facies else "value",
        attrs=attrs,
        codes=model.spec.codes if facies else None,
        zarr_format=zarr_format,
        overwrite=overwrite,
    )
    todo = store.missing()
    for idx, fields in translate_array(model, raster, todo, **kw):
        for i, f in zip(idx, fields, strict=True):
            store.write(int(i), f[None])
    store.finalize()
    return {"out": str(out), "n": n, "shape": [h, w], "resumed": n - len(todo), **attrs}
