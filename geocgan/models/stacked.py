"""Many runs of the 28x28 pixel-constrained GAN trained at once, as one batched model.

A study of λ over seeds trains hundreds of small GANs. Trained one after another, each
step of each run costs a few kernel launches for a few kilobytes of work; trained here,
one step advances every run: the parameters of the R runs are stacked along a leading
axis (``torch.func.stack_module_state``) and the nets of ``geocgan.models.nets`` are
applied to them with ``torch.func.vmap`` over ``functional_call`` (a convolution over R
stacked weights becomes one grouped convolution). Each run keeps

- its own initial weights (drawn from ``derive_seed(seed, INIT_STREAM)``),
- its own λ (and whether it is conditional at all),
- its own data order, constraint maps and noise (drawn per epoch from
  ``derive_seed(seed, DATA_STREAM, epoch)``: nothing depends on which other runs share
  the batch, nor on how the training was cut into sessions),
- its own Adam state: one ``torch.optim.Adam`` over the stacked tensors is R Adams, since
  Adam works element by element,

so a run trained in the batch is the same run trained alone (``tests/test_lambda_study.py``
checks it to float tolerance). The losses of the runs are summed before the backward pass:
a run's parameters get the gradient of its own loss only. Nothing couples the runs: the
nets have no batch normalisation, and the discriminator's spectral norm keeps one power-
iteration vector per run (``_power_iteration``).

The protocol is the paper's (Ruffino et al. 2019): the discriminator's real pairs are an
image and constraints drawn from that image, ``(X, C(X))``; the generator's constraints come
from a set-aside split of source images, ``C'``; the generator pays
``λ · mean_b Σ M (G − C')² / Σ M`` (the per-constrained-pixel MSE of
``geocgan.models.pixel_cgan``). An unconditional run is the same net given all-zero
constraints (values and mask) by both G and D, and λ = 0: its constraint encoder sees a
constant input and only adds learned biases.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch.func import functional_call, stack_module_state, vmap

from geocgan.errors import CheckpointError, InputError
from geocgan.files import atomic_path
from geocgan.models.nets import DCGAN28Discriminator, DCGAN28Generator
from geocgan.seeds import derive_seed, torch_generator

INIT_STREAM, DATA_STREAM = 1, 2  # seed streams of a run's initial weights and training data
SIDE = 28  # images are SIDE x SIDE, one channel, in [-1, 1]
_FORMAT = "geocgan.StackedGAN/1"


@dataclass(frozen=True)
class RunSpec:
    """One run of a stack.

    Attributes
    ----------
    seed : int
        Fixes the run's initial weights, data order, constraint maps and noise.
    lam : float
        λ, weight of the constraint term (0: plain conditional GAN).
    conditional : bool
        False: the unconditional GAN (both nets see zero constraints; λ must be 0).
    pool : int
        Which data pool (dataset) the run trains on: index into ``StackData.train``.
    """

    seed: int
    lam: float = 0.0
    conditional: bool = True
    pool: int = 0


@dataclass
class StackConfig:
    """Nets and optimiser shared by every run of a stack.

    Attributes
    ----------
    nz : int
        Noise vector size.
    ngf, ndf : int
        Widths of the dcgan28 generator and discriminator.
    cond_skip : bool
        Also feed the raw constraint maps to the generator's output layer (our shipped
        design); False: at the input only (the paper's).
    batch_size : int
        Images per step and run.
    lr, beta1, beta2 : float
        Adam settings of both nets.
    density : float
        Share of pixels constrained per map: ``max(1, round(density * 784))`` pixels
        (4 at 0.5 %), uniformly at random without replacement.
    """

    nz: int = 64
    ngf: int = 16
    ndf: int = 16
    cond_skip: bool = False
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    density: float = 0.005

    @property
    def n_constrained(self) -> int:
        """Constrained pixels per 28x28 map."""
        return max(1, round(self.density * SIDE * SIDE))


@dataclass
class StackData:
    """Training data of a stack, on its device, images in [-1, 1].

    Attributes
    ----------
    train : torch.Tensor (P, N, 28, 28)
        The training images of each pool (dataset); the discriminator's real images.
    source : torch.Tensor (P, S, 28, 28)
        Constraint-source images of each pool: the generator's constraints come from them.
    """

    train: torch.Tensor
    source: torch.Tensor


def constraint_maps(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """Constraint tensors ``(..., 2, 28, 28)`` (values at the mask, mask) of ``images``.

    Parameters
    ----------
    images : torch.Tensor (..., 28, 28)
        The images the values are read from.
    pixels : torch.Tensor (..., k) int
        Flat indices of the constrained pixels of each image.
    """
    mask = torch.zeros(*images.shape[:-2], SIDE * SIDE, dtype=images.dtype, device=images.device)
    mask.scatter_(-1, pixels, 1.0)
    mask = mask.view(images.shape)  # (..., 28, 28)
    return torch.stack([images * mask, mask], dim=-3)  # (..., 2, 28, 28)


def draw_pixels(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, k)`` flat pixel indices, k distinct per row, uniform (as ``random_masks``)."""
    keys = torch.rand(n, SIDE * SIDE, generator=generator, device=generator.device)
    return keys.topk(k, dim=1).indices


def constrained_mse(fake: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """Per-constrained-pixel squared error, averaged over the maps of each run.

    ``fake`` (..., B, 28, 28) and ``cond`` (..., B, 2, 28, 28) -> (...,). Maps without a
    constrained pixel (an unconditional run's) count 0.
    """
    values, mask = cond[..., 0, :, :], cond[..., 1, :, :]
    err = ((fake - values) ** 2 * mask).sum((-1, -2)) / mask.sum((-1, -2)).clamp_min(1)
    return err.mean(-1)


class StackedGAN:
    """R runs of the dcgan28 pixel-constrained GAN as one batched model.

    Parameters
    ----------
    runs : list of RunSpec
        The runs; their order is the leading axis of every stacked tensor.
    config : StackConfig
        Nets and optimiser, shared.
    device : str or torch.device
        Where the stack lives.
    """

    def __init__(
        self, runs: list[RunSpec], config: StackConfig, device: str | torch.device = "cpu"
    ):
        if not runs:
            raise InputError("a stack needs at least one run")
        for r in runs:
            if not r.conditional and r.lam:
                raise InputError(f"run {r}: an unconditional run has no constraints; use lam 0")
            if r.lam < 0:
                raise InputError(f"run {r}: lam must be >= 0")
        self.runs, self.config, self.device = list(runs), config, torch.device(device)
        gens, discs = [], []
        for r in self.runs:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(r.seed, INIT_STREAM))
                gens.append(DCGAN28Generator(1, 2, config.nz, config.ngf, config.cond_skip))
                discs.append(DCGAN28Discriminator(1, 2, config.ndf))
        self.g_params, self.g_buffers = stack_module_state([g.to(self.device) for g in gens])
        self.d_params, self.d_buffers = stack_module_state([d.to(self.device) for d in discs])
        self._g = copy.deepcopy(gens[0]).to("meta")
        self._d = copy.deepcopy(discs[0]).to("meta").eval()  # eval: no power iteration inside
        self._sn = sorted(
            {k.split(".parametrizations.")[0] for k in self.d_params if "parametr" in k}
        )
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.g_params.values(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d_params.values(), lr=config.lr, betas=betas)
        self.lam = torch.tensor([r.lam for r in self.runs], device=self.device)  # (R,)
        on = [float(r.conditional) for r in self.runs]
        self.cond_on = torch.tensor(on, device=self.device).view(-1, 1, 1, 1, 1)  # (R,1,1,1,1)
        self.pool = torch.tensor([r.pool for r in self.runs], device=self.device)  # (R,)
        self.epoch = 0

    # -- the nets, batched over runs ----------------------------------------------------

    def _gen(self, params: dict, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``z`` (R, B, nz), ``cond`` (R, B, 2, 28, 28) -> images (R, B, 28, 28) in [-1, 1]."""

        def one(p, b, zr, cr):
            return functional_call(self._g, (p, b), ([zr], cr))  # (B, 1, 28, 28)

        return torch.tanh(vmap(one)(params, self.g_buffers, z, cond))[:, :, 0]

    def _disc(self, params: dict, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x`` (R, B, 28, 28), ``cond`` (R, B, 2, 28, 28) -> logits (R, B)."""

        def one(p, b, xr, cr):
            return functional_call(self._d, (p, b), (xr, cr))  # (B, 1)

        return vmap(one)(params, self.d_buffers, x[:, :, None], cond)[..., 0]

    @torch.no_grad()
    def _power_iteration(self) -> None:
        """One power-iteration step per spectrally normalised layer and run (as torch's
        training-mode ``spectral_norm`` does at each forward: u first, then v)."""
        for name in self._sn:
            w = self.d_params[f"{name}.parametrizations.weight.original"]
            w = w.flatten(2)  # (R, out, in * kh * kw)
            u_key, v_key = (f"{name}.parametrizations.weight.0._{c}" for c in "uv")
            u = F.normalize(torch.bmm(w, self.d_buffers[v_key][..., None])[..., 0], dim=1)
            v = F.normalize(torch.bmm(w.transpose(1, 2), u[..., None])[..., 0], dim=1)
            self.d_buffers[u_key].copy_(u)
            self.d_buffers[v_key].copy_(v)

    # -- training ---------------------------------------------------------------------------

    def epoch_draws(self, data: StackData, epoch: int) -> dict[str, torch.Tensor]:
        """Every random draw of one epoch of every run (each from its own seed and epoch).

        Returns ``order`` (R, n) training images, ``real_px`` (R, n, k) their constrained
        pixels, ``source`` (R, n) the generator's constraint-source images, ``gen_px``
        (R, n, k) their pixels, ``z`` (R, n, nz) noise; n = steps x batch size.
        """
        n_train, n_source = data.train.shape[1], data.source.shape[1]
        b, k = self.config.batch_size, self.config.n_constrained
        n = n_train // b * b
        if n == 0:
            raise InputError(f"{n_train} training images make no batch of {b}; lower batch_size")
        draws = {key: [] for key in ("order", "real_px", "source", "gen_px", "z")}
        for r in self.runs:
            g = torch_generator(r.seed, DATA_STREAM, epoch, device=self.device)
            draws["order"].append(torch.randperm(n_train, generator=g, device=self.device)[:n])
            draws["real_px"].append(draw_pixels(n, k, g))
            draws["source"].append(torch.randint(n_source, (n,), generator=g, device=self.device))
            draws["gen_px"].append(draw_pixels(n, k, g))
            draws["z"].append(torch.randn(n, self.config.nz, generator=g, device=self.device))
        return {key: torch.stack(v) for key, v in draws.items()}

    def train_step(
        self, x: torch.Tensor, cond_real: torch.Tensor, cond_gen: torch.Tensor, z: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """One D and one G update of every run.

        Parameters
        ----------
        x : (R, B, 28, 28) real images; ``cond_real`` (R, B, 2, 28, 28) their own constraints.
        cond_gen : (R, B, 2, 28, 28) the generator's constraints (from the source images).
        z : (R, B, nz) noise.

        Returns
        -------
        dict of (R,) tensors: ``loss_d``, ``loss_adv`` (G's adversarial term), ``mse``.
        """
        cond_real, cond_gen = cond_real * self.cond_on, cond_gen * self.cond_on
        self._power_iteration()
        fake = self._gen(self.g_params, z, cond_gen)  # (R, B, 28, 28)
        d_real = self._disc(self.d_params, x, cond_real)  # (R, B)
        d_fake = self._disc(self.d_params, fake.detach(), cond_gen)
        loss_d = F.softplus(-d_real).mean(1) + F.softplus(d_fake).mean(1)  # (R,)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.sum().backward()
        self.opt_d.step()
        frozen = {k: v.detach() for k, v in self.d_params.items()}
        loss_adv = F.softplus(-self._disc(frozen, fake, cond_gen)).mean(1)  # (R,)
        mse = constrained_mse(fake, cond_gen)  # (R,)
        self.opt_g.zero_grad(set_to_none=True)
        (loss_adv + self.lam * mse).sum().backward()
        self.opt_g.step()
        return {"loss_d": loss_d.detach(), "loss_adv": loss_adv.detach(), "mse": mse.detach()}

    def train_epoch(self, data: StackData, on_step=None) -> dict[str, torch.Tensor]:
        """Train every run one more epoch; return each run's mean losses, (R,) tensors."""
        if data.train.shape[0] <= int(self.pool.max()):
            raise InputError(
                f"runs use pool {int(self.pool.max())} but the data has {data.train.shape[0]}"
            )
        epoch = self.epoch + 1
        d = self.epoch_draws(data, epoch)
        b = self.config.batch_size
        pool = self.pool[:, None]  # (R, 1)
        sums = None
        steps = d["order"].shape[1] // b
        for step in range(steps):
            sl = slice(step * b, (step + 1) * b)
            x = data.train[pool, d["order"][:, sl]]  # (R, B, 28, 28)
            src = data.source[pool, d["source"][:, sl]]  # (R, B, 28, 28)
            out = self.train_step(
                x, constraint_maps(x, d["real_px"][:, sl]),
                constraint_maps(src, d["gen_px"][:, sl]), d["z"][:, sl],
            )  # fmt: skip
            sums = out if sums is None else {k: sums[k] + v for k, v in out.items()}
            if on_step:
                on_step()
        self.epoch = epoch
        return {k: v / steps for k, v in sums.items()}

    # -- generation -------------------------------------------------------------------------

    def g_snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of every run's generator weights, for ``generate(..., params=)``."""
        return {k: v.detach().clone() for k, v in self.g_params.items()}

    @torch.no_grad()
    def generate(
        self,
        cond: torch.Tensor,
        z: torch.Tensor,
        params: dict[str, torch.Tensor] | None = None,
        batch: int = 1000,
    ) -> torch.Tensor:
        """Images of every run, ``(R, N, 28, 28)`` in [-1, 1].

        Parameters
        ----------
        cond : (N, 2, 28, 28) constraint maps shared by every run, or (R, N, 2, 28, 28).
            Unconditional runs see zeros whatever is given.
        z : (R, N, nz) noise of each run.
        params : generator weights from ``g_snapshot`` (default: the current ones).
        batch : maps per forward pass.
        """
        params = self.g_params if params is None else params
        n_runs, n = z.shape[:2]
        if cond.dim() == 4:
            cond = cond.expand(n_runs, *cond.shape)
        out = []
        for start in range(0, n, batch):
            c = cond[:, start : start + batch] * self.cond_on
            out.append(self._gen(params, z[:, start : start + batch], c))
        return torch.cat(out, 1)

    # -- checkpoints ------------------------------------------------------------------------

    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for tag, group in (("g", self.g_params), ("gb", self.g_buffers), ("d", self.d_params),
                           ("db", self.d_buffers)):  # fmt: skip
            out.update({f"{tag}/{k}": v for k, v in group.items()})
        for tag, opt, group in (("opt_g", self.opt_g, self.g_params),
                                ("opt_d", self.opt_d, self.d_params)):  # fmt: skip
            for k, p in group.items():
                for field, value in opt.state.get(p, {}).items():
                    out[f"{tag}/{k}/{field}"] = value.reshape(1) if field == "step" else value
        return out

    def save(self, path: str | Path) -> Path:
        """Weights, Adam states and the epoch of every run: safetensors, JSON header."""
        path = Path(path)
        header = {"format": _FORMAT, "epoch": self.epoch, "config": asdict(self.config),
                  "runs": [asdict(r) for r in self.runs]}  # fmt: skip
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._tensors().items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"geocgan": json.dumps(header)})
        return path

    def load(self, path: str | Path) -> None:
        """Resume from ``save``: the same runs and config are required."""
        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                header = json.loads((handle.metadata() or {}).get("geocgan", "{}"))
            tensors = load_file(str(path), device=str(self.device))
        except (SafetensorError, OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: not a readable stack checkpoint ({exc})") from None
        mine = {"config": asdict(self.config), "runs": [asdict(r) for r in self.runs]}
        if header.get("format") != _FORMAT or any(header.get(k) != v for k, v in mine.items()):
            raise CheckpointError(
                f"{path}: a checkpoint of other runs or settings; delete it to start afresh"
            )
        with torch.no_grad():
            for tag, group in (("g", self.g_params), ("gb", self.g_buffers),
                               ("d", self.d_params), ("db", self.d_buffers)):  # fmt: skip
                for k, v in group.items():
                    v.copy_(tensors[f"{tag}/{k}"])
        for tag, opt, group in (("opt_g", self.opt_g, self.g_params),
                                ("opt_d", self.opt_d, self.d_params)):  # fmt: skip
            for k, p in group.items():
                state = {f: tensors[f"{tag}/{k}/{f}"] for f in ("exp_avg", "exp_avg_sq", "step")
                         if f"{tag}/{k}/{f}" in tensors}  # fmt: skip
                if state:
                    state["step"] = state["step"].reshape(()).to(torch.float32).cpu()
                    opt.state[p] = state
        self.epoch = header["epoch"]
