"""Which torch device a ``--device`` string means, with a clear error for one that is not here."""

from __future__ import annotations

import re

import torch

from geocgan.errors import InputError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for ``device``: ``auto`` (CUDA when present, else CPU), ``cpu``,
    ``cuda`` or ``cuda:N``.

    Parameters
    ----------
    device : str
        The user's choice, e.g. from ``--device``.

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        An unknown device string (e.g. ``tpu``), or CUDA asked for where there is none, or
        a CUDA index past the GPUs present; the message lists what is valid here.
    """
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m is None:
        raise InputError(f"unknown device {device!r}; use one of {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise InputError(
            f"device {device!r} asked for, but CUDA is not available here; use --device cpu or auto"
        )
    n = torch.cuda.device_count()
    if m.group(1) is not None and int(m.group(1)) >= n:
        raise InputError(
            f"device {device!r} asked for, but this machine has {n} GPU(s) "
            f"(cuda:0 to cuda:{n - 1}); use one of those, cuda or auto"
        )
    return torch.device(name)
