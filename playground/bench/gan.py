"""gan: training speed of our GAN models against plain implementations of the same published
architectures, on the same images: DCGAN images/s at 64x64 (batch 64); pix2pix and CycleGAN
iterations/s at 256x256 (batch 1, as the papers train)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from playground.bench import Figure, alternate, level_of, per_second


@dataclass(frozen=True)
class Level:
    dcgan_iters: int  # iterations per round (batch 64)
    translate_iters: int  # pix2pix / CycleGAN iterations per round (batch 1)
    rounds: int
    warmup: bool = True  # the tests skip the warm-up round
    cyclegan_size: int = 256  # as in the paper; the tests use less (ResNet generators take any size)


LEVELS = {
    "tiny": Level(dcgan_iters=1, translate_iters=1, rounds=1, warmup=False, cyclegan_size=64),
    "quick": Level(dcgan_iters=4, translate_iters=1, rounds=1),
    "full": Level(dcgan_iters=12, translate_iters=3, rounds=3),
}
DCGAN_BATCH = 64
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


def dcgan(level: Level, device: str) -> Figure:
    """Our model and batch order (``gans/dcgan.py`` through ``gan_training.Batches``) against the
    PyTorch-examples DCGAN, on the same 64x64 Atari Pong frames."""
    from gans import data as gan_data
    from gans.dcgan import DCGAN
    from playground.gan_training import Batches
    from playground.peers.plain_dcgan import PlainDCGAN

    dataset = gan_data.open_dataset("atari:Pong", "images", 64)
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    torch.manual_seed(0)
    ours_model = DCGAN(DCGAN.check_hyperparameters({}), image_size=64, channels=3, device=device,
                       total_iters=level.dcgan_iters)
    peer_model = PlainDCGAN(images, batch_size=DCGAN_BATCH, device=device)
    ours_step = _ours(ours_model, Batches(dataset, DCGAN_BATCH, seed=0))
    figure = Figure("gan", "DCGAN 64x64 training, batch 64", "images/s", "plain PyTorch DCGAN (examples style)")
    batch = min(DCGAN_BATCH, len(dataset))
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
    figure.notes["parameters"] = {
        "ours": sum(p.numel() for net in ours_model.nets.values() for p in net.parameters()),
        "peer": sum(p.numel() for net in _peer_nets(peer_model) for p in net.parameters()),
    }
    return alternate(
        figure,
        lambda: per_second(_loop(ours_step, level.translate_iters, 1), device),
        lambda: per_second(_loop(peer_model.train_step, level.translate_iters, 1), device),
        level.rounds,
        warmup=level.warmup,
    )


def _peer_nets(peer: Any) -> list[torch.nn.Module]:
    return [v for v in vars(peer).values() if isinstance(v, torch.nn.Module)]


def run(level: str, device: str) -> list[Figure]:
    chosen = level_of(LEVELS, level)
    return [dcgan(chosen, device), translation("pix2pix", chosen, device), translation("cyclegan", chosen, device)]
