"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever and Abbeel 2016, arXiv:1606.03657).

A GAN whose generator gets, beside the noise z, a few latent codes c: categorical codes (one of K
values each) and continuous codes (each Uniform(-1, 1)). Nothing tells the codes what to mean.
InfoGAN asks that they stay readable from the image: an auxiliary network Q, which shares the
discriminator's body, guesses c back from G(z, c). Maximising the variational lower bound on the
mutual information I(c; G(z, c)) (section 5),

    L_I(G, Q) = E[log Q(c | G(z, c))] + H(c)  <=  I(c; G(z, c)),

is the same as minimising Q's negative log-likelihood of the codes that made each image: a
cross-entropy for a categorical code, a Gaussian negative log-likelihood for a continuous one.
On MNIST the 10-way code ends up meaning the digit, and the two continuous codes its slant and
width, without a single label (section 7.2, Figure 2).

Each iteration (the authors' trainer, ``infogan/algos/infogan_trainer.py``):
- D and Q: real → 1, G(z, c) → 0, plus lambda × the information loss on those fakes (Q's head and
  the shared body learn to read the codes; the fakes are detached, G does not move);
- G: make D call the fakes real (non-saturating loss), plus lambda × the same information loss
  (G learns to write the codes so that Q can read them).
So the information term moves both G and Q, as the paper's minimax objective (equation 6) has it.

Settings (appendix C and its table 1, for MNIST): one 10-way categorical code, 2 continuous codes,
62 noise numbers; Adam with lr 2e-4 for D (and Q), 1e-3 for G, beta1 0.5; batch normalisation after
most layers; leaky ReLU with slope 0.1 in D and Q, ReLU in G; lambda 1 for discrete codes, and
"smaller" for continuous ones (section 6) so that the continuous term stays on the GAN loss's scale.
Our choices where the paper leaves room, each said where it is made below:
- Q's standard deviation for continuous codes is fixed at 1, as the authors' MNIST launcher does
  (``Uniform(1, fix_std=True)``), rather than learned as appendix C describes. A learned sigma lets Q
  push the Gaussian NLL towards minus infinity on a code it reads well (differential entropy has no
  floor), so the loss's scale drifts during the run; with sigma = 1 the term is 0.5 (c - mu)^2 plus a
  constant and stays put. ``mutual_information_loss`` still takes a log-std for anyone who learns it.
- lambda_cont defaults to 1, as the authors' launcher has it beside that fixed sigma. Section 6's
  "smaller" lambda keeps a learned sigma's NLL (a differential entropy) on the GAN loss's scale; with
  sigma = 1 the term is already small, and at 0.1 we measured the generator ignore its continuous
  codes (600 iterations on mnist-5k at width 32: Q's NLL stayed at the prior's 2.17 nats and moving a
  code from -1 to 1 changed pixels by 0.006; at 1: NLL 1.87 and 0.11), with the digit code learned
  as fast either way.
- z ~ N(0, I) like our DCGAN (the paper does not say; the authors' code draws Uniform(-1, 1)): the
  viewer's latent walk moves between Gaussian points.
- The generator ends in tanh (our data lies in [-1, 1]; the authors' ends in a Bernoulli mean).

The networks are table 1's at 28x28 (7x7 maps in the middle) and the same layers at 32x32 (8x8).
``width`` 64 is table 1; a smaller one scales every layer down, for quick runs on a CPU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator
from torch import Tensor, nn

from gans import networks
from gans.base import GanModel, Hyperparameters
from playground.errors import BadConfig

LEAK = 0.1  # appendix C: "leaky rectified linear units with leaky rate 0.1" in D and Q
IMAGE_SIZES = (28, 32)  # table 1's layout halves the side twice: 28 → 7x7 maps (the paper's), 32 → 8x8
LOG_2PI = math.log(2 * math.pi)


class InfoGANHyperparameters(Hyperparameters):
    nz: int = Field(62, gt=0, description="length of the incompressible noise z (paper, MNIST: 62)")
    categorical: list[int] = Field(
        default_factory=lambda: [10],
        description="the categorical codes: how many values each one has (paper, MNIST: one code of 10)")
    continuous: int = Field(2, ge=0, description="how many continuous codes, each Uniform(-1, 1) (paper, MNIST: 2)")
    lambda_cat: float = Field(1.0, ge=0, description="weight of the categorical codes' information loss (paper: 1)")
    lambda_cont: float = Field(
        1.0, ge=0, description="weight of the continuous codes' information loss (authors' MNIST code: 1, sigma fixed)")
    lr_g: float = Field(1e-3, gt=0, description="Adam learning rate of the generator (paper: 1e-3)")
    lr_d: float = Field(2e-4, gt=0, description="Adam learning rate of the discriminator and Q (paper: 2e-4)")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 for both optimizers (paper: 0.5)")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2 for both optimizers (Adam's default)")
    width: int = Field(64, gt=0, le=256, description=(
        "network width: 64 is table 1's (FC 1024, conv 64 and 128, Q's FC 128); smaller trains faster on a CPU"))

    @field_validator("categorical", mode="before")
    @classmethod
    def _one_code(cls, value: Any) -> Any:
        """``--set categorical=10`` means one code of 10 values, as ``[10]`` does."""
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value


# -- the information loss (pure: tensors in, tensors out) -------------------------------------------------
class InformationLoss(NamedTuple):
    total: Tensor  # lambda_cat × categorical + lambda_cont × continuous: what G and Q minimise
    categorical: Tensor  # the categorical codes' cross-entropy, summed over codes, mean over the batch (nats)
    continuous: Tensor  # the continuous codes' Gaussian NLL, summed over codes, mean over the batch (nats)


def mutual_information_loss(
    logits: Sequence[Tensor],
    categorical: Tensor | None,
    mean: Tensor | None,
    continuous: Tensor | None,
    *,
    lambda_cat: float = 1.0,
    lambda_cont: float = 1.0,
    log_std: Tensor | None = None,
) -> InformationLoss:
    """Minus the lower bound L_I of section 5, less its constant H(c): -E[log Q(c | x)], weighted.

    ``logits``: one N×K_i tensor per categorical code (Q's guess); ``categorical``: N×k long, the values
    that made the images. ``mean``: N×m, Q's guess of the continuous codes; ``continuous``: N×m, their true
    values; ``log_std``: N×m or None for sigma = 1 (our choice, see the module's docstring). The Gaussian NLL
    of one code is 0.5 ((c - mu) / sigma)^2 + log sigma + 0.5 log 2 pi. Codes of one kind add up (the
    codes are independent, so log Q(c | x) is a sum); the batch is averaged.
    """
    zero = next((t.new_zeros((), dtype=torch.float32) for t in (*logits, mean) if t is not None), torch.zeros(()))
    cat = zero
    if logits:
        assert categorical is not None and categorical.shape[1] == len(logits)
        cat = sum((F.cross_entropy(lg.float(), categorical[:, i]) for i, lg in enumerate(logits)), zero)
    cont = zero
    if mean is not None and mean.shape[1] > 0:
        assert continuous is not None and continuous.shape == mean.shape
        log_sigma = torch.zeros_like(mean, dtype=torch.float32) if log_std is None else log_std.float()
        z = (continuous.float() - mean.float()) * torch.exp(-log_sigma)
        cont = (0.5 * z.pow(2) + log_sigma + 0.5 * LOG_2PI).sum(1).mean()
    return InformationLoss(lambda_cat * cat + lambda_cont * cont, cat, cont)


# -- the networks (appendix C, table 1) ------------------------------------------------------------------
class InfoGANGenerator(nn.Module):
    """[z, one-hot codes, continuous codes] → FC 1024-BN-ReLU → FC (s/4)²·128-BN-ReLU → 4x4 upconv 64
    stride 2-BN-ReLU → 4x4 upconv to the image's channels, stride 2, tanh (at ``width`` 64; every layer
    scales with it). Biases are left out before BatchNorm, which has its own."""

    def __init__(self, inputs: int, channels: int, image_size: int, width: int = 64) -> None:
        super().__init__()
        self.side, self.maps = image_size // 4, 2 * width
        cells = self.maps * self.side * self.side
        self.fc = nn.Sequential(
            nn.Linear(inputs, 16 * width, bias=False), nn.BatchNorm1d(16 * width), nn.ReLU(True),
            nn.Linear(16 * width, cells, bias=False), nn.BatchNorm1d(cells), nn.ReLU(True),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(self.maps, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, latent: Tensor) -> Tensor:
        return self.up(self.fc(latent).view(-1, self.maps, self.side, self.side))


class InfoGANDiscriminator(nn.Module):
    """One body, two heads: ``body`` (4x4 conv 64 stride 2-lReLU → 4x4 conv 128 stride 2-BN-lReLU → FC
    1024-BN-lReLU) feeds ``d`` (FC → one logit: real or fake) and ``q`` (FC 128-BN-lReLU → FC: the logits
    of each categorical code, then the mean of each continuous code); at ``width`` 64, every layer scales
    with it. Q is part of this module, so the discriminator's optimizer trains it and its checkpoint holds it."""

    def __init__(self, channels: int, image_size: int, q_outputs: int, width: int = 64) -> None:
        super().__init__()
        side = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(LEAK, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(LEAK, True),
            nn.Flatten(),
            nn.Linear(2 * width * side * side, 16 * width, bias=False), nn.BatchNorm1d(16 * width),
            nn.LeakyReLU(LEAK, True),
        )
        self.d = nn.Linear(16 * width, 1)
        self.q = nn.Sequential(
            nn.Linear(16 * width, 2 * width, bias=False), nn.BatchNorm1d(2 * width), nn.LeakyReLU(LEAK, True),
            nn.Linear(2 * width, q_outputs),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(D's logit per image, Q's raw outputs per image)."""
        h = self.body(x)
        return self.d(h).view(-1), self.q(h)


# -- the model -------------------------------------------------------------------------------------------
class InfoGAN(GanModel):
    """``codes`` everywhere below is one float tensor N×(k + m): first the value of each of the k
    categorical codes (whole numbers 0..K_i - 1), then the m continuous codes. One tensor keeps the
    sample grid's inputs and checkpoints plain."""

    name = "infogan"
    title = "InfoGAN"
    data_kind = "images"
    Hyperparameters = InfoGANHyperparameters
    net_names = ("G", "D")  # Q lives inside D (it shares D's body)
    generator_names = ("G",)

    def __init__(self, hp: InfoGANHyperparameters, **kwargs: Any) -> None:
        super().__init__(hp, **kwargs)
        self.sizes = list(hp.categorical)  # K_i of each categorical code
        self.n_cat, self.n_cont = len(self.sizes), hp.continuous
        inputs = hp.nz + sum(self.sizes) + self.n_cont
        # Initialise before any change of memory layout (see networks.init_normal); N(0, 0.02) as the authors' code.
        self.G = self.precision.prepare(networks.init_normal(
            InfoGANGenerator(inputs, self.channels, self.image_size, hp.width)))
        self.D = self.precision.prepare(networks.init_normal(
            InfoGANDiscriminator(self.channels, self.image_size, sum(self.sizes) + self.n_cont, hp.width)))
        self.nets = {"G": self.G, "D": self.D}
        self.optimizers = {
            "G": networks.adam(self.G.parameters(), hp.lr_g, (hp.beta1, hp.beta2)),
            "D": networks.adam(self.D.parameters(), hp.lr_d, (hp.beta1, hp.beta2)),
        }
        self.iteration = 0

    # -- checks before a run exists -----------------------------------------------------------------------
    @classmethod
    def check_image_size(cls, size: int) -> None:
        if size not in IMAGE_SIZES:
            raise BadConfig("infogan.image_size", model=cls.name, size=size)

    @classmethod
    def check_hyperparameters(cls, values: dict[str, Any]) -> Any:
        hp = super().check_hyperparameters(values)
        if not hp.categorical and hp.continuous == 0:
            raise BadConfig("infogan.no_codes", model=cls.name)
        for index, size in enumerate(hp.categorical):
            if size < 2:
                raise BadConfig("infogan.categorical_too_small", model=cls.name, index=index, size=size)
        return hp

    # -- codes --------------------------------------------------------------------------------------------
    def draw_codes(self, n: int, generator: torch.Generator | None = None, device: Any = "cpu") -> Tensor:
        """``n`` codes from the prior: each categorical value uniform over its K_i, each continuous U(-1, 1)."""
        cat = [torch.randint(k, (n, 1), generator=generator, device=device).float() for k in self.sizes]
        cont = torch.rand(n, self.n_cont, generator=generator, device=device) * 2 - 1
        return torch.cat([*cat, cont], dim=1)

    def _split(self, codes: Tensor) -> tuple[Tensor, Tensor]:
        """codes → (N×k long categorical values, N×m continuous values)."""
        return codes[:, : self.n_cat].round().long(), codes[:, self.n_cat :].float()

    def _latent(self, z: Tensor, codes: Tensor) -> Tensor:
        """G's input: z, then one one-hot block per categorical code, then the continuous codes."""
        cat, cont = self._split(codes)
        hot = [F.one_hot(cat[:, i], k).to(z.dtype) for i, k in enumerate(self.sizes)]
        return torch.cat([z, *hot, cont.to(z.dtype)], dim=1)

    def _information(self, q_out: Tensor, codes: Tensor) -> InformationLoss:
        logits = list(q_out[:, : sum(self.sizes)].split(self.sizes, dim=1)) if self.sizes else []
        cat, cont = self._split(codes)
        return mutual_information_loss(logits, cat, q_out[:, sum(self.sizes):], cont,
                                       lambda_cat=self.hp.lambda_cat, lambda_cont=self.hp.lambda_cont)

    # -- training -----------------------------------------------------------------------------------------
    def train_step(self, batch: tuple[Tensor, Tensor]) -> dict[str, float]:
        hp, p = self.hp, self.precision
        real = p.images(batch[0])  # the labels (batch[1]) are never looked at: InfoGAN is unsupervised
        n = real.size(0)
        z = torch.randn(n, hp.nz, device=self.device)
        codes = self.draw_codes(n, device=self.device)

        # D and Q: real → 1, fake → 0, and read the codes back from the (detached) fakes.
        with p.autocast():
            fake = self.G(self._latent(z, codes))
            d_real, _ = self.D(real)
            d_fake, q_fake = self.D(fake.detach())
            info_d = self._information(q_fake, codes)
            adv_d = networks.adversarial_loss(d_real, True, "bce") + networks.adversarial_loss(d_fake, False, "bce")
            loss_d = adv_d + info_d.total
        p.step(loss_d, self.optimizers["D"])

        # G: make D call the fakes real, and write the codes so that Q reads them. D and Q stay as they are
        # in this step, so their weights' gradients are not computed (only G's optimizer steps here).
        self.D.requires_grad_(False)
        try:
            with p.autocast():
                d_fake_g, q_fake_g = self.D(fake)
                info_g = self._information(q_fake_g, codes)
                adv_g = networks.adversarial_loss(d_fake_g, True, "bce")
                loss_g = adv_g + info_g.total
            p.step(loss_g, self.optimizers["G"])
        finally:
            self.D.requires_grad_(True)
        self.iteration += 1

        out = {
            "loss/d": adv_d.item(),
            "loss/g": adv_g.item(),
            "loss/info": info_g.total.item(),
            "d/real": torch.sigmoid(d_real.float()).mean().item(),
            "d/fake": torch.sigmoid(d_fake.float()).mean().item(),
        }
        if self.n_cat:  # L_I of the categorical codes: H(c) - cross-entropy, up to H(c) = sum of log K_i nats
            out["info/categorical_ce"] = info_g.categorical.item()
            out["info/mi_categorical"] = sum(math.log(k) for k in self.sizes) - info_g.categorical.item()
        if self.n_cont:
            out["info/continuous_nll"] = info_g.continuous.item()
        return out

    # -- the sample grid: one column per value of the first code --------------------------------------------
    def grid_columns(self) -> int:
        """The first categorical code's K (one column per value), else 10 steps of the first continuous code."""
        return self.sizes[0] if self.sizes else 10

    def _set_first_code(self, codes: Tensor, column: Tensor) -> Tensor:
        codes = codes.clone()
        if self.sizes:
            codes[:, 0] = column.float()
        else:  # continuous only: -1 … 1 across the columns
            codes[:, 0] = torch.linspace(-1, 1, self.grid_columns())[column]
        return codes

    def fixed_inputs(self, dataset: Any, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """One noise vector (and draw of the other codes) per row; across a row only the first code changes,
        so each column shows one code value."""
        columns = self.grid_columns()
        rows = math.ceil(n / columns)
        z = torch.randn(rows, self.hp.nz, generator=generator).repeat_interleave(columns, 0)[:n]
        codes = self.draw_codes(rows, generator).repeat_interleave(columns, 0)[:n]
        return {"z": z, "codes": self._set_first_code(codes, torch.arange(n) % columns)}

    def render(self, fixed: dict[str, Tensor]) -> tuple[Tensor, int]:
        return self.generate(fixed["z"], fixed["codes"]), self.grid_columns()

    def neutral_codes(self, n: int) -> Tensor:
        """Codes for a grid without stored ones (the viewer's latent walk): the first code runs along the
        columns as in the sample grid; every other categorical code is 0 and every continuous one 0."""
        codes = torch.zeros(n, self.n_cat + self.n_cont)
        return self._set_first_code(codes, torch.arange(n) % self.grid_columns())

    # -- generating ---------------------------------------------------------------------------------------
    def generate(self, z: Tensor, codes: Tensor | None = None) -> Tensor:
        """Images (on the CPU, in [-1, 1]) for noise z (N×nz) and ``codes`` (N×(k + m), see the class);
        None: ``neutral_codes``."""
        codes = self.neutral_codes(len(z)) if codes is None else codes
        with self.evaluating():
            out = self.G(self._latent(z.to(self.device).float(), codes.to(self.device)))
        return out.float().cpu()

    def sample(self, n: int, generator: torch.Generator, codes: Tensor | None = None) -> Tensor:
        """``n`` new images, the codes drawn from the prior unless given."""
        z = torch.randn(n, self.hp.nz, generator=generator)
        return self.generate(z, self.draw_codes(n, generator) if codes is None else codes)

    def make_codes(self, n: int, categorical: Sequence[int] | Tensor = (),
                   continuous: Sequence[float] | Tensor = ()) -> Tensor:
        """The codes tensor from values set by hand: ``categorical`` one value per categorical code (or an
        N×k tensor), ``continuous`` one number per continuous code (or N×m); one value is used for all n."""
        cat = torch.as_tensor(categorical, dtype=torch.long).reshape(-1, self.n_cat).expand(n, -1) if self.n_cat \
            else torch.zeros(n, 0, dtype=torch.long)
        cont = torch.as_tensor(continuous, dtype=torch.float32).reshape(-1, self.n_cont).expand(n, -1) \
            if self.n_cont else torch.zeros(n, 0)
        for i, k in enumerate(self.sizes):
            if not bool(((cat[:, i] >= 0) & (cat[:, i] < k)).all()):
                raise ValueError(f"categorical code {i} takes the values 0 to {k - 1}, not {cat[:, i].tolist()}")
        return torch.cat([cat.float(), cont], dim=1)

    def generate_with(self, z: Tensor, categorical: Sequence[int] | Tensor = (),
                      continuous: Sequence[float] | Tensor = ()) -> Tensor:
        """Images with the codes set explicitly: what a UI's sliders call.

        ``z``: N×nz noise (or nz numbers for one image; ``torch.randn(nz)`` draws one). ``categorical``:
        one whole number per categorical code, 0 ≤ value < its K (``[3]`` for MNIST's digit code), the
        same for every image, or an N×k tensor. ``continuous``: one number per continuous code, the same
        for every image, or an N×m tensor; training drew them from [-1, 1], and values a little outside
        show where the learned direction leads. Returns N×C×H×W in [-1, 1] on the CPU. Wrong lengths or a
        value out of range raise ValueError.
        """
        z = z.reshape(-1, self.hp.nz) if z.dim() == 1 else z
        try:
            codes = self.make_codes(len(z), categorical, continuous)
        except RuntimeError as exc:  # a reshape or expand that cannot fit: the wrong number of values
            raise ValueError(f"expected {self.n_cat} categorical and {self.n_cont} continuous values per image "
                             f"({exc})") from None
        return self.generate(z, codes)

    def code_samples(self, per_value: int, generator: torch.Generator, chunk: int = 256) -> tuple[Tensor, Tensor]:
        """``per_value`` images for each value of the first categorical code (noise and the other codes
        drawn from the prior): the images and the value that made each. For the code-accuracy metric."""
        if not self.sizes:
            raise ValueError("this InfoGAN has no categorical code")
        values = torch.arange(self.sizes[0]).repeat_interleave(per_value)
        z = torch.randn(len(values), self.hp.nz, generator=generator)
        codes = self.draw_codes(len(values), generator)
        codes[:, 0] = values.float()
        images = torch.cat([self.generate(z[i:i + chunk], codes[i:i + chunk]) for i in range(0, len(values), chunk)])
        return images, values

    # -- checkpoints --------------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"iteration": self.iteration}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.iteration = int(state.get("iteration", 0))
