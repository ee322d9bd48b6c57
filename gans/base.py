"""The one small interface every GAN model offers the platform.

A model owns its networks, optimizers and learning-rate schedules, and knows how to do one
training iteration on a batch, draw its fixed sample grid, sample or translate, and put all its
state into a checkpoint of plain tensors and numbers (loaded with ``weights_only=True``). The
platform (``playground/gan_training.py``) owns everything else: data order, the store, run
folders, progress, stop and resume.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from playground.errors import BadConfig

DataKind = Literal["images", "paired", "unpaired"]


class Hyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Precision:
    """Mixed precision and channels-last on CUDA; float32 on the CPU, channels-last there only
    for the models where it was measured faster (DCGAN: about 1.13x; pix2pix and CycleGAN: not).

    bfloat16 needs no loss scaling; float16 (older GPUs) goes through a GradScaler.
    """

    def __init__(self, device: torch.device, channels_last_on_cpu: bool = False) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.channels_last = self.cuda or channels_last_on_cpu
        self.dtype = None
        if self.cuda:
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.dtype)

    def prepare(self, net: nn.Module) -> nn.Module:
        net = net.to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def images(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()


def linear_decay(total: int, decay_from: float) -> Any:
    """Learning-rate factor: 1 until ``decay_from`` of the run, then linearly to 0 at the end
    (pix2pix and CycleGAN: constant for the first half of the epochs, then linear decay)."""
    start = int(total * decay_from)

    def factor(iteration: int) -> float:
        if iteration < start or total <= start:
            return 1.0
        return max(0.0, 1.0 - (iteration - start) / float(total - start))

    return factor


def fixed_pairs(dataset: Any, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The sample grid's inputs for translation models: ``n`` (A, B) pairs drawn once from the data."""
    picks = torch.randperm(len(dataset), generator=generator)[: min(n, len(dataset))].tolist()
    pairs = [dataset[i] for i in picks]
    return {"a": torch.stack([a for a, _ in pairs]), "b": torch.stack([b for _, b in pairs])}


class GanModel(ABC):
    """One GAN family. Subclasses set the class attributes and build their networks in ``__init__``."""

    name: ClassVar[str]
    title: ClassVar[str]
    data_kind: ClassVar[DataKind]
    needs_labels: ClassVar[bool] = False
    channels_last_on_cpu: ClassVar[bool] = False  # see Precision
    Hyperparameters: ClassVar[type[Hyperparameters]]
    net_names: ClassVar[tuple[str, ...]]
    generator_names: ClassVar[tuple[str, ...]]  # the networks needed to sample or translate

    def __init__(
        self,
        hp: Any,
        *,
        image_size: int,
        channels: int,
        channels_b: int | None = None,
        n_classes: int = 0,
        class_names: tuple[str, ...] = (),
        total_iters: int = 1,
        device: str = "cpu",
    ) -> None:
        self.hp = hp
        self.class_names = tuple(class_names) or tuple(str(i) for i in range(n_classes))
        self.image_size = image_size
        self.channels = channels
        self.channels_b = channels_b or channels
        self.n_classes = n_classes
        self.total_iters = max(int(total_iters), 1)
        self.device = torch.device(device)
        self.precision = Precision(self.device, self.channels_last_on_cpu)
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}

    # -- checks before a run exists ---------------------------------------------------------------
    @classmethod
    def check_image_size(cls, size: int) -> None:
        """Raise ``BadConfig`` with one sentence when the architecture cannot take ``size``."""

    @classmethod
    def check_hyperparameters(cls, values: dict[str, Any]) -> Any:
        from pydantic import ValidationError

        try:
            return cls.Hyperparameters.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "value"
            known = ", ".join(sorted(cls.Hyperparameters.model_fields))
            if err["type"] == "extra_forbidden":
                raise BadConfig("gans.unknown_hyperparameter", key=key, model=cls.name, known=known) from None
            raise BadConfig("gans.bad_hyperparameter", key=key, model=cls.name, reason=err["msg"].lower(),
                            value=repr(err.get("input"))) from None

    @classmethod
    def warnings(cls, hp: Any) -> list[Any]:
        """Sentences (``playground.i18n.Words``) about settings that are allowed but that the model's
        paper warns against; the doors show them before the run starts, and nothing is refused."""
        return []

    # -- training ---------------------------------------------------------------------------------
    @abstractmethod
    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        """One iteration (D then G) on a batch from the dataset; returns the numbers to log."""

    def after_step(self) -> None:
        for scheduler in self.schedulers.values():
            scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        return {f"lr/{name}": opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    @abstractmethod
    def fixed_inputs(self, dataset: Any, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The inputs of the sample grid, drawn once per run and kept in every checkpoint."""

    @abstractmethod
    def render(self, fixed: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """The sample grid's images (N×C×H×W in [-1, 1], on the CPU) and its number of columns."""

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Networks in eval mode (BatchNorm statistics, no dropout) and no gradients, then back."""
        modes = {name: net.training for name, net in self.nets.items()}
        for net in self.nets.values():
            net.eval()
        try:
            with torch.no_grad(), self.precision.autocast():
                yield
        finally:
            for name, net in self.nets.items():
                net.train(modes[name])

    # -- checkpoints ------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {name: net.state_dict() for name, net in self.nets.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: s.state_dict() for name, s in self.schedulers.items()},
            "scaler": self.precision.scaler.state_dict() if self.precision.scaler is not None else None,
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any], *, for_training: bool) -> None:
        """Strict: a checkpoint of another shape raises, which the platform turns into one sentence."""
        names = self.net_names if for_training else self.generator_names
        for name in names:
            self.nets[name].load_state_dict(state["nets"][name])
        if for_training:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
            for name, sched in self.schedulers.items():
                sched.load_state_dict(state["schedulers"][name])
            if self.precision.scaler is not None and state.get("scaler"):
                self.precision.scaler.load_state_dict(state["scaler"])
            self.load_extra_state(state.get("extra") or {})
