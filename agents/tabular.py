"""Tabular reinforcement learning: a table of values, one number per state (and action), that you can read.

The first lessons of the syllabus (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., 2018):

* **planning** with the model the environment exposes (Gymnasium's toy-text envs give ``P[s][a]``, a list of
  ``(probability, next state, reward, terminated)``): value iteration (S&B §4.4) and policy iteration (§4.3).
  One *step* of a planning run is one sweep over every state;
* **learning from experience**, one transition at a time, without the model: Q-learning (§6.5, off-policy),
  SARSA (§6.4, on-policy) and Expected SARSA (§6.6). A step is one environment step, as for every algorithm.

The file reads top to bottom: settings, the model and the Bellman backup, planning, the three TD updates,
then the agents behind ``agents.base.Agent``. Checkpoints hold the table as plain ``.npy`` arrays in a zip
(read with ``allow_pickle=False``), beside a JSON of counters; nothing here knows the store or the UI.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.base import Agent, Thought, TrainingHooks, checkpoint_archive
from playground.errors import BadConfig, CheckpointError, IncompatibleEnvironment
from playground.i18n import Words

CHECKPOINT_FORMAT = 1
META_MEMBER = "playground.json"
Q_MEMBER = "q.npy"  # (states, actions): the action values
V_MEMBER = "v.npy"  # (states,): the state values (planning)
POLICY_MEMBER = "policy.npy"  # (states,): the policy being evaluated (policy iteration)
VISITS_MEMBER = "visits.npy"  # (states, actions): how often each pair was tried (learning)
LOG_EVERY_STEPS = 1000


# -- settings ------------------------------------------------------------------------------------------------------

class TabularSettings(BaseModel):
    """What every tabular method is told. Strict: ``gamma="0.9"`` is an error, not a guess."""

    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)

    gamma: float = Field(default=0.99, ge=0, le=1)
    """Discount per step: how much a reward one step later is worth (0 to 1)."""


class PlanningSettings(TabularSettings):
    theta: float = Field(default=1e-8, gt=0)
    """The plan is done when no state's value changed by more than this in a sweep."""


class LearningSettings(TabularSettings):
    learning_rate: float = Field(default=0.1, gt=0, le=1)
    """How far each update moves Q(s, a) towards its target (alpha, above 0 up to 1)."""
    learning_rate_final: float | None = Field(default=None, gt=0, le=1)
    """Alpha at the end of training, reached linearly; unset: alpha stays put."""
    exploration_initial_eps: float = Field(default=1.0, ge=0, le=1)
    """Probability of a random action at the start of training."""
    exploration_final_eps: float = Field(default=0.05, ge=0, le=1)
    """Probability of a random action once the exploration fraction has passed."""
    exploration_fraction: float = Field(default=0.5, gt=0, le=1)
    """Fraction of training over which epsilon falls from its initial to its final value."""
    initial_q: float = 0.0
    """Every Q(s, a) before learning; above the best return, it makes the agent try everything (optimism)."""

    @model_validator(mode="after")
    def _eps_order(self) -> LearningSettings:
        if self.exploration_final_eps > self.exploration_initial_eps:
            raise ValueError("exploration_final_eps must not exceed exploration_initial_eps")
        return self


def linear(start: float, end: float, fraction: float, step: int, total_steps: int) -> float:
    """``start`` at step 0, ``end`` once ``fraction`` of ``total_steps`` has passed, straight in between."""
    progress = min(1.0, step / max(1.0, fraction * total_steps))
    return start + progress * (end - start)


def epsilon(step: int, settings: LearningSettings, total_steps: int) -> float:
    return linear(settings.exploration_initial_eps, settings.exploration_final_eps, settings.exploration_fraction,
                  step, total_steps)


def learning_rate(step: int, settings: LearningSettings, total_steps: int) -> float:
    final = settings.learning_rate if settings.learning_rate_final is None else settings.learning_rate_final
    return linear(settings.learning_rate, final, 1.0, step, total_steps)


