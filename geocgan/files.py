"""Writing files so that a kill at any moment leaves either the old file or the new one.

Every output geocgan writes in one go (GeoTIFFs, PNGs, JSON reports, checkpoints) goes
through :func:`atomic_path`: the writer fills a hidden temporary beside the target, named
``.<name>.<random>.partial``, which replaces the target only once it is complete. A kill
leaves at most such a temporary; :func:`is_partial` recognises it (and those of earlier
geocgan versions) and :func:`remove_partials` clears them before a rerun.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"

# Temporaries geocgan leaves after a kill: this module's ``.<name>.<hex>.partial``, and
# earlier versions' ``<name>.partial``, ``<stem>.partial.png`` and ``.<name>.<8 chars>.part``.
_PARTIAL = re.compile(r"^(.+\.partial|.+\.partial\.png|\..+\.[A-Za-z0-9_]{8}\.part)$")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write ``path`` through; it becomes ``path`` on success.

    The temporary lies in the same directory (so :func:`os.replace` is atomic) and is
    created empty with the user's umask, so the final file has the permissions any other
    new file would (not the 0600 of :func:`tempfile.mkstemp`). On any exception, or a
    signal that unwinds the stack, it is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or Path
        The file to write. Its directory must exist.

    Yields
    ------
    Path
        Where to write. Writers that infer a format from the file extension must be told
        the format: the temporary ends in ``.partial``.

    Examples
    --------
    >>> with atomic_path(out / "report.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text(text)
    """
    path = Path(path)
    tmp = _partial_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    os.close(fd)
    mode = os.stat(tmp).st_mode & 0o777
    try:
        yield tmp
        os.chmod(tmp, mode)  # a writer that recreated the file may have used 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A temporary directory path to build ``path`` in; it becomes ``path`` on success.

    Like :func:`atomic_path` for a directory (e.g. a Zarr store's skeleton): the yielded
    path does not exist yet; the writer creates it. ``path`` itself must not exist.
    """
    path = Path(path)
    tmp = _partial_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _partial_name(path: Path) -> Path:
    """``.<name>.<8 hex>.partial`` beside ``path``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def is_partial(name: str | Path) -> bool:
    """Whether a file name is a temporary that an interrupted geocgan write left behind."""
    return bool(_PARTIAL.match(Path(name).name))


def remove_partials(directory: str | Path) -> list[str]:
    """Delete the temporaries of interrupted writes in ``directory``; their names, sorted.

    Only files and directories whose names :func:`is_partial` recognises are touched.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = sorted(p.name for p in directory.iterdir() if is_partial(p.name))
    for name in removed:
        p = directory / name
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
    return removed
