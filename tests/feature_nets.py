"""The GAN metrics' feature networks (``FD-mnist``, ``FD-atari``: gans/metrics/own_networks.py), trained once per
test run with their real recipes and copied into the homes of the tests that measure with them.

Why: a first ``gan eval`` in a fresh home trains its network (about 17 s for mnist, 30 s for atari on 2 cores);
this makes it one training per run instead of one per test. Tests about that training itself (its progress, its
cache) use ``quick_mnist_recipe`` instead: the same network trained for a few steps.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

# Frames per Atari game the atari network is trained on (PLAYGROUND_ATARI_FRAMES; the default 2,000 would take
# minutes): what tests/test_gan_metrics.py measures Atari frames with.
ATARI_FRAMES = "100"


# The fixtures below that hand out the run's networks: tests that use them share one test process.
_USERS = {"feature_nets", "mnist_net_home", "atari_net_home"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (its own hook, in each test process)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` (``make test``), the tests that measure with the run's feature networks go to one
    test process: while one trains a network (20-40 s on 2 cores), a test needing it in another process would only
    wait on its lock, holding a core idle."""
    for item in items:
        if _USERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("feature_nets"))


@pytest.fixture(scope="session")
def feature_nets(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[Path, Path]]:
    """``feature_nets(name)``: the cache files of the network ``name`` ("mnist" or "atari"), each by its path
    inside a home, trained on first use into a folder that every pytest-xdist worker of the run shares (under a
    file lock): one worker trains it, the others wait for it and reuse it."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-feature-nets"
    root.mkdir(exist_ok=True)
    made: dict[str, dict[Path, Path]] = {}

    def files(name: str) -> dict[Path, Path]:
        if name not in made:
            from gans import metrics
            from gans.metrics.own_networks import _cache_paths
            from playground import settings

            shared_home = root / name
            with FileLock(str(root / f"{name}.lock")), pytest.MonkeyPatch.context() as mp:
                mp.setenv("PLAYGROUND_HOME", str(shared_home))
                mp.delenv("PLAYGROUND_DB", raising=False)
                mp.setenv("PLAYGROUND_ATARI_FRAMES", ATARI_FRAMES)
                metrics.feature_network(1, name=name)  # the real recipe: from the shared cache, else trained now
                made[name] = {path.relative_to(settings.home()): path for path in _cache_paths(name)}
        return made[name]

    return files


def _install(files: dict[Path, Path], home: Path) -> Path:
    """Copy a network's cache files into ``home``, where ``gans.metrics`` looks for them."""
    for inside, path in files.items():
        target = home / inside
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return home


@pytest.fixture
def mnist_net_home(feature_nets: Callable[[str], dict[Path, Path]], home: Path) -> Path:
    """This test's home, with the run's trained mnist network in its cache."""
    return _install(feature_nets("mnist"), home)


@pytest.fixture
def atari_net_home(feature_nets: Callable[[str], dict[Path, Path]], home: Path) -> Path:
    """This test's home, with the run's trained atari network in its cache."""
    return _install(feature_nets("atari"), home)


@pytest.fixture
def quick_mnist_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mnist feature network trained for a few large steps, not its full three epochs: for tests of how it is
    trained, cached and reported, which do not measure with it."""
    from gans import metrics

    recipe = metrics._RECIPES["mnist"]
    monkeypatch.setitem(metrics._RECIPES, "mnist", dataclasses.replace(recipe, epochs=1, min_steps=1, batch_size=1024))