# -- the model and the Bellman backup --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TransitionModel:
    """``P[s][a]`` as dense arrays: ``prob[s, a, k]``, ``next_state[s, a, k]``, ``reward[s, a, k]``,
    ``terminal[s, a, k]`` for the k-th outcome of taking ``a`` in ``s`` (missing outcomes have probability 0)."""

    P: dict[int, dict[int, list[tuple[float, int, float, bool]]]]
    prob: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray

    @property
    def n_states(self) -> int:
        return int(self.prob.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.prob.shape[1])

    @classmethod
    def from_P(cls, P: dict[int, dict[int, list[tuple[float, int, float, bool]]]], n_states: int,
               n_actions: int) -> TransitionModel:
        outcomes = max(len(P[s][a]) for s in range(n_states) for a in range(n_actions))
        shape = (n_states, n_actions, outcomes)
        prob, reward = np.zeros(shape), np.zeros(shape)
        next_state, terminal = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                for k, (p, s2, r, done) in enumerate(P[s][a]):
                    prob[s, a, k], next_state[s, a, k], reward[s, a, k], terminal[s, a, k] = p, s2, r, done
        return cls(P, prob, next_state, reward, terminal)

    def q_from_v(self, V: np.ndarray, gamma: float) -> np.ndarray:
        """Q(s, a) = Σ_s' p(s'|s,a) · (r + γ · V(s') · [s' not terminal]), for every state and action at once."""
        return (self.prob * (self.reward + gamma * V[self.next_state] * ~self.terminal)).sum(axis=2)

    def may_never_end(self) -> bool:
        """Whether some policy can play for ever: a set of non-terminal states that an agent can keep to.

        A state is *bound to end* when every action surely leads to a terminal transition or to states bound to
        end; what is left after that fixed point holds a loop some policy can stay in."""
        ends = np.zeros(self.n_states, dtype=bool)
        live = self.prob > 0
        while True:
            ok = ~live | self.terminal | ends[self.next_state]  # each outcome: impossible, terminal, or bound to end
            now = ok.all(axis=2).all(axis=1)
            if (now == ends).all():
                break
            ends = now
        return not ends.all()


def model_of(env: Any) -> TransitionModel:
    """The transition model of an open env (its ``unwrapped.P``); ``BadConfig`` when it exposes none."""
    unwrapped = env.unwrapped
    P = getattr(unwrapped, "P", None)
    n_states = int(getattr(env.observation_space, "n", 0))
    n_actions = int(getattr(env.action_space, "n", 0))
    if not isinstance(P, dict) or len(P) != n_states:
        raise IncompatibleEnvironment("tabular.no_model", env=getattr(env.spec, "id", "?"))
    return TransitionModel.from_P(P, n_states, n_actions)


def bellman_backup(model: TransitionModel, V: np.ndarray, state: int, gamma: float) -> np.ndarray:
    """Each action's value in one state: Q(s, a) = Σ_s' p · (r + γ · V(s')); the viewer writes its terms out."""
    return model.q_from_v(V, gamma)[state]


def value_iteration_sweep(model: TransitionModel, V: np.ndarray, gamma: float) -> tuple[np.ndarray, float]:
    """One synchronous sweep, V_{k+1}(s) = max_a Σ p · (r + γ · V_k(s')) for every state from the old V (so values
    spread one step further from the rewards each sweep); returns the new V and its largest change."""
    new = model.q_from_v(V, gamma).max(axis=1)
    return new, float(np.abs(new - V).max()) if len(V) else 0.0


def policy_evaluation_sweep(model: TransitionModel, V: np.ndarray, policy: np.ndarray,
                            gamma: float) -> tuple[np.ndarray, float]:
    """One sweep of V_{k+1}(s) = Σ p · (r + γ · V_k(s')) for the action the policy takes; the new V, largest change."""
    new = model.q_from_v(V, gamma)[np.arange(model.n_states), policy]
    return new, float(np.abs(new - V).max()) if len(V) else 0.0


def greedy(q: np.ndarray) -> np.ndarray:
    """The best action of every state (the first of equals, so the answer is the same every time)."""
    return np.asarray(q.argmax(axis=1), dtype=np.int64)


# -- the three TD updates (one transition each) ----------------------------------------------------------------------

def q_learning_target(q: np.ndarray, reward: float, next_state: int, terminal: bool, gamma: float) -> float:
    """Off-policy: bootstrap on the best next action, whatever the agent will do."""
    return reward if terminal else reward + gamma * float(q[next_state].max())


def sarsa_target(q: np.ndarray, reward: float, next_state: int, terminal: bool, gamma: float,
                 next_action: int) -> float:
    """On-policy: bootstrap on the action the agent will take next (exploring moves included)."""
    return reward if terminal else reward + gamma * float(q[next_state, next_action])


