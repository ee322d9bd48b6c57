"""PPO, A2C and DQN (as ``sb3-dqn``) through stable-baselines3, behind the playground's agent interface.

Checkpoints are SB3's own zip format, so models trained with RL Baselines3 Zoo load here and ours
load there. Loading never unpickles: the model is rebuilt from our config, and only the
``.pth`` members (tensors, read with ``weights_only=True``) and the plain JSON fields of ``data``
are read. Where a foreign zip pickled its ``policy_kwargs``, a restricted unpickler resolves
only a short list of known classes.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import pickle
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import CategoricalDistribution, Distribution
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticCnnPolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.common.type_aliases import RolloutBufferSamples
from stable_baselines3.common.utils import LinearSchedule
from torch import nn

from agents.base import Agent, OffPolicyKeys, Thought, TrainingHooks, check_schedule, checkpoint_archive
from agents.frames import SCALE, as_rows, channels_last, from_rows, pack_rows, packing, rows_of, through, through_known
from agents.precision import cpu_has_bfloat16
from playground import threads
from playground.atomic import atomic_write
from playground.errors import BadConfig, CheckpointError, IncompatibleEnvironment
from playground.i18n import Words

log = logging.getLogger(__name__)

META_MEMBER = "playground.json"

# -- hyperparameters ---------------------------------------------------------------------------

Schedule = float | str


class _PolicyKeys(BaseModel):
    """policy_kwargs, flattened so that ``--set`` and YAML can name each one.

    Strict: ``n_epochs=true`` or ``n_steps=2.5`` is an error, not a silent 1 or 2.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    net_arch: list[int] | dict[str, list[int]] | None = None
    activation_fn: Literal["tanh", "relu"] | None = None
    ortho_init: bool | None = None
    optimizer: Literal["adam", "rmsprop", "rmsprop_tf_like"] | None = None
    optimizer_eps: float | None = Field(default=None, gt=0)


class _OnPolicyKeys(_PolicyKeys):
    learning_rate: Schedule = 3e-4
    n_steps: int = Field(default=2048, gt=0)
    gamma: float = Field(default=0.99, gt=0, le=1)
    gae_lambda: float = Field(default=0.95, ge=0, le=1)
    ent_coef: float = Field(default=0.0, ge=0)
    vf_coef: float = Field(default=0.5, ge=0)
    max_grad_norm: float = Field(default=0.5, gt=0)
    normalize_advantage: bool | None = None

    _schedules = field_validator("learning_rate")(check_schedule)


class PPOHyperparameters(_OnPolicyKeys):
    batch_size: int = Field(default=64, gt=1)
    n_epochs: int = Field(default=10, gt=0)
    clip_range: Schedule = 0.2
    clip_range_vf: float | None = None
    target_kl: float | None = None

    _clip = field_validator("clip_range")(check_schedule)


class A2CHyperparameters(_OnPolicyKeys):
    n_steps: int = Field(default=5, gt=0)
    gae_lambda: float = Field(default=1.0, ge=0, le=1)
    rms_prop_eps: float = Field(default=1e-5, gt=0)
    use_rms_prop: bool = True
    learning_rate: Schedule = 7e-4


class DQNHyperparameters(_PolicyKeys, OffPolicyKeys):
    """SB3's DQN: the settings it shares with ours (``OffPolicyKeys``), its policy keys, and its memory option."""

    optimize_memory_usage: bool = False


_ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
_OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "rmsprop_tf_like": RMSpropTFLike}
_POLICY_KEYS = set(_PolicyKeys.model_fields)


