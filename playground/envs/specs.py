"""Environment ids and what they describe, without opening a game or importing the engine.

Users type Gymnasium ids (``ALE/Pong-v5``, ``PongNoFrameskip-v4``, ``CartPole-v1``); a typo or a
missing extra must become one clear sentence, not a traceback from deep inside Gymnasium. The web
app checks ids too, and it never imports ale-py, stable-baselines3 or torch, so the Atari ids are
read from the files ale-py ships (its ROMs, and the list of legacy games in its registration
module) instead of from its import-time registration. Only what the emulator alone knows (a
game's minimal action set) opens the game, on first use.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import inspect
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from playground.errors import BadConfig, MissingDependency, PlaygroundError, UnknownEnvironment

logger = logging.getLogger(__name__)

ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"
BACKENDS = ("auto", "fast", "sb3")

# The observation every Atari agent sees, whichever backend produced it.
ATARI_FRAME_STACK = 4
ATARI_SCREEN = 84
ATARI_FRAME_SKIP = 4
ATARI_NOOP_MAX = 30
ATARI_MAX_FRAMES = 108_000  # 30 minutes of play, the v5 default
ATARI_FPS = 60  # the emulator's frame rate: the game's normal speed
ATARI_OBSERVATION_SPACE = spaces.Box(
    low=0, high=255, shape=(ATARI_FRAME_STACK, ATARI_SCREEN, ATARI_SCREEN), dtype=np.uint8
)
# An env id may carry Gymnasium keyword arguments after it, comma-separated: ``FrozenLake-v1,is_slippery=False``.
# Commas need no quoting in a shell and no Gymnasium id holds one. The whole string is the env's name
# everywhere (runs, challenges, leaderboards): the deterministic lake is another task than the slippery one.
KWARG_SEPARATOR = ","
# Games an agent plays are cut at this many steps when their id sets no limit (CliffWalking-v1 has none,
# and a greedy agent that has learnt nothing yet would walk into a wall for ever).
DEFAULT_MAX_EPISODE_STEPS = 1000

# Sticky actions per id version, as the ALE documents them: v0 and v5 repeat the last action with
# probability 0.25, v4 (and so the RL Zoo's NoFrameskip-v4) never does.
_STICKY = {"v0": 0.25, "v4": 0.0, "v5": 0.25}

# Readable action names for classic tasks, from the Gymnasium documentation of each environment.
CLASSIC_ACTION_NAMES: dict[str, tuple[str, ...]] = {
    "CartPole": ("LEFT", "RIGHT"),
    "MountainCar": ("LEFT", "NONE", "RIGHT"),
    "Acrobot": ("TORQUE -1", "TORQUE 0", "TORQUE +1"),
    "LunarLander": ("NOOP", "LEFT ENGINE", "MAIN ENGINE", "RIGHT ENGINE"),
}

# Readable names for the extras Gymnasium asks for in its DependencyNotInstalled messages.
_EXTRA_NAMES = {
    "box2d": "Box2D",
    "mujoco": "MuJoCo",
    "classic-control": "pygame",
    "classic_control": "pygame",
    "toy-text": "pygame",
    "toy_text": "pygame",
    "atari": "ale-py",
    "other": "extra packages",
}


def register_envs() -> None:
    """Make ale-py's ids visible in Gymnasium's registry, for code that opens Atari games with ``gym.make``.

    Imports ale_py (whose import registers the ids once); ids and specs never need this.
    """
    import ale_py

    gym.register_envs(ale_py)


@dataclass(frozen=True)
class EnvSpec:
    """What the rest of the platform needs to know about an environment, without opening one.

    Equality and hashing use the id-derived fields; the spaces are descriptive only. An Atari
    game's actions are its ROM's minimal action set, which only the emulator knows: they are read
    (once per id) the first time ``action_space`` or ``action_meanings`` is asked for.
    """

    env_id: str  # the whole name: the Gymnasium id and its keyword arguments, as ``canonical_env`` writes them
    game: str
    is_atari: bool
    rom: str | None
    repeat_action_probability: float
    observation_space: gym.Space = field(compare=False)
    _action_space: gym.Space | None = field(default=None, compare=False, repr=False)
    gym_id: str = field(default="", compare=False)  # the registered id alone ("" = env_id)
    kwargs: dict[str, Any] = field(default_factory=dict, compare=False)  # passed to gym.make
    max_episode_steps: int | None = field(default=None, compare=False)  # the id's own limit, when it sets one

    @property
    def registered_id(self) -> str:
        return self.gym_id or self.env_id

    @property
    def action_meanings(self) -> tuple[str, ...] | None:
        """The ROM's own name for each action (Atari); None for other environments."""
        return atari_action_meanings(self.env_id) if self.is_atari else None

    @property
    def action_space(self) -> gym.Space:
        if self._action_space is not None:
            return self._action_space
        return spaces.Discrete(len(self.action_meanings or ()))