def expected_sarsa_target(q: np.ndarray, reward: float, next_state: int, terminal: bool, gamma: float,
                          eps: float) -> float:
    """On-policy, without the sampling noise of the next action: the mean over the epsilon-greedy policy."""
    if terminal:
        return reward
    row = q[next_state]
    probs = np.full(len(row), eps / len(row))
    probs[int(row.argmax())] += 1.0 - eps
    return reward + gamma * float(probs @ row)


def td_update(q: np.ndarray, state: int, action: int, target: float, alpha: float) -> float:
    """Q(s, a) ← Q(s, a) + α · (target − Q(s, a)); returns the TD error."""
    error = target - q[state, action]
    q[state, action] += alpha * error
    return float(error)


# -- the agents ------------------------------------------------------------------------------------------------------

def needs_discrete(spec: Any, algo: str) -> None:
    """Tabular methods keep one number per state: observations and actions must both be counted, not measured."""
    from gymnasium import spaces

    obs = spec.observation_space
    if not isinstance(obs, spaces.Discrete):
        shape = getattr(obs, "shape", None) or ()
        kind = Words("tabular.kind_images") if len(shape) >= 2 else (
            Words("tabular.kind_numbers") if isinstance(obs, spaces.Box) else type(obs).__name__)
        raise IncompatibleEnvironment("tabular.needs_discrete", algo=algo, env=spec.env_id, kind=kind)
    if not isinstance(spec.action_space, spaces.Discrete):  # asked second: an Atari game's actions open the emulator
        raise IncompatibleEnvironment("tabular.needs_discrete", algo=algo, env=spec.env_id,
                                      kind=Words("tabular.kind_continuous_actions"))


class TabularAgent(Agent):
    """A table of action values ``q`` (states × actions), shared by planning and learning."""

    Hyperparameters: ClassVar[type[BaseModel]] = TabularSettings
    uses_torch: ClassVar[bool] = False
    planning: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = self.Hyperparameters.model_validate(self.hyperparameters)
        self.n_states = int(self.spec.observation_space.n)
        self.n_actions = int(self.spec.action_space.n)
        self.q = np.zeros((self.n_states, self.n_actions))
        self._step = 0
        self.episodes = 0
        self._rng = np.random.default_rng(self.seed)

    @classmethod
    def check_env(cls, spec: Any) -> None:
        needs_discrete(spec, cls.name)

    def build(self, tensorboard_dir: Path | None = None) -> None:
        self.q = np.zeros((self.n_states, self.n_actions))
        self._step = 0

    # -- what the table says -------------------------------------------------------------------------------------------

    def state_values(self) -> np.ndarray:
        """V(s) = max_a Q(s, a): what the greedy policy expects to collect from each state."""
        return self.q.max(axis=1)

    def greedy(self) -> np.ndarray:
        return greedy(self.q)

    def _states(self, obs: np.ndarray) -> np.ndarray:
        return np.asarray(obs, dtype=np.int64).reshape(-1)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return self.greedy()[self._states(obs)]

    def think(self, obs: np.ndarray, deterministic: bool = True) -> Thought:
        states = self._states(obs)
        return Thought(actions=self.greedy()[states], q_values=self.q[states].copy(),
                       values=self.state_values()[states])

    @property
    def step(self) -> int:
        return self._step

    # -- checkpoints: the table as plain arrays ------------------------------------------------------------------------

    def _arrays(self) -> dict[str, np.ndarray]:
        return {Q_MEMBER: self.q}

    def _counters(self) -> dict[str, Any]:
        return {}

    def save(self, path: Path) -> None:
        meta = {"format": CHECKPOINT_FORMAT, "algo": self.name, "env": self.spec.env_id, "step": self._step,
                "episodes": self.episodes, "states": self.n_states, "actions": self.n_actions,
                "hyperparameters": self.settings.model_dump(), **self._counters()}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(META_MEMBER, json.dumps(meta))
            for member, array in self._arrays().items():
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(member, buffer.getvalue())

    def load(self, path: Path, *, for_training: bool = False, tensorboard_dir: Path | None = None) -> int:
        path = Path(path)
        meta, arrays = read_table(path, list(self._arrays()))
        if meta.get("algo") != self.name:
            raise CheckpointError("tabular.other_algo", name=path.name, trained=meta.get("algo"), algo=self.name)
        if meta.get("env") != self.spec.env_id:
            raise CheckpointError("tabular.other_env", name=path.name, trained=meta.get("env"), env=self.spec.env_id)
        for member, array in arrays.items():
            expected = self._arrays()[member]
            if array.shape != expected.shape or not np.issubdtype(array.dtype, np.number):
                raise CheckpointError("tabular.wrong_shape", name=path.name, member=member, shape=array.shape,
                                      expected=expected.shape)
        self._set_arrays(arrays)
        self._step = int(meta["step"])
        self.episodes = int(meta.get("episodes", 0))
        self._set_counters(meta)
        self._rng = np.random.default_rng([self.seed, self._step])  # a resumed run does not replay its first draws
        return self._step

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.q = arrays[Q_MEMBER].astype(np.float64)

    def _set_counters(self, meta: dict[str, Any]) -> None:
        pass


