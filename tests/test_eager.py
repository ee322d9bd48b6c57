"""Building and training a model load no compiler (playground/eager.py): every process that builds a model skips
about 2 s of CPU, and every training about 1 more."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

_BUILD_EVERY_KIND = textwrap.dedent(
    """
    import sys
    import torch
    from playground.config import build_gan_config, build_rl_config
    from playground.gan_training import build_model
    from playground.training import check_buildable

    for algo in ("ppo", "dqn", "sb3-dqn", "a2c", "a3c"):
        check_buildable(build_rl_config(algo, "CartPole-v1", steps=1000))
    shape = {"channels": 1, "channels_b": 1, "classes": list("0123456789")}
    for model in ("dcgan", "cdcgan", "wgan", "infogan"):
        gan = build_model(build_gan_config(model, "digits", iters=1), shape, "cpu")
        for optimizer in gan.optimizers.values():
            optimizer.zero_grad()
            optimizer.load_state_dict(optimizer.state_dict())
    print("compiler loaded by building:", "torch._dynamo" in sys.modules)

    # Stepping works as torch's own step does (grad off inside it, as it was after), loading no compiler either.
    weight = torch.nn.Parameter(torch.ones(3))
    adam = torch.optim.Adam([weight], lr=0.5)
    weight.grad = torch.ones(3)
    with torch.enable_grad():
        adam.step()
        print("grad mode kept:", torch.is_grad_enabled())
    print("stepped:", [round(value, 4) for value in weight.tolist()])
    for optimizer in (torch.optim.Adam([weight], fused=True), torch.optim.RMSprop([weight]), torch.optim.SGD([weight])):
        weight.grad = torch.ones(3)
        optimizer.step()
    print("compiler loaded by stepping:", "torch._dynamo" in sys.modules)
    """
)


def test_building_any_model_loads_no_compiler_and_optimizers_still_step() -> None:
    done = subprocess.run([sys.executable, "-c", _BUILD_EVERY_KIND], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "compiler loaded by building: False" in done.stdout, done.stdout
    assert "grad mode kept: True" in done.stdout, done.stdout
    assert "stepped: [0.5, 0.5, 0.5]" in done.stdout, done.stdout
    assert "compiler loaded by stepping: False" in done.stdout, done.stdout
