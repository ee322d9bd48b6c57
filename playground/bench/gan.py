"""gan: training speed of our GAN models against plain implementations of the same published
architectures, on the same images: DCGAN and WGAN images/s at 64x64 and InfoGAN at 28x28 (batch 64);
pix2pix and CycleGAN iterations/s at 256x256 (batch 1, as the papers train)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from playground.bench import Figure, alternate, level_of, per_second


@dataclass(frozen=True)
class Level:
    dcgan_iters: int  # DCGAN, WGAN and InfoGAN iterations per round (batch 64)
    translate_iters: int  # pix2pix / CycleGAN iterations per round (batch 1)
    rounds: int
    warmup: bool = True  # the tests skip the warm-up round
    cyclegan_size: int = 256  # as in the paper; the tests use less (ResNet generators take any size)


LEVELS = {
    "tiny": Level(dcgan_iters=1, translate_iters=1, rounds=1, warmup=False, cyclegan_size=64),
    "quick": Level(dcgan_iters=4, translate_iters=1, rounds=1),
    "full": Level(dcgan_iters=12, translate_iters=3, rounds=3),
}
IMAGE_BATCH = 64  # DCGAN, WGAN and InfoGAN
PIX2PIX_SIZE = 256  # as in the paper (the peer's U-Net 256 needs exactly this)
# Two Atari games in colour: 3 channels on each side, as the papers' photo datasets.
TRANSLATE_DATA = "games:Pong:Breakout"


def _loop(step: Callable[[], Any], iters: int, per_iter: int) -> Callable[[], int]:
    def work() -> int:
        for _ in range(iters):
            step()
        return iters * per_iter

    return work


def _ours(model: Any, batches: Any) -> Callable[[], None]:
    """One training step of our model on the platform's next batch (in its fixed order)."""
    step = 0

    def train_step() -> None:
        nonlocal step
        model.train_step(batches(step))
        step += 1

    return train_step


@dataclass(frozen=True)
class ImageModel:
    """One unconditional image GAN of the suite, ours and its plain peer on the same images."""

    data: str  # a built-in set
    size: int
    channels: int
    title: str
    peer: str  # ``module:Class`` in playground.peers
    peer_name: str


IMAGE_MODELS = {
    "dcgan": ImageModel("atari:Pong", 64, 3, "DCGAN 64x64 training, batch 64", "plain_dcgan:PlainDCGAN",
                        "plain PyTorch DCGAN (examples style)"),
    # The paper's settings (weight clipping); an iteration is one critic step, every fifth one also G's.
    "wgan": ImageModel("atari:Pong", 64, 3, "WGAN (weight clipping) 64x64 training, batch 64", "plain_wgan:PlainWGAN",
                       "plain WGAN from the paper (Algorithm 1, DCGAN networks)"),
    "infogan": ImageModel("mnist-5k", 28, 1, "InfoGAN 28x28 training, batch 64", "plain_infogan:PlainInfoGAN",
                          "plain InfoGAN from the paper (table 1, MNIST)"),
}


def image_model(name: str, level: Level, device: str) -> Figure:
    """Images per second of our model with its default settings, through the platform's batches in their
    fixed order, against its plain peer on the same images, batch 64."""
    import importlib

    import gans
    from gans import data as gan_data
    from playground.gan_training import Batches

    spec = IMAGE_MODELS[name]
    dataset = gan_data.open_dataset(spec.data, "images", spec.size)
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    cls = gans.get(name)
    torch.manual_seed(0)
    ours_model = cls(cls.check_hyperparameters({}), image_size=spec.size, channels=spec.channels, device=device,
                     total_iters=level.dcgan_iters)
    module, class_name = spec.peer.split(":")
    peer_model = getattr(importlib.import_module(f"playground.peers.{module}"), class_name)(
        images, batch_size=IMAGE_BATCH, device=device)
    ours_step = _ours(ours_model, Batches(dataset, IMAGE_BATCH, seed=0))
    figure = Figure("gan", spec.title, "images/s", spec.peer_name)
    figure.notes["parameters"] = _parameters(ours_model, peer_model)
    batch = min(IMAGE_BATCH, len(dataset))
    return alternate(
        figure,
        lambda: per_second(_loop(ours_step, level.dcgan_iters, batch), device),
        lambda: per_second(_loop(peer_model.train_step, level.dcgan_iters, batch), device),
        level.rounds,
        warmup=level.warmup,
    )


def translation(model_name: str, level: Level, device: str) -> Figure:
    """pix2pix or CycleGAN: our model through the platform's batches against the plain peer
    written from the paper, one image pair per iteration (256x256 as in the papers)."""
    import gans
    from gans import data as gan_data
    from playground.gan_training import Batches

    size = PIX2PIX_SIZE if model_name == "pix2pix" else level.cyclegan_size
    dataset = gan_data.open_dataset(TRANSLATE_DATA, "unpaired", size)
    n = min(len(dataset), 64)
    pairs = [dataset[i] for i in range(n)]
    a = torch.stack([x for x, _ in pairs])
    b = torch.stack([y for _, y in pairs])
    cls = gans.get(model_name)
    torch.manual_seed(0)
    # The paper's 9 residual blocks at every size (our default drops to 6 below 256, the tests' size).
    hp = cls.check_hyperparameters({"n_blocks": 9} if model_name == "cyclegan" else {})
    ours_model = cls(hp, image_size=size, channels=3, channels_b=3, device=device, total_iters=100_000)
    ours_step = _ours(ours_model, Batches(dataset, 1, seed=0))
    if model_name == "pix2pix":
        from playground.peers.plain_pix2pix import PlainPix2Pix

        peer_model: Any = PlainPix2Pix(a, b, device=device)
        title, peer_name = "pix2pix", "plain pix2pix from the paper (U-Net 256, 70x70 PatchGAN)"
    else:
        from playground.peers.plain_cyclegan import PlainCycleGAN

        peer_model = PlainCycleGAN(a, b, device=device)
        title, peer_name = "CycleGAN", "plain CycleGAN from the paper (ResNet-9, 70x70 PatchGAN)"
    figure = Figure("gan", f"{title} {size}x{size} training, batch 1", "iterations/s", peer_name)
    figure.notes["parameters"] = _parameters(ours_model, peer_model)
    return alternate(
        figure,
        lambda: per_second(_loop(ours_step, level.translate_iters, 1), device),
        lambda: per_second(_loop(peer_model.train_step, level.translate_iters, 1), device),
        level.rounds,
        warmup=level.warmup,
    )


def _parameters(ours: Any, peer: Any) -> dict[str, int]:
    """How many numbers each side trains: the same published networks give the same counts."""
    peer_nets = [v for v in vars(peer).values() if isinstance(v, torch.nn.Module)]
    return {"ours": sum(p.numel() for net in ours.nets.values() for p in net.parameters()),
            "peer": sum(p.numel() for net in peer_nets for p in net.parameters())}


def run(level: str, device: str) -> Iterator[Figure]:
    """Each figure as soon as it is measured (the CLI shows it then: the whole suite takes minutes)."""
    chosen = level_of(LEVELS, level)
    for name in IMAGE_MODELS:
        yield image_model(name, chosen, device)
    yield translation("pix2pix", chosen, device)
    yield translation("cyclegan", chosen, device)
