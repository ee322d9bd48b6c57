"""Building blocks shared by the GANs: the published generators and discriminators, their weight
init, the adversarial losses and CycleGAN's image history.

Each network follows its paper and the authors' reference code in shape and defaults:
- DCGAN (Radford et al. 2016, arXiv:1511.06434): transposed-conv generator, strided-conv
  discriminator, BatchNorm everywhere except G's output and D's input, ReLU in G, LeakyReLU 0.2 in D.
- U-Net generator and 70x70 PatchGAN (Isola et al. 2017, pix2pix, arXiv:1611.07004).
- ResNet-block generator (Zhu et al. 2017, CycleGAN, arXiv:1703.10593, after Johnson et al. 2016).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, TypeVar

import torch
from torch import nn

Norm = Literal["batch", "instance", "none"]
GanLossMode = Literal["bce", "lsgan", "wgan-gp"]
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def adam(params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """The Adam every GAN here trains with: fused, one pass over all weights per step instead of a loop of small
    operations per tensor (InfoGAN on MNIST at width 32, one CPU thread: 1.16x iterations/s, 151 ms against 130;
    the same algorithm, different float rounding only)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)


def init_normal(module: ModuleT, std: float = 0.02) -> ModuleT:
    """N(0, 0.02) for conv weights and N(1, 0.02) for norm scales, as DCGAN, pix2pix and CycleGAN do.

    Call it before any change of memory layout (channels-last): the random numbers fill memory in
    order, so the same seed would otherwise give differently arranged weights."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":  # CycleGAN's choice: no affine, no running statistics
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


def power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# -- DCGAN -----------------------------------------------------------------------------------------
class DCGANGenerator(nn.Module):
    """z (and a one-hot label when conditional) → image of ``image_size`` (a power of two ≥ 16).

    The first transposed conv makes a 4x4 map with ``ngf * image_size / 8`` channels; each next one
    doubles the side and halves the channels, down to ``ngf`` before the output layer.
    """

    def __init__(self, nz: int, ngf: int, channels: int, image_size: int, n_classes: int = 0) -> None:
        super().__init__()
        self.nz, self.n_classes = nz, n_classes
        n_up = int(math.log2(image_size)) - 3  # 4x4 → image_size/2 in n_up doublings, then the output layer
        width = ngf * 2**n_up
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz + n_classes, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n_up):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            assert labels is not None
            z = torch.cat([z, nn.functional.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        return self.main(z.view(z.size(0), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (plus one label plane per class when conditional) → one logit per image.

    ``norm`` is BatchNorm for the DCGAN loss; WGAN-GP's critic must not use BatchNorm (the
    gradient penalty is per sample), so it gets layer norm (GroupNorm with one group) instead.
    """

    def __init__(self, ndf: int, channels: int, image_size: int, n_classes: int = 0, norm: str = "batch") -> None:
        super().__init__()
        self.n_classes = n_classes
        n_down = int(math.log2(image_size)) - 3
        layers: list[nn.Module] = [nn.Conv2d(channels + n_classes, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(n_down):
            norm_mod = nn.BatchNorm2d(width * 2) if norm == "batch" else nn.GroupNorm(1, width * 2)
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), norm_mod, nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            assert labels is not None
            planes = nn.functional.one_hot(labels, self.n_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.size(2), x.size(3))], dim=1)
        return self.main(x).view(-1)


