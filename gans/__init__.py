"""GAN models behind one interface, found by name.

Adding a model touches its own file and one line here.
"""

from __future__ import annotations

import difflib

from gans.base import GanModel
from playground.errors import BadConfig
from playground.i18n import Words


def _registry() -> dict[str, type[GanModel]]:
    import playground.eager  # noqa: F401  (before any model: its optimizer then skips loading torch's compiler)
    from gans.cyclegan import CycleGAN
    from gans.dcgan import DCGAN, ConditionalDCGAN
    from gans.infogan import InfoGAN
    from gans.pix2pix import Pix2Pix
    from gans.wgan import WGAN

    return {"dcgan": DCGAN, "cdcgan": ConditionalDCGAN, "pix2pix": Pix2Pix, "cyclegan": CycleGAN,
            "wgan": WGAN, "infogan": InfoGAN}


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> type[GanModel]:
    registry = _registry()
    key = (name or "").lower()
    if key not in registry:
        close = difflib.get_close_matches(key, registry, n=1)
        hint = Words("gans.did_you_mean", name=close[0]) if close else ""
        raise BadConfig("gans.unknown_model", name=name, hint=hint, choices=", ".join(registry))
    return registry[key]
