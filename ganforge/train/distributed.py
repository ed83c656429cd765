"""Many processes through torchrun and PyTorch DDP: which process this is, its shard of each batch, and the
wrappers that average gradients. One process (no torchrun) is a world of size 1 where all of this is a no-op.

Global batch = per-process batch x world size. Every process draws the same global batch of indices and
noise from the same seeded generators and takes its own slice, so a run on N processes sees exactly the
images and noise a single process with the N-times batch sees; only BatchNorm's batch statistics differ
(per process, unless SyncBatchNorm is on).
"""
import atexit
import ctypes
import os
import signal
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import GanforgeError
from ..nets.layers import KerasBatchNorm


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor, chunks: int = 1) -> torch.Tensor:
        """This process's part of a global batch made of `chunks` consecutive sub-batches (D steps)."""
        if self.size == 1:
            return batch
        per_chunk = batch.reshape(chunks, self.size, -1, *batch.shape[1:])
        return per_chunk[:, self.rank].reshape(-1, *batch.shape[1:])

    def wrap(self, module: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
        if self.size == 1:
            return module
        ids = [device.index] if device.type == "cuda" else None
        # DDP broadcasts the first process's buffers (BN moving statistics) before each forward: all processes use
        # the statistics a checkpoint saves, so a resumed run continues exactly.
        return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused_parameters)

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scalars averaged over processes, so that every process logs, and decides on rollbacks, alike."""
        if self.size == 1:
            return values
        stacked = torch.stack(list(values.values())).float()
        dist.all_reduce(stacked)
        return dict(zip(values, stacked / self.size))

    def first_process_value(self, value: int) -> int:
        """The first process's `value`, on every process: one decision where each could see something else."""
        if self.size == 1:
            return value
        shared = torch.tensor([value], dtype=torch.int64)
        dist.broadcast(shared, src=0)
        return int(shared.item())

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()


def world_from_environment(device_name: str) -> World:
    """torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; start the process group with NCCL on GPUs, gloo on CPUs."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if "TORCHELASTIC_RUN_ID" in os.environ:
        _die_with_the_launcher()
    if not dist.is_initialized():
        cuda = device_name != "cpu" and torch.cuda.is_available()
        dist.init_process_group("nccl" if cuda else "gloo")
        # A process that exits with its group alive can abort in gloo's threads during interpreter shutdown
        # ("terminate called without an active exception", SIGABRT, seen in CI): leave the group first.
        atexit.register(_leave_process_group)
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))


class SyncKerasBatchNorm(KerasBatchNorm):
    """KerasBatchNorm whose batch statistics are those of the global batch: per-channel sums all-reduced
    (differentiably) over processes. Keras' conventions kept: biased variance, eps 1e-3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        shape = [1, x.shape[1], *[1] * (x.dim() - 2)]
        count = torch.tensor([x.numel() / x.shape[1]], device=x.device, dtype=x.dtype)
        sums = all_reduce(torch.cat([x.sum(dims), count]))
        total = sums[-1]
        mean = sums[:-1] / total
        centred = x - mean.view(shape)
        var = all_reduce(centred.pow(2).sum(dims)) / total  # two passes: no cancellation in E[x^2] - E[x]^2
        out = centred * torch.rsqrt(var.view(shape) + self.eps) * self.weight.view(shape) + self.bias.view(shape)
        with torch.no_grad():
            self.running_mean.mul_(self.momentum).add_(mean.detach(), alpha=1 - self.momentum)
            self.running_var.mul_(self.momentum).add_(var.detach(), alpha=1 - self.momentum)
        return out


def synchronize_batch_norm(module: nn.Module) -> nn.Module:
    """Every KerasBatchNorm in `module` computes its statistics over all processes' batches. Another kind of
    BatchNorm would silently keep per-process statistics: it is refused."""
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            raise GanforgeError(f"train.sync_bn: {type(layer).__name__} in {type(module).__name__} has no synchronized form here")
        if type(layer) is KerasBatchNorm:
            layer.__class__ = SyncKerasBatchNorm  # same parameters and buffers, global statistics
    return module


def _leave_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _die_with_the_launcher() -> None:
    """torchrun starts each worker in a session of its own, so a torchrun killed outright (kill -9, the OOM
    killer) leaves its workers training on as orphans, writing checkpoints into the folder a rerun resumes from.
    Linux can kill a process when its parent dies: ask it to, as a crash would, with no chance to save."""
    if sys.platform != "linux":
        return
    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