# -- pix2pix: U-Net generator ------------------------------------------------------------------
class UNetGenerator(nn.Module):
    """An encoder-decoder with a skip connection between each mirrored pair of layers.

    ``log2(image_size)`` downsamplings take the image to 1x1 (8 for 256x256, the paper's
    ``unet_256``); widths ngf, 2ngf, 4ngf, then 8ngf. Dropout 0.5 in the decoder's three
    8ngf layers after the innermost one gives pix2pix its noise, as in the paper.
    """

    def __init__(self, in_channels: int, out_channels: int, image_size: int, ngf: int = 64, norm: Norm = "batch",
                 dropout: bool = True) -> None:
        super().__init__()
        depth = int(math.log2(image_size))
        widths = [ngf * min(2**i, 8) for i in range(depth)]
        use_bias = norm == "instance"
        self.down = nn.ModuleList()
        prev = in_channels
        for i, width in enumerate(widths):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.LeakyReLU(0.2, True))
            layers.append(nn.Conv2d(prev, width, 4, 2, 1, bias=use_bias))
            if 0 < i < depth - 1:  # neither the outermost nor the innermost layer is normalised
                layers.append(norm_layer(norm, width))
            self.down.append(nn.Sequential(*layers))
            prev = width
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            inner = widths[i]
            in_ch = inner if i == depth - 1 else inner * 2  # the innermost has no skip to concatenate
            if i == 0:
                layers = [nn.ReLU(True), nn.ConvTranspose2d(in_ch, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                out_ch = widths[i - 1]
                layers = [nn.ReLU(True), nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=use_bias), norm_layer(norm, out_ch)]
                if dropout and 4 <= i <= depth - 2:  # the paper's 8ngf→8ngf blocks (3 of them at 256x256)
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the innermost output feeds the decoder directly
        for layer in self.up:
            x = layer(x)
            if skips:
                x = torch.cat([skips.pop(), x], dim=1)
        return x


class PatchDiscriminator(nn.Module):
    """PatchGAN: one logit per overlapping patch. With 3 layers each output sees a 70x70 patch."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: Norm = "batch") -> None:
        super().__init__()
        use_bias = norm == "instance"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=use_bias), norm_layer(norm, ndf * mult),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


# -- CycleGAN: ResNet generator ----------------------------------------------------------------
class ResnetBlock(nn.Module):
    def __init__(self, width: int, norm: Norm) -> None:
        super().__init__()
        use_bias = norm == "instance"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3, bias=use_bias), norm_layer(norm, width), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3, bias=use_bias), norm_layer(norm, width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings, c7s1-out."""

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_blocks: int = 9,
                 norm: Norm = "instance") -> None:
        super().__init__()
        use_bias = norm == "instance"
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=use_bias),
                                   norm_layer(norm, ngf), nn.ReLU(True)]
        width = ngf
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, 2, 1, bias=use_bias), norm_layer(norm, width * 2), nn.ReLU(True)]
            width *= 2
        layers += [ResnetBlock(width, norm) for _ in range(n_blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, 2, 1, output_padding=1, bias=use_bias),
                       norm_layer(norm, width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


# -- losses ------------------------------------------------------------------------------------------
def adversarial_loss(logits: torch.Tensor, real: bool, mode: GanLossMode) -> torch.Tensor:
    """BCE on logits (DCGAN, pix2pix), least squares (LSGAN, CycleGAN) or the Wasserstein critic."""
    logits = logits.float()
    if mode == "wgan-gp":
        return -logits.mean() if real else logits.mean()
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return nn.functional.mse_loss(logits, target)
    return nn.functional.binary_cross_entropy_with_logits(logits, target)


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (‖∇D(x̂)‖₂ − 1)² on random points between real and fake."""
    alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
    mixed = (alpha * real.float() + (1 - alpha) * fake.float()).requires_grad_(True)
    out = critic(mixed, *extra)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


class ImagePool:
    """CycleGAN's history of generated images: D sees a mix of new fakes and older ones (Shrivastava
    et al. 2017), which damps oscillation. Half the time a fake swaps with a stored one."""

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(()).item() > 0.5:  # torch's RNG, so a checkpoint's RNG state covers it
                i = int(torch.randint(self.size, ()).item())
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state(self) -> torch.Tensor | None:
        return torch.cat(self.images, 0).cpu() if self.images else None

    def load(self, images: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if images is None else [im.unsqueeze(0).to(device) for im in images]