def sb3_kwargs(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """Our validated, flattened hyperparameters → keyword arguments for the SB3 constructor."""
    kwargs: dict[str, Any] = {}
    policy_kwargs: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        if value is None:
            continue
        if key == "net_arch":
            policy_kwargs["net_arch"] = value
        elif key == "activation_fn":
            policy_kwargs["activation_fn"] = _ACTIVATIONS[value]
        elif key == "ortho_init":
            policy_kwargs["ortho_init"] = value
        elif key == "optimizer":
            policy_kwargs["optimizer_class"] = _OPTIMIZERS[value]
        elif key == "optimizer_eps":
            policy_kwargs.setdefault("optimizer_kwargs", {})["eps"] = value
        elif isinstance(value, str) and value.startswith("lin_"):
            # lin_X: X at the start, 0 at the end; SB3's own class clamps the overshoot of the last
            # rollout and unpickles anywhere SB3 is installed.
            kwargs[key] = LinearSchedule(float(value[4:]), 0.0, 1.0)
        else:
            kwargs[key] = value
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


# -- reading checkpoints without unpickling ------------------------------------------------------


@dataclass
class CheckpointInfo:
    """The plain JSON fields of an SB3 zip's ``data`` member, and our own metadata if present."""

    data: dict[str, Any]
    meta: dict[str, Any]
    members: list[str]

    @property
    def step(self) -> int:
        return int(self.meta.get("step", self.data.get("num_timesteps", 0)))


def read_checkpoint(path: Path) -> CheckpointInfo:
    """Check that ``path`` is a whole SB3 zip and read what can be read without pickle."""
    with checkpoint_archive(path, ["policy.pth"], Words("agents.what_sb3_model")) as archive:
        members = archive.namelist()
        data = json.loads(archive.read("data").decode()) if "data" in members else {}
        meta = json.loads(archive.read(META_MEMBER).decode()) if META_MEMBER in members else {}
    plain = {k: v for k, v in data.items() if not (isinstance(v, dict) and ":serialized:" in v)}
    if isinstance(data.get("policy_kwargs"), dict) and ":serialized:" in data["policy_kwargs"]:
        plain["policy_kwargs"] = _restricted_loads(data["policy_kwargs"][":serialized:"])
    return CheckpointInfo(data=plain, meta=meta, members=members)


_ALLOWED_GLOBALS = {
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("collections", "OrderedDict"),
    ("torch.nn.modules.activation", "ReLU"),
    ("torch.nn.modules.activation", "Tanh"),
    ("torch.nn.modules.activation", "ELU"),
    ("torch.nn.modules.activation", "LeakyReLU"),
    ("torch.optim.adam", "Adam"),
    ("torch.optim.rmsprop", "RMSprop"),
    ("torch.optim.sgd", "SGD"),
    ("stable_baselines3.common.sb2_compat.rmsprop_tf_like", "RMSpropTFLike"),
    ("stable_baselines3.common.torch_layers", "NatureCNN"),
    ("stable_baselines3.common.torch_layers", "FlattenExtractor"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not on the list of classes we load")


def _restricted_loads(serialized: str) -> dict[str, Any]:
    """policy_kwargs that SB3 pickled (they name classes such as ``nn.ReLU``), read safely."""
    try:
        value = _RestrictedUnpickler(io.BytesIO(base64.b64decode(serialized))).load()
    except Exception as exc:  # noqa: BLE001 - any failure here means: we will not load it
        raise CheckpointError("agents.policy_settings_refused", reason=str(exc)) from None
    if not isinstance(value, dict):
        raise CheckpointError("agents.policy_settings_not_dict")
    return value


def _policy_kwargs_to_keys(policy_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Foreign policy_kwargs → our flattened keys, so an imported model is rebuilt like ours."""
    names = {cls: name for name, cls in _ACTIVATIONS.items()}
    optimizers = {cls: name for name, cls in _OPTIMIZERS.items()}
    out: dict[str, Any] = {}
    for key, value in policy_kwargs.items():
        if key == "net_arch":
            out["net_arch"] = value
        elif key == "activation_fn" and value in names:
            out["activation_fn"] = names[value]
        elif key == "ortho_init":
            out["ortho_init"] = bool(value)
        elif key == "optimizer_class" and value in optimizers:
            out["optimizer"] = optimizers[value]
        elif key == "optimizer_kwargs" and isinstance(value, dict) and "eps" in value:
            out["optimizer_eps"] = float(value["eps"])
        elif key in ("features_extractor_class", "normalize_images") or value is None:
            continue
        else:
            raise CheckpointError("agents.policy_setting_unknown", key=key, value=repr(value))
    return out


# -- the SB3 side of training: callback and logger -----------------------------------------------


class _HooksCallback(BaseCallback):
    """Forwards SB3's steps and finished games to the platform's hooks."""

    def __init__(self, agent: SB3Agent, hooks: TrainingHooks) -> None:
        super().__init__()
        self.agent = agent
        self.hooks = hooks

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")
            if episode is not None:
                self.hooks.episode(self.num_timesteps, float(episode["r"]), int(episode["l"]))
        return self.hooks.on_step(self.num_timesteps, self.agent, self.agent.save)


class _HooksWriter(KVWriter):
    """SB3's logger output that lands in our store (through the hooks) instead of stdout."""

    def __init__(self, hooks: TrainingHooks) -> None:
        self.hooks = hooks

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        values = {
            k: float(v)
            for k, v in key_values.items()
            if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)
        }
        if values:
            self.hooks.log(step, values)

    def close(self) -> None:
        pass


# -- the agents ----------------------------------------------------------------------------------


class Acted(NamedTuple):
    """What an acting call on frames keeps for the rollout buffer (:meth:`FrameFeatures.acted_on`)."""

    frames: torch.Tensor  # the frames it acted on, as given
    rows: torch.Tensor | None  # the same frames as rows of channels-last memory (N x H x W x C); None off the CPU
    weights: tuple[int, ...] | None  # where the weights stood (FrameFeatures.weights), with the outputs
    outputs: list[torch.Tensor] | None  # its ReLUs' outputs, while the extractor keeps them (keeps_acting)


class FrameFeatures(NatureCNN):
    """SB3's NatureCNN (the same layers under the same names, so the weights are interchangeable) fed uint8 frames:
    they go straight to the compute format, channels last, with the 1/255 in the first convolution's weights
    (``agents/frames.py``), under bfloat16 autocast when ``bfloat16``; float32 goes on. Floating-point input
    (SB3's own preprocessing, on the paths :class:`FramePolicy` leaves to it) is taken as scaled already.

    Acting (no gradient) on frames in bfloat16 uses a bfloat16 copy of the weights, made again only after they
    change: autocast would cast all 1.7M weights on every call, a third of a forward pass for the 8 frames of one
    step (0.85 ms against 0.58 ms on a 2-core Xeon). The copy computes the very numbers autocast does.

    Acting on frames on the CPU turns them into rows of channels-last memory first (the order the convolutions take),
    and keeps those rows until the next call, for the rollout buffer (:meth:`acted_on`), which would otherwise reorder
    the same frames again to pack them. While ``keeps_acting``, acting also keeps its layers' outputs, and the update
    can be given them back (:meth:`replay`): A2C's one gradient step per rollout then computes no forward pass of the
    CNN, whose layers acting ran with the same weights on the same frames."""

    def __init__(self, observation_space: Any, features_dim: int = 512, bfloat16: bool = False) -> None:
        super().__init__(observation_space, features_dim)
        self.bfloat16 = bfloat16
        self.keeps_acting = False
        # Outside the module tree and its state: (what the weights were when copied, bfloat16 copy); what the last
        # acting call kept (Acted); the outputs handed back for the next forward pass on given frames.
        self.__dict__["_acting"] = None
        self.__dict__["_kept"] = None
        self.__dict__["_replay"] = None
        self.__dict__["_changes"] = 0  # counted by weights_changed(): optimizer steps, loads
        # the layers that hold weights, in parameters() order: parameters() walks the module tree, 8 us a walk, and
        # every acting call needs the weights' version counters
        self.__dict__["_layers"] = tuple(m for m in self.modules() if m._parameters)
        self.register_load_state_dict_post_hook(lambda module, _keys: module.weights_changed())

    def weights_changed(self) -> None:
        """Something changed the weights (FramePolicy calls this after every optimizer step: a fused Adam updates
        them without bumping the tensors' version counters); the acting copy is made again before its next use."""
        self.__dict__["_changes"] += 1

    def weights(self) -> tuple[int, ...]:
        """Where the weights stand: equal tuples, equal weights. In-place changes bump the tensors' version
        counters, except inside fused optimizers: those count in ``weights_changed``."""
        return self._versions(self._weights())

    def _versions(self, weights: list[torch.Tensor]) -> tuple[int, ...]:
        return (self.__dict__["_changes"], *(w._version for w in weights))

    def _weights(self) -> list[torch.Tensor]:
        return [w for layer in self.__dict__["_layers"] for w in layer._parameters.values() if w is not None]

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        replay, self.__dict__["_replay"] = self.__dict__["_replay"], None
        if replay is not None and replay[0] is observations and replay[1] == self.weights():
            dtype = torch.bfloat16 if self.bfloat16 else torch.float32
            return through_known((self.cnn, self.linear), observations, replay[2], dtype).float()
        if torch.is_grad_enabled() or observations.dtype != torch.uint8:
            if not self.bfloat16:
                return self.linear(through(self.cnn, observations))
            if not torch.is_grad_enabled():  # frames SB3 scaled (predict_values: each rollout's bootstrap value)
                # what autocast computes, with the acting copy's weights instead of casting all 1.7M on every call
                scaled = observations.contiguous(memory_format=torch.channels_last).to(torch.bfloat16)
                return through(self._acting_copy(scaled=True), scaled).float()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.linear(through(self.cnn, observations)).float()
        keep: list[torch.Tensor] | None = [] if self.keeps_acting else None
        rows = rows_of(observations) if observations.device.type == "cpu" else None
        frames = observations if rows is None else from_rows(rows)  # the same frames, channels last
        if self.bfloat16:
            features = through(self._acting_copy(), frames, folded=True, keep=keep).float()
        else:
            features = through((self.cnn, self.linear), frames, keep=keep)
        self.__dict__["_kept"] = Acted(observations, rows, None if keep is None else self.weights(), keep)
        return features

    def acted_on(self, frames: np.ndarray) -> Acted | None:
        """What the last acting call kept, if it acted on ``frames`` (the very array: on the CPU SB3 acts on a tensor
        sharing the memory of the frames it then stores); None if not, or if it was handed out already."""
        kept, self.__dict__["_kept"] = self.__dict__["_kept"], None
        if kept is None or kept.frames.data_ptr() != frames.ctypes.data or tuple(kept.frames.shape) != frames.shape:
            return None
        return kept

    def replay(self, frames: torch.Tensor, weights: tuple[int, ...], outputs: list[torch.Tensor]) -> None:
        """The next forward pass, if it is on ``frames`` (this very tensor) with the weights still at ``weights``,
        takes ``outputs`` (its ReLUs' outputs, from acting) instead of computing its layers."""
        self.__dict__["_replay"] = (frames, weights, outputs)

    def _acting_copy(self, scaled: bool = False) -> nn.Sequential:
        """cnn and linear in bfloat16, the first convolution's weights holding the 1/255 (``through(folded=True)``);
        ``scaled``: the same layers but a first convolution with the weights as they are, for frames scaled
        already. Made again only after the weights change."""
        weights = self._weights()
        versions = self._versions(weights)
        acting = self.__dict__["_acting"]
        if acting is None or acting[1][0][0].weight.device != weights[0].device:
            copy = deepcopy(nn.Sequential(self.cnn, self.linear)).to(torch.bfloat16).requires_grad_(False)
            copy = channels_last(copy)
            first = copy[0][0]
            as_is = deepcopy(first)
            as_is.bias = first.bias  # one bias for both
            acting = (None, copy, nn.Sequential(nn.Sequential(as_is, *copy[0][1:]), *copy[1:]))
        if acting[0] != versions:
            first, as_is = acting[1][0][0], acting[2][0][0]
            with torch.no_grad():
                for mine, theirs in zip(acting[1].parameters(), weights, strict=True):
                    mine.copy_(theirs * SCALE if mine is first.weight else theirs)
                as_is.weight.copy_(self.cnn[0].weight)
            acting = (versions, *acting[1:])
        self.__dict__["_acting"] = acting
        return acting[2] if scaled else acting[1]


class FramePolicy(ActorCriticCnnPolicy):
    """SB3's CnnPolicy, except that acting and training hand the frames to the extractor as bytes: SB3 would first
    widen each batch to float32 and divide it (a sixth of an update's time for PPO's batches of 256)."""

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        channels_last(self)  # after SB3's orthogonal init, which needs the plain order; same Parameter objects
        extractors = [m for m in self.modules() if isinstance(m, FrameFeatures)]

        def changed(*_: Any) -> None:
            for extractor in extractors:
                extractor.weights_changed()

        self.optimizer.register_step_post_hook(changed)

    def forward(  # type: ignore[override]
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SB3's forward, for discrete actions without building torch's Categorical, whose checks and objects took
        a fifth of each acting call: the same normalized logits, the same draw from the same random stream."""
        if not isinstance(self.action_dist, CategoricalDistribution) or not self.share_features_extractor:
            return super().forward(obs, deterministic)
        latent_pi, latent_vf = self.mlp_extractor(self.extract_features(obs))
        logits = self.action_net(latent_pi)
        logits = logits - logits.logsumexp(dim=-1, keepdim=True)
        probs = torch.softmax(logits, dim=-1)
        actions = probs.argmax(dim=1) if deterministic else torch.multinomial(probs, 1, True).T.reshape(-1)
        log_prob = logits.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        return actions.reshape((-1, *self.action_space.shape)), self.value_net(latent_vf), log_prob

    def extract_features(  # type: ignore[override]
        self, obs: torch.Tensor, features_extractor: BaseFeaturesExtractor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.share_features_extractor:
            return (features_extractor or self.features_extractor)(obs)
        return self.pi_features_extractor(obs), self.vf_features_extractor(obs)

    # SB3's own widens the frames to float32 first (it calls the base class's extract_features): bytes go in here
    # too, so that predict() (rl eval, watch, the evaluations during training) acts on the bfloat16 copy, with the
    # numbers training acts with. SB3's predict_values, which gives each rollout's bootstrap value, keeps SB3's
    # float32 frames: bytes there moved that value by a rounding (up to 0.002 on Pong), and A2C's learning with it.
    # The extractor gives such frames autocast's very numbers, from the bfloat16 copy (FrameFeatures.forward).
    def get_distribution(self, obs: torch.Tensor) -> Distribution:  # type: ignore[override]
        return self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(self.pi_features_extractor(obs)))


class FrameRolloutBuffer(RolloutBuffer):
    """SB3's rollout buffer, handing PPO's and A2C's updates their frame stacks the way FramePolicy takes them
    fastest: packed once per rollout (:func:`agents.frames.pack`: channels last, 4x4 tiles of pixels folded into the
    channels for the first convolution), where every minibatch of every epoch would otherwise reorder its own
    copy. A minibatch is then a gather of contiguous rows. PPO's update on Pong, 16 minibatches of 256 on a 2-core
    Zen 5 EPYC: about 440 against 490 ms per rollout (docs/benchmarks.md). The other arrays are SB3's, untouched.

    The frames are stored as rows of channels-last memory (steps x envs x H x W x C), which the ``acting`` extractor
    (set by the agent) made of each step's frames already (:meth:`FrameFeatures.acted_on`): packing then only folds
    the tiles. While that extractor ``keeps_acting`` (A2C), each step also keeps its layers' outputs, and each
    minibatch hands them back to the extractor for its forward pass, gathered like the frames: nothing is computed
    twice while the weights stay those that acted (the extractor checks), which for A2C's one gradient step per
    rollout is always."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.block = 1  # the tile size (agents.frames.packing); SB3Agent sets it from the policy's first convolution
        self.acting: FrameFeatures | None = None
        self._frames: torch.Tensor | None = None  # packed, time-major rows: row t * n_envs + e
        self._acted: list[tuple[tuple[int, ...], list[torch.Tensor]] | None] = []  # per step, from acting
        self._known: tuple[tuple[int, ...], list[torch.Tensor]] | None = None  # stacked rows, like _frames
        super().__init__(*args, **kwargs)

    def reset(self) -> None:
        super().reset()
        channels, height, width = self.obs_shape
        self.observations = np.zeros((self.buffer_size, self.n_envs, height, width, channels), self.observations.dtype)
        self._frames, self._acted, self._known = None, [], None

    def add(self, obs: np.ndarray, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        acted = self.acting.acted_on(obs) if self.acting is not None else None
        rows = acted.rows if acted is not None and acted.rows is not None else rows_of(torch.as_tensor(obs))
        if self.acting is not None and self.acting.keeps_acting:
            self._acted.append(None if acted is None or acted.outputs is None else (acted.weights, acted.outputs))
        super().add(rows.numpy(), *args, **kwargs)

    def get(self, batch_size: int | None = None) -> Iterator[RolloutBufferSamples]:
        if not self.generator_ready:  # first call on this rollout: pack the frames, let SB3 flatten the rest
            steps, envs = self.observations.shape[:2]
            rows = torch.from_numpy(self.observations).reshape(steps * envs, *self.observations.shape[2:])
            self._frames = pack_rows(rows, self.block)  # N x H' x W' x C', contiguous rows
            self.observations = np.empty((steps, envs, 0), dtype=self.observations.dtype)  # nothing to flatten
            acted = [a for a in self._acted if a is not None]
            if len(acted) == steps and all(weights == acted[0][0] for weights, _outputs in acted):
                layers = zip(*(outputs for _weights, outputs in acted))
                self._known = acted[0][0], [torch.cat([as_rows(step) for step in layer]) for layer in layers]
            self._acted = []
        yield from super().get(batch_size)

    def _get_samples(self, batch_inds: np.ndarray, env: Any = None) -> RolloutBufferSamples:
        assert self._frames is not None, "frames are packed by get()"
        # SB3 numbers the samples env by env (index e * steps + t); the packed rows go step by step
        rows = torch.from_numpy((batch_inds % self.buffer_size) * self.n_envs + batch_inds // self.buffer_size)
        frames = from_rows(self._frames.index_select(0, rows)).to(self.device)
        if self._known is not None and self.acting is not None:
            weights, known = self._known
            self.acting.replay(frames, weights, [from_rows(layer.index_select(0, rows)) for layer in known])
        return super()._get_samples(batch_inds, env)._replace(observations=frames)  # SB3's own for the rest


# The most samples of acting's layer outputs a rollout keeps for its update (43 kB each in bfloat16, 86 kB in float32
# for Atari's frames): A2C's preset keeps 80; a rollout too big for this computes its forward pass as before.
_KEEP_AT_MOST = 4096

# What a saved zip names instead of our classes, so that plain SB3 and RL Baselines3 Zoo load it as their own.
_SAVED_AS = {FramePolicy: ActorCriticCnnPolicy}
_OURS_ONLY_POLICY_KWARGS = ("features_extractor_class", "features_extractor_kwargs")


@contextmanager
def _as_plain_sb3(model: BaseAlgorithm) -> Iterator[None]:
    """While saving: the model names SB3's own policy and settings, none of ours, so that plain SB3 and RL Baselines3
    Zoo load the zip as one of theirs (the weights are the same either way)."""
    policy_class, policy_kwargs = model.policy_class, model.policy_kwargs
    buffer_class = getattr(model, "rollout_buffer_class", None)
    plain = {k: v for k, v in policy_kwargs.items() if k not in _OURS_ONLY_POLICY_KWARGS}
    optimizer_kwargs = {k: v for k, v in plain.pop("optimizer_kwargs", {}).items() if k != "fused"}
    if optimizer_kwargs:
        plain["optimizer_kwargs"] = optimizer_kwargs
    model.policy_class, model.policy_kwargs = _SAVED_AS.get(policy_class, policy_class), plain
    if buffer_class is FrameRolloutBuffer:
        model.rollout_buffer_class = RolloutBuffer
    try:
        yield
    finally:
        model.policy_class, model.policy_kwargs = policy_class, policy_kwargs
        if buffer_class is FrameRolloutBuffer:
            model.rollout_buffer_class = buffer_class


class SB3Agent(Agent):
    algo_class: ClassVar[type[BaseAlgorithm]]
    # Actor-critics on frames take FramePolicy: bytes into the CNN, channels last, a fused Adam; and the CNN under
    # bfloat16 autocast on CPUs with native bfloat16 (weights, optimizer and losses stay float32).
    frame_policy: ClassVar[bool] = True
    cpu_bfloat16: ClassVar[bool] = True
    # SB3 dumps its logger every `log_interval` iterations (episodes for DQN); aim for ~1k steps.
    log_every_steps: ClassVar[int] = 1000
    # The update takes the CNN's outputs from acting instead of computing them again (FrameRolloutBuffer): for
    # algorithms whose every rollout meets the weights that acted on it in its first forward pass only (A2C).
    update_reuses_acting: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model: BaseAlgorithm | None = None
        self._tensorboard_dir: Path | None = None

    # building and loading
    def _policy(self) -> str:
        return "CnnPolicy" if is_image_space(self.spec.observation_space) else "MlpPolicy"

    def _construct(
        self, *, for_training: bool, tensorboard_dir: Path | None, n_envs: int | None = None
    ) -> BaseAlgorithm:
        kwargs = sb3_kwargs(self.hyperparameters)
        n_envs = n_envs or (self.n_envs if for_training else 1)
        playing = not for_training and n_envs == 1
        if playing and "buffer_size" in kwargs:
            kwargs["buffer_size"] = 1  # playing needs no replay memory
        if playing and "batch_size" in kwargs and "n_steps" in kwargs:
            # One env fills no rollout of the run's size; without this PPO warns of truncated mini-batches
            # on every `watch` and `rl eval`, though playing never takes a mini-batch.
            kwargs["batch_size"] = min(kwargs["batch_size"], kwargs["n_steps"])
        env = self.make_env(n_envs, self.seed)
        self._tensorboard_dir = tensorboard_dir
        policy: str | type[ActorCriticCnnPolicy] = self._policy()
        if self._use_frame_policy():
            policy = FramePolicy
            policy_kwargs = kwargs.setdefault("policy_kwargs", {})
            policy_kwargs.setdefault("net_arch", [])  # SB3 adds no layers after NatureCNN, but would after ours
            policy_kwargs["features_extractor_class"] = FrameFeatures
            policy_kwargs["features_extractor_kwargs"] = {"bfloat16": self._use_bfloat16()}
            if policy_kwargs.get("optimizer_class", torch.optim.Adam) is torch.optim.Adam and self.device == "cpu":
                # One pass over all 1.7M weights instead of a loop of small ones (PPO's update: 28 ms -> 25 ms)
                policy_kwargs["optimizer_kwargs"] = {**policy_kwargs.get("optimizer_kwargs", {}), "fused": True}
            if issubclass(self.algo_class, OnPolicyAlgorithm):
                kwargs["rollout_buffer_class"] = FrameRolloutBuffer
        model = self.algo_class(policy, env, seed=self.seed, device=self.device, verbose=0, **kwargs)
        buffer = getattr(model, "rollout_buffer", None)
        if isinstance(buffer, FrameRolloutBuffer):  # packed for the first convolution, where the frames allow
            extractor = model.policy.features_extractor
            buffer.block = packing(extractor.cnn[0], self.spec.observation_space.shape[1:])
            samples = buffer.buffer_size * buffer.n_envs
            buffer.acting = extractor  # it hands the buffer each step's frames as rows
            shared = model.policy.share_features_extractor
            extractor.keeps_acting = self.update_reuses_acting and shared and samples <= _KEEP_AT_MOST
        return model

    def _use_frame_policy(self) -> bool:
        return self.frame_policy and is_image_space(self.spec.observation_space)

    def _use_bfloat16(self) -> bool:
        """The image CNN in bfloat16 on CPUs that compute it natively (AVX512-BF16, AMX)."""
        return self.cpu_bfloat16 and self.device == "cpu" and self._use_frame_policy() and cpu_has_bfloat16()

    def build(self, tensorboard_dir: Path | None = None) -> None:
        self.model = self._construct(for_training=True, tensorboard_dir=tensorboard_dir)

    def check_build(self) -> None:
        try:
            self.model = self._construct(for_training=False, tensorboard_dir=None, n_envs=self.n_envs)
        except (ValueError, TypeError, AssertionError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BadConfig("agents.sb3_refuses", algo=self.name, reason=first) from None
        except MemoryError:
            raise BadConfig("agents.settings_need_memory", algo=self.name) from None

    def load(self, path: Path, *, for_training: bool = False, tensorboard_dir: Path | None = None) -> int:
        info = read_checkpoint(path)
        if self.model is None:
            self.model = self._construct(for_training=for_training, tensorboard_dir=tensorboard_dir)
        try:
            _, params, _ = load_from_zip_file(path, device=self.device, load_data=False)
            if for_training:
                self.model.set_parameters(params, exact_match=True, device=self.device)
            else:  # playing needs the network only, but all of it
                self.model.policy.load_state_dict(params["policy"], strict=True)
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - torch/zip errors all mean the same to a user
            reason: str | Words
            if isinstance(exc, pickle.UnpicklingError):
                reason = Words("agents.weights_damaged")
            else:
                reason = (str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)[:200]
            raise CheckpointError("agents.checkpoint_does_not_fit", name=Path(path).name, algo=self.name,
                                  env=self.spec.env_id, reason=reason) from None
        self.model.num_timesteps = info.step
        self._restore_counters(info.data)
        return info.step

    def _restore_counters(self, data: Mapping[str, Any]) -> None:
        assert self.model is not None
        if "_n_updates" in data:
            self.model._n_updates = int(data["_n_updates"])
        if "_episode_num" in data:
            self.model._episode_num = int(data["_episode_num"])

    # training
    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        assert self.model is not None, "build() or load() first"
        remaining = total_steps - self.model.num_timesteps
        if remaining <= 0:
            return self.step
        outputs: list[KVWriter] = [_HooksWriter(hooks)]
        if self._tensorboard_dir is not None:
            outputs.append(TensorBoardOutputFormat(str(self._tensorboard_dir)))
        self.model.set_logger(Logger(folder=None, output_formats=outputs))
        with threads.at_most(self._train_threads()):
            self.model.learn(
                total_timesteps=remaining,
                callback=_HooksCallback(self, hooks),
                reset_num_timesteps=False,
                log_interval=self._log_interval(),
            )
        self.model.logger.dump(self.model.num_timesteps)  # what was recorded since the last dump
        for writer in outputs[1:]:
            writer.close()
        return self.step

    def _train_threads(self) -> int | None:
        """Torch threads while learning on the CPU: one for vector observations, whose small MLPs
        spend more time waking a thread pool than multiplying (PPO CartPole: same losses to the
        last digit, several times the steps per second). Images use the process's share of the cores:
        on two idle cores two threads update NatureCNN faster than one (docs/benchmarks.md)."""
        if self.device != "cpu" or is_image_space(self.spec.observation_space):
            return None
        return 1

    def _log_interval(self) -> int:
        per_iteration = int(getattr(self.model, "n_steps", 1)) * self.n_envs
        return max(1, self.log_every_steps // max(per_iteration, 1))

    def save(self, path: Path) -> None:
        assert self.model is not None
        buffer = io.BytesIO()
        with _as_plain_sb3(self.model):
            self.model.save(buffer)
        with zipfile.ZipFile(buffer, "a") as archive:
            meta = {"format": 1, "algo": self.name, "env": self.spec.env_id, "step": self.step}
            archive.writestr(META_MEMBER, json.dumps(meta))
        Path(path).write_bytes(buffer.getvalue())

    # playing
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        assert self.model is not None
        action, _ = self.model.predict(obs, deterministic=deterministic)
        return np.asarray(action)

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        """Actor-critics (PPO, A2C): the action distribution and V(s), from one forward pass."""
        assert self.model is not None
        from gymnasium import spaces

        policy = self.model.policy
        policy.set_training_mode(False)
        with torch.no_grad():
            obs_tensor, _ = policy.obs_to_tensor(obs)
            distribution = policy.get_distribution(obs_tensor)  # type: ignore[operator]
            values = policy.predict_values(obs_tensor).flatten().cpu().numpy()  # type: ignore[operator]
            if not isinstance(policy.action_space, spaces.Discrete):
                # Continuous actions: clipping to the bounds is predict()'s business, so act() decides.
                return Thought(actions=self.act(obs, deterministic), values=values)
            actions = distribution.get_actions(deterministic=deterministic).cpu().numpy().reshape(-1)
            probabilities = distribution.distribution.probs.cpu().numpy()  # type: ignore[union-attr]
        return Thought(actions=actions, probabilities=probabilities, values=values)

    @property
    def step(self) -> int:
        return int(self.model.num_timesteps) if self.model is not None else 0

    def close(self) -> None:
        if self.model is not None and self.model.get_env() is not None:
            self.model.get_env().close()

    # importing models trained elsewhere
    @classmethod
    def hyperparameters_from_checkpoint(cls, info: CheckpointInfo) -> dict[str, Any]:
        """What we must know to rebuild a foreign model: its network shape (the rest is for training)."""
        policy_kwargs = info.data.get("policy_kwargs") or {}
        return _policy_kwargs_to_keys(policy_kwargs)


class PPOAgent(SB3Agent):
    name = "ppo"
    algo_class = PPO
    Hyperparameters = PPOHyperparameters

    def _log_interval(self) -> int:
        return 1  # one dump per rollout of n_steps × n_envs (1,024 steps with the Atari preset)


class A2CAgent(SB3Agent):
    name = "a2c"
    algo_class = A2C
    Hyperparameters = A2CHyperparameters
    update_reuses_acting = True  # one gradient step per rollout, on all of it, with the weights that acted


class SB3DQNAgent(SB3Agent):
    """stable-baselines3's DQN, under its own name since ``dqn`` is ours (``agents/dqn.py``): for SB3 zips
    brought in with ``rl import`` and runs made before, and to compare against."""

    name = "sb3-dqn"
    algo_class = DQN
    Hyperparameters = DQNHyperparameters
    frame_policy = False  # SB3's DQN stays as SB3 ships it: it is what our DQN is compared against
    REPLAY_FILE = "replay_buffer.npz"

    @classmethod
    def check_env(cls, spec: Any) -> None:
        from gymnasium import spaces

        if not isinstance(spec.action_space, spaces.Discrete):
            raise IncompatibleEnvironment("agents.dqn_needs_discrete", env=spec.env_id)

    def _log_interval(self) -> int:
        return 4  # episodes, SB3's default for off-policy algorithms

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        """The Q-value of every action; V(s) is the greedy one's. Exploring (not deterministic) is act()'s."""
        model = self.model
        assert isinstance(model, DQN)
        model.policy.set_training_mode(False)
        with torch.no_grad():
            obs_tensor, _ = model.policy.obs_to_tensor(obs)
            q_values = model.q_net(obs_tensor).cpu().numpy()
        actions = q_values.argmax(axis=1) if deterministic else self.act(obs, deterministic=False)
        return Thought(actions=np.asarray(actions), q_values=q_values, values=q_values.max(axis=1))

    def _restore_counters(self, data: Mapping[str, Any]) -> None:
        super()._restore_counters(data)
        model = self.model
        assert isinstance(model, DQN)
        if "_n_calls" in data:
            model._n_calls = int(data["_n_calls"])
        if "exploration_rate" in data:
            model.exploration_rate = float(data["exploration_rate"])

    # The replay buffer is saved as plain arrays (npz, no pickle), only when the user asks.
    _BUFFER_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")

    def save_extra(self, folder: Path) -> list[Path]:
        model = self.model
        assert isinstance(model, DQN)
        buffer = model.replay_buffer
        assert buffer is not None
        arrays = {name: getattr(buffer, name) for name in self._BUFFER_ARRAYS if getattr(buffer, name, None) is not None}
        arrays["pos"] = np.array(buffer.pos)
        arrays["full"] = np.array(buffer.full)
        path = folder / self.REPLAY_FILE
        atomic_write(path, lambda fh: np.savez(fh, **arrays))  # a kill mid-write keeps the previous buffer
        return [path]

    def load_extra(self, folder: Path) -> bool:
        """Refill the replay buffer saved beside the checkpoint; without one, collect anew before learning."""
        model = self.model
        assert isinstance(model, DQN) and model.replay_buffer is not None
        path = folder / self.REPLAY_FILE
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as saved:
                    for name in self._BUFFER_ARRAYS:
                        if name in saved:
                            target = getattr(model.replay_buffer, name)
                            if target is None or target.shape != saved[name].shape:
                                raise ValueError(f"the saved replay buffer does not fit this model ({name})")
                            target[...] = saved[name]
                    model.replay_buffer.pos = int(saved["pos"])
                    model.replay_buffer.full = bool(saved["full"])
                return True
            except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                log.warning("replay buffer %s is unreadable (%s); collecting a new one", path, exc)
        model.learning_starts = self.step + int(self.hyperparameters.get("learning_starts", 100))
        return False
