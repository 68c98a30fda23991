"""Channelized facies training images: sinuous channels crossing the grid, optional levees.

Each channel is a band of constant width around a sinuous centerline ``v = c + f(u)`` in a
frame rotated by ``orientation`` (``u`` along, ``v`` across the channels). ``f`` is a sum of
random-phase sinusoids: a dominant meander of wavelength ``wavelength`` and amplitude
``sinuosity * wavelength``, plus a weaker drift of twice the wavelength and a weak harmonic of
half the wavelength, which make meanders irregular; each channel jitters wavelengths by +-15%
and amplitudes by +-30%. Every channel spans the whole grid along ``u``, so channels connect
end to end like the Strebelle (2002) training image.

Channels of the nominal width are added until they cover at least ``proportion`` of the grid,
then the banks of all channels move in (or, without the last channel, out) by the same distance,
whichever move is smaller, so the channels cover exactly ``proportion``: all channels keep one
common width close to ``width``. With ``n_facies=3``, a levee rim of constant thickness borders
every channel, its thickness chosen so the levee proportion is a third of the channel
proportion (less if there is not enough floodplain left).

Codes: 0 = floodplain (background), 1 = channel, 2 = levee. Coordinates: ``x`` = column, ``y`` =
up the rows (north-up raster), angles in degrees counter-clockwise from ``x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geocgan.errors import InputError
from geocgan.fields.gaussian import (
    _check_finite,
    _check_n,
    _check_positive,
    _check_seed,
    _check_shape,
    _is_int,
    _is_number,
    realization_rngs,
)

FLOODPLAIN, CHANNEL, LEVEE = 0, 1, 2
# (wavelength factor, amplitude factor) of the centerline sinusoids, dominant meander first
_HARMONICS = ((1.0, 1.0), (2.0, 0.3), (0.5, 0.1))
_JITTER_WAVELENGTH = (0.85, 1.15)  # uniform multiplicative jitter per channel and harmonic
_JITTER_AMPLITUDE = (0.7, 1.3)
_WAVELENGTH_PER_WIDTH = 12.0  # default wavelength = 12 widths, capped at the grid length
_LOOKUP_STEP = 0.1  # pixels: centerline tabulated along u at this step
_FOOT_STEPS = 3  # Gauss-Newton steps towards each pixel's nearest centerline point
_LEVEE_RATIO = 1.0 / 3.0  # levee proportion / channel proportion
_MAX_CHANNELS = 10_000
# distances are computed out to reach = this many widths + 4 px from each centerline (farther
# pixels keep +inf): ample for the final bank shift (< 1 width) and the levee rims
_REACH_WIDTHS = 2.0


def channel_field(
    shape: tuple[int, int],
    *,
    n_facies: int = 2,
    proportion: float = 0.28,
    width: float = 6.0,
    orientation: float = 0.0,
    sinuosity: float = 0.3,
    wavelength: float | None = None,
    seed: int = 0,
    n: int | None = None,
) -> np.ndarray:
    """Channelized facies image(s) on an ``(H, W)`` pixel grid.

    Parameters
    ----------
    shape : (int, int)
        Grid size ``(H, W)`` in pixels (rows, columns).
    n_facies : {2, 3}, default 2
        2: floodplain (0) and channel (1); 3: also levee (2) bordering the channels.
    proportion : float, default 0.28
        Channel proportion, in (0, 1); met to the pixel (to one row of pixels when straight
        channels run along a grid axis, as their distances then tie).
    width : float, default 6.0
        Nominal channel width, pixels (> 0), across the centerline; the common width of all
        channels differs from it by the adjustment that meets ``proportion`` exactly.
    orientation : float, default 0.0
        Mean channel direction, degrees counter-clockwise from ``x`` (columns, north-up).
    sinuosity : float, default 0.3
        Meander amplitude / wavelength (>= 0); 0 gives straight channels.
    wavelength : float or None, default None
        Meander wavelength, pixels (> 0); None uses ``12 * width`` capped at the grid length
        along ``orientation``.
    seed : int, default 0
        Non-negative seed; realization ``k`` uses ``SeedSequence([seed, k])``.
    n : int or None, default None
        Number of realizations; None gives a single ``(H, W)`` image.

    Returns
    -------
    numpy.ndarray of uint8
        Facies codes, ``(H, W)`` if ``n`` is None, else ``(n, H, W)``.

    Raises
    ------
    InputError
        An out-of-range parameter, or a proportion that channels cannot reach.
    """
    height, width_px = _check_shape("channel_field", shape)
    if not (_is_int(n_facies) and n_facies in (2, 3)):
        raise InputError(
            f"channel_field: n_facies must be 2 (floodplain, channel) or 3 (floodplain, channel, "
            f"levee), got {n_facies!r}."
        )
    _check_plan("channel_field", "grid", proportion, width, orientation, sinuosity, wavelength)
    count = _check_n("channel_field", n)
    _check_seed("channel_field", seed)

    geometry = _Geometry.build(height, width_px, orientation, width)
    if wavelength is None:
        wavelength = min(_WAVELENGTH_PER_WIDTH * width, geometry.length)

    out = np.empty((count, height * width_px), dtype=np.uint8)  # (n, H*W) in raster order
    for k, rng in enumerate(realization_rngs(seed, count)):
        edge = _place_channels(rng, geometry, proportion, width, sinuosity * wavelength, wavelength)
        facies = np.where(edge <= 0, CHANNEL, FLOODPLAIN).astype(np.uint8)  # (P,) sorted by v
        if n_facies == 3:
            facies[_levee(edge)] = LEVEE
        out[k, geometry.order] = facies
    out = out.reshape(count, height, width_px)  # (n, H, W)
    return out[0] if n is None else out


def _check_plan(
    func: str,
    extent: str,
    proportion: object,
    width: object,
    orientation: object,
    sinuosity: object,
    wavelength: object,
) -> None:
    """Check the plan-view channel parameters shared by the 2D and 3D generators."""
    if not (_is_number(proportion) and 0.0 < proportion < 1.0):
        raise InputError(
            f"{func}: proportion must be in (0, 1) (channel fraction of the {extent}), got "
            f"{proportion!r}. Pass e.g. proportion=0.28."
        )
    _check_positive(func, "width", width, "the channel width in pixels, e.g. 6.0")
    _check_finite(func, "orientation", orientation)
    if not (_is_number(sinuosity) and math.isfinite(sinuosity) and sinuosity >= 0):
        raise InputError(
            f"{func}: sinuosity must be a finite number >= 0 (amplitude / wavelength), "
            f"got {sinuosity!r}. Pass e.g. sinuosity=0.3, or 0 for straight channels."
        )
    if wavelength is not None:
        _check_positive(func, "wavelength", wavelength, "the meander wavelength in pixels, or None")


@dataclass(frozen=True)
class _Geometry:
    """Pixel centres in the channel frame, sorted by ``v`` so each channel's band is a slice.

    Arrays are flat, ``P = H * W`` long, in order of increasing ``v``.
    """

    order: np.ndarray  # (P,) int: raster index of each sorted pixel
    u: np.ndarray  # (P,) float32: along-channel coordinate, pixels
    v: np.ndarray  # (P,) float32: across-channel coordinate, pixels, ascending
    u_table: np.ndarray  # (L,) float32: u where centerlines are tabulated, _LOOKUP_STEP apart
    length: float  # pixels: grid extent along u
    reach: float  # pixels: distance from a centerline out to which distances are computed

    @classmethod
    def build(cls, height: int, width: int, orientation: float, channel_width: float):
        """Rotate the pixel centres (origin at the grid centre, north-up) and sort them by v."""
        theta = math.radians(orientation)
        x = np.arange(width, dtype=np.float64)[None, :] - (width - 1) / 2.0  # (1, W)
        y = (height - 1) / 2.0 - np.arange(height, dtype=np.float64)[:, None]  # (H, 1)
        u = (x * math.cos(theta) + y * math.sin(theta)).ravel()  # (P,)
        v = (-x * math.sin(theta) + y * math.cos(theta)).ravel()  # (P,)
        order = np.argsort(v, kind="stable")  # (P,)
        reach = _REACH_WIDTHS * channel_width + 4.0
        margin = reach + channel_width  # centerlines run on past the grid ends
        n_table = math.ceil((np.ptp(u) + 2.0 * margin) / _LOOKUP_STEP) + 1
        u_table = u.min() - margin + _LOOKUP_STEP * np.arange(n_table)  # (L,)
        return cls(
            order=order,
            u=u[order].astype(np.float32),
            v=v[order].astype(np.float32),
            u_table=u_table.astype(np.float32),
            length=float(np.ptp(u)) + 1.0,
            reach=reach,
        )

    def table_index(self, u: np.ndarray) -> np.ndarray:
        """Index of the nearest tabulated u, clipped to the table (same shape as ``u``)."""
        i = np.rint((u - self.u_table[0]) * (1.0 / _LOOKUP_STEP))
        return np.clip(i, 0, self.u_table.size - 1).astype(np.intp)


def _centerline_distance(
    rng: np.random.Generator, geo: _Geometry, amplitude: float, wavelength: float
) -> tuple[slice, np.ndarray]:
    """Distance of pixels to a new random channel centerline ``v = f(u)``.

    The foot of the perpendicular from each pixel onto the centerline is found by Gauss-Newton
    steps from the point straight across (``u`` unchanged); the distance is the smallest
    pixel-to-centerline distance met on the way, so it is never underestimated, and channels
    keep their width through tight bends.

    Returns
    -------
    band : slice
        Sorted pixels within ``reach`` of the centerline's band of ``v`` (all others are farther).
    dist : numpy.ndarray of float32, (len(band),)
        Their distance to the centerline, pixels.
    """
    centre = rng.uniform(geo.v[0], geo.v[-1])
    offset = np.full_like(geo.u_table, centre)  # (L,) f(u)
    slope = np.zeros_like(geo.u_table)  # (L,) f'(u)
    swing = 0.0  # max |f(u) - centre|
    for wavelength_factor, amplitude_factor in _HARMONICS:
        k = 2.0 * math.pi / (wavelength * wavelength_factor * rng.uniform(*_JITTER_WAVELENGTH))
        a = amplitude * amplitude_factor * rng.uniform(*_JITTER_AMPLITUDE)
        phase = k * geo.u_table + rng.uniform(0.0, 2.0 * math.pi)  # (L,)
        offset += a * np.sin(phase)
        slope += a * k * np.cos(phase)
        swing += a

    lo, hi = np.searchsorted(geo.v, [centre - swing - geo.reach, centre + swing + geo.reach])
    band = slice(int(lo), int(hi))
    u, v = geo.u[band], geo.v[band]  # (B,) pixels that can lie within reach
    foot = u.copy()  # (B,) u of the current point on the centerline
    dist2 = np.full(u.shape, np.inf, dtype=np.float32)  # (B,) squared distance
    for step in range(_FOOT_STEPS + 1):
        i = geo.table_index(foot)  # (B,)
        du, dv = u - foot, v - offset[i]  # (B,) pixel minus centerline point
        np.minimum(dist2, du * du + dv * dv, out=dist2)
        if step < _FOOT_STEPS:
            s = slope[i]  # (B,)
            foot += (du + dv * s) / (1.0 + s * s)  # Gauss-Newton step along the centerline
    return band, np.sqrt(dist2)


def _place_channels(
    rng: np.random.Generator,
    geo: _Geometry,
    proportion: float,
    width: float,
    amplitude: float,
    wavelength: float,
) -> np.ndarray:
    """Add channels until the proportion is reached; return the signed distance to the banks.

    Channels of nominal width are added until they cover at least ``proportion``; then all
    channels are thinned (or, without the last one, widened) by the same amount so they cover
    exactly ``proportion``, whichever of the two changes the width least.

    Returns
    -------
    numpy.ndarray of float32, (P,)
        Distance outside the nearest channel bank, pixels, ``<= 0`` inside a channel, ``+inf``
        beyond ``reach`` of every centerline; sorted like ``geo.v``.
    """
    size = geo.v.size
    target = max(round(proportion * size), 1)  # channel pixels wanted
    before = np.full(size, np.inf, dtype=np.float32)  # (P,) without the last channel
    for _ in range(_MAX_CHANNELS):
        band, dist = _centerline_distance(rng, geo, amplitude, wavelength)  # (B,)
        after = before.copy()  # (P,)
        np.minimum(after[band], dist - width / 2.0, out=after[band])
        if np.count_nonzero(after <= 0) >= target:
            shift_before, shift_after = _kth_smallest(before, target), _kth_smallest(after, target)
            if abs(shift_before) < abs(shift_after):
                return before - shift_before  # banks moved out by shift_before px
            return after - shift_after  # banks moved in by -shift_after px
        before = after
    raise InputError(
        f"channel_field: {_MAX_CHANNELS} channels of width {width} px cover only "
        f"{np.count_nonzero(before <= 0) / size:.3f} of the grid, short of "
        f"proportion={proportion}. Lower the proportion or widen the channels."
    )


def channel_field_3d(
    shape: tuple[int, int, int],
    *,
    proportion: float = 0.2,
    width: float = 8.0,
    thickness: float = 4.0,
    orientation: float = 0.0,
    sinuosity: float = 0.3,
    wavelength: float | None = None,
    seed: int = 0,
    n: int | None = None,
) -> np.ndarray:
    """Channel bodies in a ``(D, H, W)`` voxel volume: sinuous belts with a lens-shaped base.

    In plan view each channel follows a sinuous centerline as in :func:`channel_field`; in
    section it has a flat top at a random layer and a parabolic base: at horizontal distance
    ``d`` from the centerline it is ``thickness * (1 - (2 d / width)**2)`` voxels deep. Channels
    are added until they fill at least ``proportion`` of the volume, then every body thins by
    the same depth so they fill ``proportion`` (to the voxel, up to ties of straight
    channels along a grid axis). Layer 0 is the top.

    Parameters
    ----------
    shape : (int, int, int)
        Volume size ``(D, H, W)`` in voxels (layers top down, rows, columns).
    proportion : float, default 0.2
        Channel fraction of the volume, in (0, 1).
    width : float, default 8.0
        Channel width at the top, in horizontal voxels (> 0).
    thickness : float, default 4.0
        Channel depth at the centerline, in layers (> 0).
    orientation : float, default 0.0
        Mean channel direction in plan, degrees counter-clockwise from ``x`` (north-up).
    sinuosity : float, default 0.3
        Meander amplitude / wavelength (>= 0); 0 gives straight channels.
    wavelength : float or None, default None
        Meander wavelength in horizontal voxels (> 0); None uses ``12 * width`` capped at the
        grid length along ``orientation``.
    seed : int, default 0
        Non-negative seed; realization ``k`` uses ``SeedSequence([seed, k])``.
    n : int or None, default None
        Number of realizations; None gives a single ``(D, H, W)`` volume.

    Returns
    -------
    numpy.ndarray of uint8
        Codes 0 = floodplain, 1 = channel; ``(D, H, W)``, or ``(n, D, H, W)``.

    Raises
    ------
    InputError
        An out-of-range parameter, or a proportion that channels cannot reach.
    """
    func = "channel_field_3d"
    depth, height, width_px = _check_shape(func, shape, ndim=3)
    _check_plan(func, "volume", proportion, width, orientation, sinuosity, wavelength)
    _check_positive(func, "thickness", thickness, "the channel depth in layers, e.g. 4.0")
    count = _check_n(func, n)
    _check_seed(func, seed)

    geometry = _Geometry.build(height, width_px, orientation, width)
    if wavelength is None:
        wavelength = min(_WAVELENGTH_PER_WIDTH * width, geometry.length)
    layers = np.arange(depth, dtype=np.float32)[:, None]  # (D, 1) layer index, down
    target = max(round(proportion * depth * height * width_px), 1)  # channel voxels wanted
    out = np.empty((count, depth, height * width_px), dtype=np.uint8)  # (n, D, H*W)
    for k, rng in enumerate(realization_rngs(seed, count)):
        # fill: how far inside the nearest body each voxel is, layers; >= 0 inside
        fill = np.full((depth, geometry.v.size), -np.inf, dtype=np.float32)  # (D, P) by v
        for _ in range(_MAX_CHANNELS):
            band, dist = _centerline_distance(rng, geometry, sinuosity * wavelength, wavelength)
            top = rng.uniform(-0.5, depth - 0.5)  # layer index of the flat top
            base = thickness * (1.0 - (2.0 * dist / width) ** 2)  # (B,) body depth, layers
            inside = np.where(layers >= top, base[None, :] - (layers - top), -np.inf)  # (D, B)
            np.maximum(fill[:, band], inside, out=fill[:, band])
            if np.count_nonzero(fill >= 0) >= target:
                break
        else:
            raise InputError(
                f"{func}: {_MAX_CHANNELS} channels of width {width} and thickness {thickness} "
                f"fill only {np.count_nonzero(fill >= 0) / fill.size:.3f} of the volume, short "
                f"of proportion={proportion}. Lower the proportion or enlarge the channels."
            )
        threshold = -_kth_smallest(-fill.ravel(), target)  # the target-th largest fill
        out[k][:, geometry.order] = (fill >= threshold).astype(np.uint8)
    out = out.reshape(count, depth, height, width_px)  # (n, D, H, W)
    return out[0] if n is None else out


def _kth_smallest(values: np.ndarray, k: int) -> float:
    """The k-th smallest (1-based) of ``values``."""
    return float(np.partition(values, k - 1)[k - 1])


def _levee(edge: np.ndarray) -> np.ndarray:
    """Levee mask: the floodplain rim nearest the channels, 1/3 of their area (same shape)."""
    floodplain = edge > 0
    n_floodplain = int(np.count_nonzero(floodplain))
    n_levee = min(round(_LEVEE_RATIO * (edge.size - n_floodplain)), n_floodplain)
    if n_levee == 0:
        return np.zeros(edge.shape, dtype=bool)
    thickness = _kth_smallest(edge[floodplain], n_levee)
    return floodplain & (edge <= thickness)