def make_kwargs(spec: EnvSpec) -> dict[str, Any]:
    """What ``gym.make(spec.registered_id, ...)`` needs besides the id: the env's keyword arguments and,
    where the id sets no time limit, ours."""
    out = dict(spec.kwargs)
    if not spec.is_atari and spec.max_episode_steps is None:
        out["max_episode_steps"] = DEFAULT_MAX_EPISODE_STEPS
    return out


def make_gym(spec: EnvSpec, **extra: Any) -> gym.Env:
    """One Gymnasium env of a (non-Atari) spec, with its keyword arguments: what trains, scores and is watched."""
    return gym.make(spec.registered_id, **make_kwargs(spec), **extra)


# --------------------------------------------------------------------------------------------
# the Atari ids, from the files ale-py ships


@dataclass(frozen=True)
class AtariId:
    """One id ale-py registers: the ROM it plays and its sticky-action probability."""

    rom: str
    repeat_action_probability: float


def rom_name(rom: str) -> str:
    """``space_invaders`` → ``SpaceInvaders``: the game name in an id (ale-py's own rule)."""
    return rom.title().replace("_", "")


def _ale_package() -> Path | None:
    """ale-py's folder, found without importing it (None when it is not installed)."""
    found = importlib.util.find_spec("ale_py")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _string_list(node: ast.AST) -> list[str] | None:
    if isinstance(node, (ast.List, ast.Set, ast.Tuple)) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]
    return None


def _read_registration(path: Path) -> tuple[list[str], set[str]] | None:
    """From ale-py's registration module, read as text: the legacy (v0/v4) games, and the ROMs left
    without a v5 id (those with no single-player mode). None when the module no longer reads that way."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    legacy: list[str] | None = None
    skipped: set[str] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "legacy_games" for t in node.targets):
            legacy = _string_list(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "register_v5_envs":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Compare) and isinstance(inner.ops[0], ast.In):
                    found = _string_list(inner.comparators[0])
                    if found is not None:
                        skipped = set(found)
    if legacy is None or skipped is None:
        return None
    return legacy, skipped


def _ale_ids_from_registry() -> dict[str, AtariId]:
    """The exact answer, by importing ale-py: used only when its files no longer read as expected."""
    register_envs()
    return {
        env_id: AtariId(str(s.kwargs["game"]), float(s.kwargs.get("repeat_action_probability", 0.25)))
        for env_id, s in gym.registry.items()
        if s.entry_point == ATARI_ENTRY_POINT
    }


@functools.lru_cache(maxsize=1)
def ale_ids() -> dict[str, AtariId]:
    """Every id ale-py registers (``ALE/Pong-v5``, ``PongNoFrameskip-v4``, …), without importing ale-py.

    v5 ids: one per ROM shipped in ``ale_py/roms``; v0/v4 ids (plain and ``NoFrameskip``): the
    legacy games its registration module lists. Empty when ale-py is not installed.
    """
    package = _ale_package()
    if package is None:
        return {}
    registration = _read_registration(package / "registration.py")
    if registration is None:
        logger.info("ale-py's registration module reads differently; asking ale-py itself for its ids")
        return _ale_ids_from_registry()
    legacy, skipped = registration
    out: dict[str, AtariId] = {}
    for rom in sorted(p.stem for p in (package / "roms").glob("*.bin")):
        if rom not in skipped:
            out[f"ALE/{rom_name(rom)}-v5"] = AtariId(rom, _STICKY["v5"])
    for rom in legacy:
        for suffix in ("", "NoFrameskip"):
            for version in ("v0", "v4"):
                out[f"{rom_name(rom)}{suffix}-{version}"] = AtariId(rom, _STICKY[version])
    return out


@functools.lru_cache(maxsize=None)
def atari_action_meanings(env_id: str) -> tuple[str, ...]:
    """The game's minimal action set by name: the one fact that needs the emulator (opened once per id)."""
    register_envs()
    try:
        probe = gym.make(env_id)
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        raise _missing_dependency(env_id, exc) from exc
    try:
        return tuple(probe.unwrapped.get_action_meanings())
    finally:
        probe.close()


