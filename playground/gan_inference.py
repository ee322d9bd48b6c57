"""Using a trained GAN: sample a grid, translate a folder of images, measure quality honestly.

Every function loads a run's checkpoint (networks only, ``weights_only``), so it works while the
run trains in another process and after its training data is gone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gans import data as gan_data
from gans import grid, metrics
from gans.base import GanModel
from playground import gan_training, runs
from playground.config import GanConfig, of_run
from playground.errors import DataError, PlaygroundError, RunStateError
from playground.settings import resolve_device
from playground.store import Run, Store, file_sha256, get_store

CHUNK = 64  # images per forward pass when translating or generating many


@dataclass
class Loaded:
    run: Run
    config: GanConfig
    model: GanModel
    step: int
    path: Path
    fixed: dict[str, torch.Tensor]  # the sample grid's inputs, kept in the checkpoint (on the CPU)


def load(ref: str, which: str = "latest", device: str = "auto", store: Store | None = None) -> Loaded:
    """A GAN run's generator(s) from a checkpoint (``latest`` or a step), ready to sample or translate."""
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind != "gan":
        raise RunStateError("gan_inference.not_gan_run", run=run.id, kind=run.kind)
    runs.folder_here(run)  # trained on another machine of a shared store: its checkpoints are there
    _step, path = runs.pick_checkpoint(run, which, store)
    config = of_run(run)
    device = resolve_device(device)
    state = gan_training.read_checkpoint(path, device)
    model = gan_training.build_model(config, state["data"], device)
    gan_training.load_into(model, state, path, for_training=False)
    fixed = {k: v.cpu() for k, v in (state.get("fixed") or {}).items()}
    return Loaded(run, config, model, int(state["step"]), path, fixed)


def _class_labels(model: GanModel, n: int, label: str | None) -> torch.Tensor | None:
    if label is None:
        return None
    if not getattr(model, "classes", 0):
        raise PlaygroundError("gan_inference.label_needs_cdcgan", model=model.name)
    names = list(model.class_names)
    if label not in names:
        raise PlaygroundError("gan_inference.unknown_label", label=label, names=", ".join(names))
    return torch.full((n,), names.index(label), dtype=torch.long)


def sample(ref: str, *, n: int = 64, out: Path | None = None, seed: int = 0, which: str = "latest",
           label: str | None = None, device: str = "auto") -> Path:
    """A grid of new images (DCGAN) or of input | output | target triples (pix2pix, CycleGAN)."""
    if not 1 <= n <= 1024:
        raise PlaygroundError("gan_inference.bad_sample_n", n=n)
    loaded = load(ref, which, device)
    model = loaded.model
    generator = torch.Generator().manual_seed(seed)
    if hasattr(model, "sample"):
        labels = _class_labels(model, n, label)
        images = torch.cat([model.sample(min(CHUNK, n - i), generator, None if labels is None else labels[i:i + CHUNK])
                            for i in range(0, n, CHUNK)])
        columns = len(model.class_names) if getattr(model, "classes", 0) and label is None else math.ceil(n ** 0.5)
    else:
        dataset = gan_training.open_data(loaded.config.model_copy(update={"flip": False}))
        images, columns = model.render(model.fixed_inputs(dataset, n, generator))
    target = out or Path(loaded.run.folder) / "samples" / f"sample-step{loaded.step}-seed{seed}.png"
    if target.suffix.lower() != ".png":
        raise PlaygroundError("gan_inference.out_not_png", name=target.name)
    try:
        return grid.save_png(grid.grid(images, columns), target)
    except OSError as exc:
        raise PlaygroundError("gan_inference.cannot_write_out", path=target, reason=exc.strerror or str(exc)) from None


def translate(ref: str, input_dir: Path, output_dir: Path, *, direction: str | None = None, which: str = "latest",
              device: str = "auto") -> list[Path]:
    """One output image per input image, the same relative names with ``.png``. ``direction`` None
    means the way the model learned (pix2pix) or AtoB (CycleGAN)."""
    if direction not in (None, "AtoB", "BtoA"):
        raise PlaygroundError("gan_inference.bad_direction", direction=direction)
    loaded = load(ref, which, device)
    model = loaded.model
    if not hasattr(model, "translate"):
        raise PlaygroundError("gan_inference.cannot_translate", model=model.name)
    direction = direction or getattr(model.hp, "direction", "AtoB")
    source, target = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    if not source.is_dir():
        raise DataError("gan_inference.input_missing", folder=source)
    inputs = gan_data.list_images(source)
    if not inputs:
        raise DataError("gan_inference.input_empty", folder=source)
    if target.resolve() == source.resolve():
        raise PlaygroundError("gan_inference.output_is_input")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PlaygroundError("gan_inference.cannot_create_output", folder=target,
                              reason=exc.strerror or str(exc)) from None
    # The input side: A for AtoB, B for BtoA (pix2pix refuses the way it did not learn in translate()).
    channels = model.channels if direction == "AtoB" else model.channels_b
    written = []
    for i in range(0, len(inputs), CHUNK):
        chunk = inputs[i:i + CHUNK]
        batch = torch.stack([gan_data.load_image(p, channels, loaded.config.image_size) for p in chunk])
        outputs = model.translate(batch, direction)
        for p, image in zip(chunk, outputs):
            out = (target / p.relative_to(source)).with_suffix(".png")
            try:
                gan_data.save_image(image, out)
            except OSError as exc:
                raise PlaygroundError("gan_inference.cannot_write_image", path=out,
                                      reason=exc.strerror or str(exc)) from None
            written.append(out)
    return written


