"""Data parallelism: 2 CPU processes (gloo) train as one process on the same global batch,
and their checkpoint resumes on one process."""

import json
import os
import socket
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from geocgan.checkpoint import load_model
from geocgan.constraints import FieldSpec
from geocgan.distributed import DataParallel
from geocgan.models import MODELS, GANModel, build_model
from geocgan.models.base import Batch
from geocgan.train import FieldArray, TrainConfig, Trainer

CONFIG = TrainConfig(epochs=2, batch_size=4, steps_per_epoch=3, seed=5, device="cpu", val_size=2)


@dataclass
class TwoStepConfig:
    width: int = 4


class TwoStep(GANModel):
    """A GAN's shape (a D step and a G step in one ``train_step``, two optimizers, losses
    that are means over the batch) without random draws, so that a 2-process run must equal
    the 1-process run."""

    name = "two-step-test"
    config_class = TwoStepConfig

    def __init__(self, config: TwoStepConfig, spec: FieldSpec):
        super().__init__(config, spec)
        w = config.width
        self.G = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.Tanh(), nn.Conv2d(w, 1, 1))
        self.D = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.Tanh(), nn.Conv2d(w, 1, 1))
        self.optimizers = {
            "D": torch.optim.Adam(self.D.parameters(), lr=1e-2),
            "G": torch.optim.Adam(self.G.parameters(), lr=1e-2),
        }

    def train_step(self, batch, generator):
        real = batch.x  # (B, 1, H, W)
        fake = self.G(real)
        loss_d = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        self.optimizers["D"].zero_grad()
        loss_d.backward()
        self.optimizers["D"].step()
        loss_g = F.softplus(-self.D(fake)).mean() + ((fake - real) ** 2).mean()
        self.optimizers["G"].zero_grad()
        loss_g.backward()
        self.optimizers["G"].step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    def latent(self, *shape):
        return []


def fields() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((12, 8, 8)).astype(np.float32)


def train(checkpoint, epochs: int, resume: bool = False, distributed: bool = False) -> Trainer:
    MODELS[TwoStep.name] = TwoStep  # (also in the spawned processes)
    seed = int(os.environ.get("RANK", 0))  # other initial weights per process: rank 0's win
    model = build_model(TwoStep.name, {}, FieldSpec("continuous"), seed=seed)
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": epochs})
    trainer = Trainer(
        model,
        FieldArray(fields()),
        config,
        checkpoint=checkpoint,
        log=checkpoint.with_suffix(".jsonl"),
        progress=False,
        distributed=distributed,
    )
    trainer.fit(resume=resume)
    return trainer


def _worker(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    from pathlib import Path

    trainer = train(Path(out) / "ddp.safetensors", CONFIG.epochs, distributed=True)
    save_file(trainer.model.state_dict(), f"{out}/rank{rank}.safetensors")
    # BatchNorm on CPUs: each slice normalises by its own statistics, the running ones
    # follow rank 0 after every step
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    bn.optimizers = {"all": torch.optim.SGD(bn.parameters(), lr=0.1)}
    ddp = DataParallel(bn, trainer.group)
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
    for _ in range(2):
        bn.optimizers["all"].zero_grad()
        bn(ddp.shard(Batch(x)).x).square().mean().backward()
        bn.optimizers["all"].step()
    save_file(dict(bn.state_dict()), f"{out}/bn{rank}.safetensors")
    dist.destroy_process_group()


def test_two_processes_train_as_one_and_resume_on_one(tmp_path):
    # the one-process run on the same global batches (rank 0's initial weights); first, so
    # that the forked processes find torch's lazy imports done
    alone = train(tmp_path / "alone.safetensors", CONFIG.epochs)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # forked: the children need not import torch and geocgan again (one thread each)
    mp.start_processes(_worker, args=(2, port, str(tmp_path)), nprocs=2, start_method="fork")
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]
    start = build_model(TwoStep.name, {}, FieldSpec("continuous"), seed=0).state_dict()
    for k, v in alone.model.state_dict().items():
        assert torch.equal(ranks[0][k], ranks[1][k]), k  # the copies stay identical
        torch.testing.assert_close(ranks[0][k], v, rtol=1e-5, atol=1e-6)
        assert not torch.equal(v, start[k])  # and they trained
    bn = [load_file(str(tmp_path / f"bn{r}.safetensors")) for r in range(2)]
    for k in bn[0]:
        assert torch.equal(bn[0][k], bn[1][k]), k  # running statistics are rank 0's
    rows = [json.loads(r) for r in (tmp_path / "ddp.jsonl").read_text().splitlines()]
    assert [r["processes"] for r in rows] == [2, 2]

    # the 2-process checkpoint resumes on one process: as three epochs on one process
    train(tmp_path / "ddp.safetensors", 3, resume=True)
    train(tmp_path / "alone.safetensors", 3, resume=True)
    a, _ = load_model(tmp_path / "ddp.safetensors")
    b, _ = load_model(tmp_path / "alone.safetensors")
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, rtol=1e-5, atol=1e-6, msg=k)
