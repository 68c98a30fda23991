"""Data parallelism: 2 CPU processes (gloo) train as one process on the same global batch."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from geocgan.distributed import DataParallel, Group

STEPS, BATCH = 4, 8


class TwoStep(nn.Module):
    """A GAN's shape (a D step and a G step in one ``train_step``, two optimizers) without
    random draws, so that a 2-process run must equal the 1-process run."""

    def __init__(self):
        super().__init__()
        self.G = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4))
        self.D = nn.Linear(4, 1)
        self.optimizers = {
            "D": torch.optim.Adam(self.D.parameters(), lr=1e-2),
            "G": torch.optim.Adam(self.G.parameters(), lr=1e-2),
        }

    def train_step(self, real: torch.Tensor) -> None:
        fake = self.G(real)
        loss_d = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        self.optimizers["D"].zero_grad()
        loss_d.backward()
        self.optimizers["D"].step()
        loss_g = F.softplus(-self.D(fake)).mean() + ((fake - real) ** 2).mean()
        self.optimizers["G"].zero_grad()
        loss_g.backward()
        self.optimizers["G"].step()


def _worker(rank: int, world: int, store: str, out: str, data: torch.Tensor) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.manual_seed(100 + rank)  # different initial weights: rank 0's must reach all
    model = TwoStep()
    ddp = DataParallel(model, Group(rank, world, torch.device("cpu")))
    losses = {"a": torch.tensor(float(rank))}
    for batch in data:  # (STEPS, BATCH, 4): the same global batches on every process
        model.train_step(ddp.shard(batch))
    avg = ddp.average(losses)["a"]
    save_file({**model.state_dict(), "avg": avg.reshape(1)}, f"{out}/rank{rank}.safetensors")
    dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    data = torch.randn(STEPS, BATCH, 4, generator=torch.Generator().manual_seed(0))
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path), data), nprocs=2)
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]

    torch.manual_seed(100)  # rank 0's initial weights, trained alone on the whole batches
    alone = TwoStep()
    start = {k: v.clone() for k, v in alone.state_dict().items()}
    for batch in data:
        alone.train_step(batch)

    assert float(ranks[0]["avg"]) == 0.5 == float(ranks[1]["avg"])
    for k, v in alone.state_dict().items():
        assert torch.equal(ranks[0][k], ranks[1][k]), k  # the copies stay identical
        torch.testing.assert_close(ranks[0][k], v, rtol=1e-5, atol=1e-6)
        assert not torch.equal(v, start[k])  # and they trained