# --------------------------------------------------------------------------------------------
# ids


def list_ids(atari_only: bool = False) -> list[str]:
    """Registered ids, sorted; with ``atari_only`` just the ``ALE/…-v5`` games."""
    if atari_only:
        return sorted(i for i in ale_ids() if i.startswith("ALE/") and i.endswith("-v5"))
    return sorted(set(gym.registry) | set(ale_ids()))


def suggestions(env_id: str) -> list[str]:
    """Close known ids, matched case-insensitively so 'cartpole-v1' finds CartPole-v1."""
    by_lower: dict[str, str] = {}
    for known in list_ids():
        by_lower.setdefault(known.lower(), known)
    matches = difflib.get_close_matches(env_id.lower(), list(by_lower), n=1, cutoff=0.6)
    return [by_lower[m] for m in matches]


def _unknown(env_id: str) -> PlaygroundError:
    if env_id.startswith("ALE/") and _ale_package() is None:
        return MissingDependency("envs.needs_ale", env=env_id)
    close = suggestions(env_id)
    if close:
        return UnknownEnvironment("envs.unknown_close", env=env_id, close=close[0])
    return UnknownEnvironment("envs.unknown", env=env_id)



def _missing_dependency(env_id: str, exc: BaseException) -> MissingDependency:
    """Turn Gymnasium's install hint into one sentence that names the pip command."""
    message = str(exc)
    extra = re.search(r"gymnasium\[([\w-]+)\]", message)
    if extra:
        name = extra.group(1)
        what = _EXTRA_NAMES.get(name, name)
        return MissingDependency("envs.needs_extra", env=env_id, what=what, extra=name)
    if "gymnasium-robotics" in message:  # MuJoCo v2/v3 ids left Gymnasium
        return MissingDependency("envs.needs_robotics", env=env_id)
    command = re.search(r"pip install [`'\"]?([\w.\-]+(?:\[[\w.,\-]+\])?)", message)
    if command and command.group(1) != "swig":
        package = command.group(1)
        return MissingDependency("envs.needs_package", env=env_id, package=package)
    module = getattr(exc, "name", None)
    if module:
        return MissingDependency("envs.needs_module", env=env_id, module=module)
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return MissingDependency("envs.needs_something", env=env_id, reason=first_line.rstrip("."))


def _atari_spec(env_id: str, atari: AtariId) -> EnvSpec:
    return EnvSpec(
        env_id=env_id,
        game=rom_name(atari.rom),
        is_atari=True,
        rom=atari.rom,
        repeat_action_probability=atari.repeat_action_probability,
        observation_space=ATARI_OBSERVATION_SPACE,
    )


