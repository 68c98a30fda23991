"""Seeds derived from tuples of integers, so that every random draw has an address.

Realization ``i`` of a run with seed ``s`` uses ``derive_seed(s, i)``; training epoch ``e``
uses ``derive_seed(s, e, ...)``. Nothing depends on batch sizes or on how a run was split.
"""

from __future__ import annotations

import numpy as np
import torch


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative integers (numpy SeedSequence hashing)."""
    state = np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)


def torch_generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator on ``device`` seeded from ``keys``."""
    return torch.Generator(device=device).manual_seed(derive_seed(*keys))