def read_table(path: Path, members: list[str] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, {member: array}) from a tabular checkpoint, arrays read with ``allow_pickle=False``: ``members``
    (each required), or every array the checkpoint holds (``q.npy`` at least) for readers that take what is there."""
    what = Words("tabular.what_checkpoint")
    with checkpoint_archive(path, [META_MEMBER, *(members or [Q_MEMBER])], what) as archive:
        if members is None:
            members = [name for name in archive.namelist() if name.endswith(".npy")]
        meta = json.loads(archive.read(META_MEMBER).decode())
        if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
            raise CheckpointError("tabular.not_ours", name=Path(path).name)
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("tabular.bad_format", name=Path(path).name, format=meta.get("format"))
        arrays = {member: np.load(io.BytesIO(archive.read(member)), allow_pickle=False) for member in members}
    return meta, arrays


# -- planning: the model is known ------------------------------------------------------------------------------------

class PlanningAgent(TabularAgent):
    """Sweeps over the model instead of playing: one step is one sweep over every state. Stops by itself once a
    sweep changes no value by more than ``theta`` (``converged``); ``steps`` caps the sweeps."""

    Hyperparameters: ClassVar[type[BaseModel]] = PlanningSettings
    planning = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.v = np.zeros(self.n_states)
        self.delta = float("inf")
        self._model: TransitionModel | None = None

    @classmethod
    def check_env(cls, spec: Any) -> None:
        super().check_env(spec)
        model = cls._open_model(spec)
        if model is None:
            raise IncompatibleEnvironment("tabular.no_model", env=spec.env_id)

    @staticmethod
    def _open_model(spec: Any) -> TransitionModel | None:
        from playground.envs.specs import make_gym

        env = make_gym(spec)
        try:
            return model_of(env)
        except IncompatibleEnvironment:
            return None
        finally:
            env.close()

    def check_build(self) -> None:
        if self.settings.gamma >= 1.0 and self.model.may_never_end():
            raise BadConfig("tabular.gamma_one_never_ends", algo=self.name, env=self.spec.env_id)

    @property
    def model(self) -> TransitionModel:
        if self._model is None:
            self._model = self._open_model(self.spec)
            if self._model is None:
                raise IncompatibleEnvironment("tabular.no_model", env=self.spec.env_id)
        return self._model

    @property
    def converged(self) -> bool:
        return self.delta < self.settings.theta

    def build(self, tensorboard_dir: Path | None = None) -> None:
        super().build(tensorboard_dir)
        self.v = np.zeros(self.n_states)
        self.delta = float("inf")

    def state_values(self) -> np.ndarray:
        return self.v

    def sweep(self) -> float:
        """One sweep; returns its largest change of a value."""
        raise NotImplementedError

    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        started_at, started_step = time.monotonic(), self._step
        while self._step < total_steps and not self.converged:
            delta = self.sweep()
            self._step += 1
            hooks.log(self._step, self._metrics(delta, started_at, started_step))
            if not hooks.on_step(self._step, self, self.save):
                break
        return self._step

    def _metrics(self, delta: float, started_at: float, started_step: int) -> dict[str, float]:
        values = {"train/delta": delta, "train/sweeps": float(self._step),
                  "train/value_start": float(self.v[0]) if self.n_states else 0.0}
        elapsed = time.monotonic() - started_at
        if elapsed > 0:
            values["time/fps"] = (self._step - started_step) / elapsed
        return values

    def _arrays(self) -> dict[str, np.ndarray]:
        return {Q_MEMBER: self.q, V_MEMBER: self.v}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.v = arrays[V_MEMBER].astype(np.float64)

    def _counters(self) -> dict[str, Any]:
        return {"delta": None if not np.isfinite(self.delta) else self.delta}

    def _set_counters(self, meta: dict[str, Any]) -> None:
        delta = meta.get("delta")
        self.delta = float("inf") if delta is None else float(delta)


class ValueIterationAgent(PlanningAgent):
    """Value iteration (S&B §4.4): sweep V(s) ← max_a Σ p · (r + γ V(s')) until nothing changes; act greedily."""

    name = "value-iteration"

    def sweep(self) -> float:
        self.v, self.delta = value_iteration_sweep(self.model, self.v, self.settings.gamma)
        self.q = self.model.q_from_v(self.v, self.settings.gamma)
        return self.delta


class PolicyIterationAgent(PlanningAgent):
    """Policy iteration (S&B §4.3): evaluate the policy by sweeps until its values settle, then make it greedy on
    them; done when improving changes no action. Each evaluation sweep is a step."""

    name = "policy-iteration"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = np.zeros(self.n_states, dtype=np.int64)
        self.improvements = 0
        self.stable = False

    def build(self, tensorboard_dir: Path | None = None) -> None:
        super().build(tensorboard_dir)
        self.policy = np.zeros(self.n_states, dtype=np.int64)
        self.improvements, self.stable = 0, False

    @property
    def converged(self) -> bool:
        return self.stable

    def greedy(self) -> np.ndarray:
        return self.policy

    def sweep(self) -> float:
        gamma = self.settings.gamma
        self.v, self.delta = policy_evaluation_sweep(self.model, self.v, self.policy, gamma)
        self.q = self.model.q_from_v(self.v, gamma)
        if self.delta < self.settings.theta:  # this policy's values have settled: improve it
            better = greedy(self.q)
            # keep the current action where it is as good as the best (no flip-flopping between equals)
            keep = self.q[np.arange(self.n_states), self.policy] >= self.q.max(axis=1) - self.settings.theta
            better[keep] = self.policy[keep]
            self.stable = bool((better == self.policy).all())
            self.policy = better
            self.improvements += 1
        return self.delta

    def _metrics(self, delta: float, started_at: float, started_step: int) -> dict[str, float]:
        return {**super()._metrics(delta, started_at, started_step), "train/improvements": float(self.improvements)}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**super()._arrays(), POLICY_MEMBER: self.policy}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.policy = arrays[POLICY_MEMBER].astype(np.int64)
        if ((self.policy < 0) | (self.policy >= self.n_actions)).any():
            raise CheckpointError("tabular.wrong_shape", name=POLICY_MEMBER, member=POLICY_MEMBER,
                                  shape=self.policy.shape, expected=(self.n_states,))

    def _counters(self) -> dict[str, Any]:
        return {**super()._counters(), "improvements": self.improvements, "stable": self.stable}

    def _set_counters(self, meta: dict[str, Any]) -> None:
        super()._set_counters(meta)
        self.improvements = int(meta.get("improvements", 0))
        self.stable = bool(meta.get("stable", False))


# -- learning: the model is unknown, the agent plays -----------------------------------------------------------------

class TDAgent(TabularAgent):
    """Learns Q from its own games: epsilon-greedy over the table, one TD update per transition."""

    Hyperparameters: ClassVar[type[BaseModel]] = LearningSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)
        self.q = np.full((self.n_states, self.n_actions), self.settings.initial_q)

    def build(self, tensorboard_dir: Path | None = None) -> None:
        super().build(tensorboard_dir)
        self.q = np.full((self.n_states, self.n_actions), self.settings.initial_q)
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)

    def _behave(self, states: np.ndarray, eps: float) -> np.ndarray:
        """Epsilon-greedy, with ties broken at random (a fresh table is all ties: the first action must not win)."""
        rows = self.q[states]
        best = rows == rows.max(axis=1, keepdims=True)
        # One of the best actions, each as likely: the one with the largest of independent uniform keys (one draw
        # for the whole batch, where choosing among each row's ties in a loop cost most of this function's time).
        choice = np.where(best, self._rng.random(rows.shape), -1.0).argmax(axis=1)
        explore = self._rng.random(len(states)) < eps
        if explore.any():
            choice[explore] = self._rng.integers(0, self.n_actions, int(explore.sum()))
        return choice

    def _target(self, reward: float, next_state: int, terminal: bool, eps: float, next_action: int) -> float:
        raise NotImplementedError

    def learn(self, total_steps: int, hooks: TrainingHooks) -> int:
        s = self.settings
        env, obs = self._training_envs()
        states = self._states(obs)
        eps = epsilon(self._step, s, total_steps)
        actions = self._behave(states, eps)
        started_at, started_step, next_log = time.monotonic(), self._step, self._step + LOG_EVERY_STEPS
        errors: list[float] = []
        while self._step < total_steps:
            eps = epsilon(self._step, s, total_steps)
            alpha = learning_rate(self._step, s, total_steps)
            next_obs, rewards, dones, infos = env.step(actions)
            next_states = self._states(next_obs)
            following = self._behave(next_states, eps)  # what each env does next (after a reset: in its new game)
            for i in range(self.n_envs):
                done = bool(dones[i])
                truncated = done and bool(infos[i].get("TimeLimit.truncated", False))
                terminal = done and not truncated
                after = int(infos[i]["terminal_observation"]) if done else int(next_states[i])
                # SARSA bootstraps on the action taken next; where the game was cut short, on one drawn there
                next_action = int(self._behave(np.array([after]), eps)[0]) if done else int(following[i])
                target = self._target(float(rewards[i]), after, terminal, eps, next_action)
                errors.append(abs(td_update(self.q, int(states[i]), int(actions[i]), target, alpha)))
                self.visits[states[i], actions[i]] += 1
                if done:
                    self.episodes += 1
                    episode = infos[i].get("episode")
                    if episode is not None:
                        hooks.episode(self._step + self.n_envs, float(episode["r"]), int(episode["l"]))
            states, actions = next_states, following
            self._obs = next_obs
            self._step += self.n_envs
            if self._step >= next_log:
                next_log = self._step + LOG_EVERY_STEPS
                self._log(hooks, errors, eps, alpha, started_at, started_step)
            if not hooks.on_step(self._step, self, self.save):
                break
        self._log(hooks, errors, eps, learning_rate(self._step, s, total_steps), started_at, started_step)
        return self._step

    def _log(self, hooks: TrainingHooks, errors: list[float], eps: float, alpha: float, started_at: float,
             started_step: int) -> None:
        values = {"rollout/exploration_rate": eps, "train/learning_rate": alpha,
                  "train/states_seen": float((self.visits.sum(axis=1) > 0).sum()),
                  "time/total_timesteps": float(self._step)}
        if errors:
            values["train/td_error"] = float(np.mean(errors))
            errors.clear()
        elapsed = time.monotonic() - started_at
        if elapsed > 0 and self._step > started_step:
            values["time/fps"] = (self._step - started_step) / elapsed
        hooks.log(self._step, values)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {Q_MEMBER: self.q, VISITS_MEMBER: self.visits}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._set_arrays(arrays)
        self.visits = arrays[VISITS_MEMBER].astype(np.int64)


