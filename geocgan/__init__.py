"""geocgan: ensembles of subsurface fields that honour well data, by pixel-constrained cGANs.

The data's way: wells and grids come in (``geocgan.io``), become constraint maps
(``geocgan.constraints``), go through a model (``geocgan.models``, ``geocgan.train``), come out
as an ensemble (``geocgan.simulate``, ``geocgan.job``), are measured (``geocgan.metrics``) and
written (``geocgan.io``).
"""

__version__ = "0.1.0"

from geocgan.constraints import (  # noqa: E402
    Constraints,
    FieldSpec,
    from_points,
    random_masks,
    sample_constraints,
)
from geocgan.errors import (  # noqa: E402
    CheckpointError,
    ConstraintError,
    GeocganError,
    GridError,
    InputError,
    OutputExistsError,
)
from geocgan.metrics.geostats import honoring  # noqa: E402
from geocgan.models import MODELS, PixelCGAN, PixelCGANConfig, build_model  # noqa: E402
from geocgan.simulate import simulate  # noqa: E402
from geocgan.train import FieldArray, PatchSampler, TrainConfig, Trainer  # noqa: E402

__all__ = [
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
