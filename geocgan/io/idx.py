"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``00 00 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 dimension sizes, then the array data in big-endian C order.
Files may be gzip-compressed; compression is detected from the gzip magic bytes
(``1f 8b``), not from the file name.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from geocgan.errors import InputError

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """Return the content of ``path``, decompressed if it is gzipped.

    Parameters
    ----------
    path : str or Path
        A plain or gzip-compressed file.

    Returns
    -------
    bytes
        The (decompressed) content.

    Raises
    ------
    InputError
        If the file does not exist or is a corrupt/truncated gzip stream.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path.") from None
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip data ({exc}); download or copy the file again."
        ) from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into a numpy array.

    Parameters
    ----------
    path : str or Path
        IDX file, e.g. ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    np.ndarray
        Array of the file's shape, in native byte order (uint8 for MNIST images
        and labels), writable.

    Raises
    ------
    InputError
        Wrong magic number, unknown type code, or a file shorter or longer than its
        header says (the message gives the expected and found sizes).
    """
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4:
        raise InputError(
            f"{path}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number."
        )
    if data[:2] != b"\x00\x00":
        raise InputError(
            f"{path}: not an IDX file: magic number starts with {data[:2].hex()}, expected 0000."
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise InputError(f"{path}: unknown IDX type code 0x{code:02X}; valid codes: {valid}.")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise InputError(
            f"{path}: truncated IDX header: expected {header_size} bytes for {ndim} "
            f"dimensions, found {len(data)}."
        )
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise InputError(
            f"{path}: IDX file {what}: header says shape {shape} of {dtype.newbyteorder('=')} "
            f"so expected {expected} bytes (decompressed), found {len(data)}; "
            "download or copy the file again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native order, writable copy


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file, gzipped if ``path`` ends with ``.gz``.

    Parameters
    ----------
    path : str or Path
        Output file.
    array : np.ndarray
        Array of dtype uint8, int8, int16, int32, float32 or float64, 1 to 255
        dimensions, each smaller than 2**32.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        If the dtype or shape cannot be stored in IDX.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        valid = ", ".join(str(d) for d in _CODES)
        raise InputError(f"{path}: IDX cannot store dtype {array.dtype}; use one of {valid}.")
    if not 1 <= array.ndim <= 255 or any(s >= 2**32 for s in array.shape):
        raise InputError(
            f"{path}: IDX cannot store shape {array.shape}; need 1-255 dimensions < 2**32."
        )
    header = bytes([0, 0, _CODES[native], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path