class QLearningAgent(TDAgent):
    """Q-learning (Watkins 1989; S&B §6.5): target r + γ max_a' Q(s', a'). Off-policy: it learns the greedy
    policy's values while exploring, so on CliffWalking it learns the path along the edge (and falls while
    exploring)."""

    name = "qlearning"

    def _target(self, reward: float, next_state: int, terminal: bool, eps: float, next_action: int) -> float:
        return q_learning_target(self.q, reward, next_state, terminal, self.settings.gamma)


class SarsaAgent(TDAgent):
    """SARSA (Rummery & Niranjan 1994; S&B §6.4): target r + γ Q(s', a') for the a' it will take. On-policy: it
    learns the values of its own exploring behaviour, so on CliffWalking it keeps away from the edge."""

    name = "sarsa"

    def _target(self, reward: float, next_state: int, terminal: bool, eps: float, next_action: int) -> float:
        return sarsa_target(self.q, reward, next_state, terminal, self.settings.gamma, next_action)


class ExpectedSarsaAgent(TDAgent):
    """Expected SARSA (van Seijen et al. 2009; S&B §6.6): target r + γ Σ_a' π(a'|s') Q(s', a') under the
    epsilon-greedy policy: SARSA's on-policy answer without the noise of sampling a'."""

    name = "expected-sarsa"

    def _target(self, reward: float, next_state: int, terminal: bool, eps: float, next_action: int) -> float:
        return expected_sarsa_target(self.q, reward, next_state, terminal, self.settings.gamma, eps)


TABULAR_AGENTS: tuple[type[TabularAgent], ...] = (ValueIterationAgent, PolicyIterationAgent, QLearningAgent,
                                                  SarsaAgent, ExpectedSarsaAgent)
