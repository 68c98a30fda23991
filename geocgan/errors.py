"""One exception hierarchy: every message says what was wrong, where, and what to do."""


class GeocganError(Exception):
    """Base class of every error a user can fix."""


class InputError(GeocganError, ValueError):
    """A file or value handed in by the user is wrong (names file, row, well id)."""


class ConstraintError(InputError):
    """Constraint points/values cannot be placed on the grid (outside, NaN, unknown facies)."""


class GridError(InputError):
    """A grid the model cannot take, or a grid/CRS mismatch."""


class CheckpointError(GeocganError):
    """A checkpoint that is missing, truncated, or from another model config."""


class OutputExistsError(GeocganError, FileExistsError):
    """An output path exists and --overwrite was not given."""


class DataNotFoundError(GeocganError, FileNotFoundError):
    """A dataset could not be found; the message says where it looked and what to do."""
