"""geocgan: ensembles of subsurface fields that honour well data, by pixel-constrained cGANs.

The data's way: wells and grids come in (``geocgan.io``), become constraint maps
(``geocgan.constraints``), go through a model (``geocgan.models``, ``geocgan.train``), come out
as an ensemble (``geocgan.simulate``, ``geocgan.job``), are measured (``geocgan.metrics``) and
written (``geocgan.io``).
"""

from geocgan._version import __version__
from geocgan.constraints import (
    Constraints,
    FieldSpec,
    from_points,
    random_masks,
    sample_constraints,
)
from geocgan.errors import (
    CheckpointError,
    ConstraintError,
    GeocganError,
    GridError,
    InputError,
    OutputExistsError,
)
from geocgan.metrics.geostats import honoring
from geocgan.models import MODELS, PixelCGAN, PixelCGANConfig, build_model
from geocgan.simulate import simulate
from geocgan.train import FieldArray, PatchSampler, TrainConfig, Trainer

__all__ = [
    "__version__",
    "MODELS",
    "CheckpointError",
    "ConstraintError",
    "Constraints",
    "FieldArray",
    "FieldSpec",
    "GeocganError",
    "GridError",
    "InputError",
    "OutputExistsError",
    "PatchSampler",
    "PixelCGAN",
    "PixelCGANConfig",
    "TrainConfig",
    "Trainer",
    "build_model",
    "from_points",
    "honoring",
    "random_masks",
    "sample_constraints",
    "simulate",
]
