"""Checkpoints: one safetensors file whose header carries a JSON description.

Never pickle. The file holds the networks' weights (``G.*``, ``D.*``), optionally the
optimizer state (``optim.G.*``, ``optim.D.*``) for resuming training, and in the header's
metadata under ``"geocgan"`` a JSON document with the model name and config, the field
spec (facies codes or normalisation), the training step/epoch, and the package version.
Nothing needs the original command line to reload it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from geocgan._version import __version__
from geocgan.errors import CheckpointError
from geocgan.files import atomic_path
from geocgan.models import GANModel, build_model

META_KEY = "geocgan"


def save_checkpoint(
    path: str | Path, model: GANModel, meta: dict, *, training_state: bool = True
) -> Path:
    """Write ``model`` (and, with ``training_state``, its optimizers) to ``path`` atomically."""
    path = Path(path)
    tensors: dict[str, torch.Tensor] = {}
    for net_name, net in model.nets.items():
        for k, v in net.state_dict().items():
            tensors[f"{net_name}.{k}"] = v.detach().cpu().contiguous()
    groups = {}
    if training_state:
        for opt_name, opt in model.optimizers.items():
            state = opt.state_dict()
            groups[opt_name] = state["param_groups"]
            for pid, pstate in state["state"].items():
                for k, v in pstate.items():
                    tensors[f"optim.{opt_name}.{pid}.{k}"] = (
                        torch.as_tensor(v).detach().cpu().contiguous()
                    )
    doc = {**model.describe(), **meta, "version": __version__, "optimizer_groups": groups}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(doc)})
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and JSON description of a checkpoint, with clear errors for bad files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train one with `geocgan train`")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"checkpoint {path} is truncated or not a safetensors file ({err}); "
            "use a complete file written by `geocgan train`"
        ) from None
    if META_KEY not in header:
        raise CheckpointError(f"{path} is a safetensors file but not a geocgan checkpoint")
    return tensors, json.loads(header[META_KEY])


def load_model(
    path: str | Path, *, device: str | torch.device = "cpu", training_state: bool = False
):
    """Rebuild a model from a checkpoint. Returns ``(model, description)``."""
    tensors, doc = read_checkpoint(path)
    model = build_model(doc["model"], doc["config"], doc["field"])
    for net_name, net in model.nets.items():
        prefix = f"{net_name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise CheckpointError(
                f"checkpoint {path} does not match its own model config ({str(err)[:300]}...); "
                "it was written by another model or version"
            ) from None
    model.to(device)
    if training_state:
        for opt_name, opt in model.optimizers.items():
            prefix = f"optim.{opt_name}."
            state: dict[int, dict] = {}
            for k, v in tensors.items():
                if k.startswith(prefix):
                    pid, key = k[len(prefix) :].split(".", 1)
                    state.setdefault(int(pid), {})[key] = v if key == "step" else v.to(device)
            groups = doc.get("optimizer_groups", {}).get(opt_name)
            if groups is None:
                raise CheckpointError(
                    f"checkpoint {path} holds no optimizer state and cannot resume training; "
                    "it is an export for simulation only"
                )
            opt.load_state_dict({"state": state, "param_groups": groups})
    return model, doc


def export_model(
    source: str | Path,
    dest: str | Path,
    note: str = "",
    *,
    canvas: int | None = None,
    noise_gains: dict[int, float] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the checkpoint ``source`` (a training checkpoint or snapshot) as a finished model.

    Weights only (no optimizer state), its epoch recorded as the run's last (``complete``),
    and the training description kept; ``note`` (how it was made or chosen) is stored as
    ``trained``. ``canvas`` sets the model's generation canvas (``PixelCGANConfig.canvas``;
    None keeps the source's). ``noise_gains`` scales the generator's noise per stage
    (``PixelCGAN.scale_noise``); the gains applied so far are recorded as ``noise_gains``.
    Refuses to replace ``dest`` unless ``overwrite``.
    """
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise CheckpointError(f"{dest} exists; pass --overwrite to replace it")
    model, doc = load_model(source)
    if canvas is not None:
        if not hasattr(model.config, "canvas"):
            raise CheckpointError(
                f"a {doc['model']} model has no generation canvas to set; export without canvas"
            )
        model.config = replace(model.config, canvas=canvas)  # validated by its __post_init__
    described = (
        *("training_images", "patch", "flip", "epoch", "step", "last"),
        *("fine_tune", "started_from", "distilled_from", "noise_gains"),
    )
    keep = {k: doc[k] for k in described if k in doc}
    if noise_gains:
        if not hasattr(model, "scale_noise"):
            raise CheckpointError(f"a {doc['model']} model has no noise gains to set")
        model.scale_noise(noise_gains)
        total = {int(k): v for k, v in keep.get("noise_gains", {}).items()}
        for stage, gain in noise_gains.items():
            total[stage] = total.get(stage, 1.0) * gain
        keep["noise_gains"] = {str(k): v for k, v in sorted(total.items())}
    meta = {**keep, "train": {**doc.get("train", {}), "epochs": doc["epoch"]}, "complete": True}
    if note:
        meta["trained"] = note
    return save_checkpoint(dest, model, meta, training_state=False)