def _in_chunks(fn: Any, images: torch.Tensor, *args: Any) -> torch.Tensor:
    return torch.cat([fn(images[i:i + CHUNK], *args) for i in range(0, len(images), CHUNK)])


def evaluate(ref: str, *, n: int | None = None, which: str = "latest", seed: int = 0,
             inception_weights: Path | None = None, device: str = "auto", store: Store | None = None,
             progress: metrics.ProgressFn | None = None) -> dict[str, Any]:
    """Fréchet distance and KID of generated (or translated) images against real ones, on a named
    network; pix2pix adds L1 and PSNR to its targets, CycleGAN the cycle L1, InfoGAN on digits the accuracy
    of its first categorical code read as the digit (and the value → digit matching). Stored as an event
    (with the checkpoint's hash) and as ``eval/…`` metrics. ``progress`` hears how the one-off training
    of the playground's feature network goes (the first evaluation waits for it)."""
    store = store or get_store()
    if n is not None and n < 2:
        raise PlaygroundError("gan_inference.bad_eval_n", n=n)
    loaded = load(ref, which, device, store)
    model, config = loaded.model, loaded.config
    dataset = gan_training.open_data(config.model_copy(update={"flip": False}))
    count = min(n or 1000, len(dataset))
    generator = torch.Generator().manual_seed(seed)
    first, second = gan_training.collate(dataset, torch.randperm(len(dataset), generator=generator)[:count].tolist())
    extra: dict[str, float] = {}
    if model.data_kind == "images":
        real = first
        if getattr(model, "classes", 0):  # the real images' class mix
            fake = torch.cat([model.sample(len(chunk), generator, chunk) for chunk in second.split(CHUNK)])
        else:
            fake = torch.cat([model.sample(min(CHUNK, count - i), generator) for i in range(0, count, CHUNK)])
    elif model.name == "pix2pix":
        src, real = (first, second) if model.hp.direction == "AtoB" else (second, first)
        fake = _in_chunks(model.translate, src)
        mse = torch.mean((fake - real) ** 2).item()
        extra = {"l1": torch.mean(torch.abs(fake - real)).item(), "psnr": 10 * math.log10(4.0 / max(mse, 1e-12))}
    else:
        real_a, real = first, second
        fake = _in_chunks(model.translate, real_a, "AtoB")
        back = _in_chunks(model.translate, fake, "BtoA")
        extra = {"cycle_l1": torch.mean(torch.abs(back - real_a)).item()}
    quality = metrics.measure(real, fake, inception_weights=inception_weights, device=str(model.device),
                              progress=progress)
    from gans.infogan import InfoGAN

    codes: dict[str, Any] = {}
    if isinstance(model, InfoGAN) and model.hp.categorical and tuple(model.class_names) == gan_data.DIGIT_CLASSES:
        # Does the first categorical code mean the digit? Its best one-to-one pairing with the digits that
        # the playground's MNIST classifier sees (InfoGAN paper, section 7.2); chance is about 1/10.
        from gans.metrics import code_accuracy

        values, per_value = model.hp.categorical[0], max(1, count // model.hp.categorical[0])
        images, made_with = model.code_samples(per_value, torch.Generator().manual_seed(seed))
        classify = code_accuracy.digit_classifier(str(model.device), progress)
        matching = code_accuracy.code_accuracy(images, made_with, values, classify)
        extra["code_accuracy"] = matching.accuracy
        codes = {"code_matching": list(matching.pairs), "code_chance": 1 / max(values, len(gan_data.DIGIT_CLASSES)),
                 "code_per_value": per_value,
                 # the ceiling: how well the classifier reads this data's real digits (MNIST ~0.98, digits ~0.5)
                 "code_classifier_accuracy": float((classify(real) == second.numpy()).mean())}
    payload = {
        "metric": quality.metric,
        "fd": quality.fd,
        "kid": quality.kid,
        "kid_std": quality.kid_std,
        "n": count,
        "step": loaded.step,
        "checkpoint": str(loaded.path),
        "checkpoint_sha256": file_sha256(loaded.path),
        "dataset": config.data,
        "model": config.model,
        "image_size": config.image_size,
        "network": quality.network,
        "seed": seed,
        **extra,
        **codes,
    }
    store.add_quality(loaded.run.id, payload)
    rows = {"eval/fd": quality.fd, "eval/kid": quality.kid, **{f"eval/{k}": v for k, v in extra.items()}}
    store.add_metrics(loaded.run.id, [(loaded.step, time.time(), k, v) for k, v in rows.items()])
    return payload


def evaluations(run: Run, store: Store | None = None) -> list[dict[str, Any]]:
    """Every ``gan eval`` result of a run, in the order they were measured."""
    found = (store or get_store()).evaluations(run.id, played=False)
    return [e.quality() for e in sorted(found, key=lambda e: e.id or 0)]

