"""JSON that every reader accepts: plain types, ``null`` for NaN/inf (never ``NaN``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def to_json(value):
    """Plain Python types for ``json.dumps(allow_nan=False)``: arrays to lists, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray | list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def dumps(value, **kwargs) -> str:
    """``json.dumps`` of :func:`to_json` ``(value)``, refusing NaN."""
    return json.dumps(to_json(value), allow_nan=False, **kwargs)