@functools.lru_cache(maxsize=256)
def resolve(env_id: str) -> EnvSpec:
    """Validate an id and describe the env the trainers will get, so errors surface before a run.

    Atari ids are answered from ale-py's files (the agent's observation is the same for every
    game). Other ids open one probe env (closed before returning), because their spaces are only
    known after construction. Keyword arguments may follow the id (``FrozenLake-v1,is_slippery=False``);
    the spec's ``env_id`` spells them one way. Cached per id.
    """
    if not isinstance(env_id, str):
        raise _unknown(str(env_id))
    gym_id, _sep, rest = env_id.partition(KWARG_SEPARATOR)
    gym_id = gym_id.strip()
    atari = ale_ids().get(gym_id)
    if atari is not None:
        if rest:
            raise BadConfig("envs.atari_no_kwargs", env=env_id, id=gym_id)
        return _atari_spec(gym_id, atari)
    if gym_id not in gym.registry:
        raise _unknown(gym_id)
    gspec = gym.spec(gym_id)
    if gspec.entry_point == ATARI_ENTRY_POINT:  # an ALE id registered by other code
        if rest:
            raise BadConfig("envs.atari_no_kwargs", env=env_id, id=gym_id)
        sticky = float(gspec.kwargs.get("repeat_action_probability", 0.25))
        return _atari_spec(gym_id, AtariId(str(gspec.kwargs["game"]), sticky))
    kwargs = _env_kwargs(gym_id, gspec, rest) if rest else {}
    try:
        probe = gym.make(gym_id, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise _missing_dependency(gym_id, exc) from exc
    except ImportError as exc:  # entry points that import optional packages
        raise _missing_dependency(gym_id, exc) from exc
    except Exception as exc:  # the env's own constructor refused a keyword argument's value
        if not kwargs:
            raise
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise BadConfig("envs.kwargs_refused", env=env_id, reason=reason) from None
    try:
        observation_space = probe.observation_space
        action_space = probe.action_space
    finally:
        probe.close()
    return EnvSpec(
        env_id=canonical_env(gym_id, kwargs),
        game=gspec.name,
        is_atari=False,
        rom=None,
        repeat_action_probability=0.0,
        observation_space=observation_space,
        _action_space=action_space,
        gym_id=gym_id,
        kwargs=kwargs,
        max_episode_steps=gspec.max_episode_steps,
    )


def _read_kwarg(raw: str) -> Any:
    """``False``, ``false``, ``0.5``, ``8x8``: booleans and numbers as such, the rest as text."""
    text = raw.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def _write_kwarg(value: Any) -> str:
    return repr(value) if isinstance(value, (bool, float)) or value is None else str(value)


def canonical_env(gym_id: str, kwargs: dict[str, Any]) -> str:
    """The one spelling of an id with keyword arguments: sorted keys, Python's words for booleans."""
    return KWARG_SEPARATOR.join([gym_id, *(f"{key}={_write_kwarg(kwargs[key])}" for key in sorted(kwargs))])


def env_defaults(gym_id: str) -> dict[str, Any]:
    """The keyword arguments an id's env takes and the value each has when nobody sets it (the id's own
    registration first, then the constructor's defaults); ``render_mode`` is the viewer's, not a setting."""
    gspec = gym.spec(gym_id)
    defaults: dict[str, Any] = {}
    entry = gspec.entry_point
    if isinstance(entry, str):
        try:
            entry = gym.envs.registration.load_env_creator(entry)
        except (ImportError, AttributeError, ValueError):
            entry = None
    if entry is not None:
        try:
            signature = inspect.signature(entry)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            for name, parameter in signature.parameters.items():
                if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) or name == "render_mode":
                    continue
                defaults[name] = None if parameter.default is parameter.empty else parameter.default
    defaults.update(gspec.kwargs)
    return defaults


def _env_kwargs(gym_id: str, gspec: gym.envs.registration.EnvSpec, text: str) -> dict[str, Any]:
    """``is_slippery=False,map_name=8x8`` into keyword arguments the env takes, without those equal to its
    defaults (so ``FrozenLake-v1,map_name=4x4`` is ``FrozenLake-v1``)."""
    defaults = env_defaults(gym_id)
    kwargs: dict[str, Any] = {}
    for pair in text.split(KWARG_SEPARATOR):
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadConfig("envs.bad_kwarg", pair=pair, env=gym_id)
        if key not in defaults or key in ("max_episode_steps",):
            known = ", ".join(sorted(k for k in defaults if k != "max_episode_steps")) or "-"
            raise BadConfig("envs.unknown_kwarg", key=key, env=gym_id, known=known)
        value = _read_kwarg(raw)
        if value != defaults[key] or type(value) is not type(defaults[key]):
            kwargs[key] = value
        else:
            kwargs.pop(key, None)  # a later pair that puts a value back to its default
    return kwargs


def check_env_args(n_envs: int, backend: str) -> None:
    """The arguments every env factory takes, checked before anything opens."""
    if backend not in BACKENDS:
        raise BadConfig("envs.bad_backend", backend=backend, choices=", ".join(BACKENDS))
    if not isinstance(n_envs, int) or n_envs < 1:
        raise BadConfig("envs.bad_n_envs", n_envs=repr(n_envs))


def action_names(spec: EnvSpec) -> list[str]:
    """A name per discrete action (Atari: the ROM's own meanings); continuous actions get a0, a1, …"""
    if spec.action_meanings is not None:
        return list(spec.action_meanings)
    space = spec.action_space
    if isinstance(space, spaces.Discrete):
        known = CLASSIC_ACTION_NAMES.get(spec.game)
        if known is not None and len(known) == int(space.n):
            return list(known)
        return [f"action {i}" for i in range(int(space.n))]
    shape = getattr(space, "shape", None) or (1,)
    return [f"a{i}" for i in range(int(np.prod(shape)))]
