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
