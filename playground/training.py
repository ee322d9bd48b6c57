"""RL runs from start to end: what drives an agent's learning loop, on the one run session.

``execute`` builds (or resumes) an agent and hands its ``learn`` an ``RLHooks``: the agent's steps,
metrics and finished games go to the run session (``playground.session``), which stores them,
checkpoints, answers stop requests and ends the run; evaluations (whole games, raw scores) are RL's
own and happen here. The same code serves the CLI in the foreground and jobs in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import agents
from agents.base import Agent, Policy
from playground import envs, events, runs
from playground.checks import MAX_EPISODES, check_limit
from playground.config import DEFAULT_EVAL_EPISODES, RLConfig, of_run
from playground.errors import PlaygroundError, RunStateError
from playground.evaluation import EvaluationInterrupted, Scores, play_games
from playground.session import ProgressFn, RunSession, Totals, training_session
from playground.session import prepare_resume as prepare_resume_run
from playground.settings import resolve_device
from playground.store import Evaluation, Run, Store, file_sha256, get_store

log = logging.getLogger(__name__)

MAX_EVAL_ENVS = 8


def make_agent(config: RLConfig, *, device: str | None = None) -> Agent:
    spec = envs.resolve(config.env)
    cls = agents.get(config.algo)
    return cls(
        spec,
        config.hyperparameters,
        make_env=envs.TrainEnvFactory(config.env, config.env_backend, numpy_only=not cls.uses_torch),
        n_envs=config.n_envs,
        seed=config.seed,
        device=device or device_for(cls, config.device),
    )


def device_for(cls: type[Agent], choice: str) -> str:
    """The device ``cls`` computes on: numpy's algorithms compute on the CPU, and learn so without loading torch
    (a ``cuda`` they are given is still refused where there is none, as for every algorithm)."""
    if not cls.uses_torch and (choice or "auto").lower() in ("auto", "cpu"):
        return "cpu"
    return resolve_device(choice)


def check_buildable(config: RLConfig) -> None:
    """Build the model once, small, so that settings SB3 itself refuses fail before a run exists."""
    agent = make_agent(config, device="cpu")
    try:
        agent.check_build()
    finally:
        agent.close()


def evaluate_policy(config: RLConfig, policy: Policy, episodes: int, seed: int, **kwargs: Any) -> Scores:
    spec = envs.resolve(config.env)
    env = envs.make_eval_env(spec, min(episodes, MAX_EVAL_ENVS), seed, backend=config.env_backend,
                             numpy_only=not agents.get(config.algo).uses_torch)
    try:
        return play_games(policy, env, episodes, **kwargs)
    finally:
        env.close()


class RLHooks:
    """The platform's side of ``agents.base.TrainingHooks`` for one RL session: the agent's calls go to the
    run session; evaluations (whole games at ``eval_every``, each of a checkpoint written for it) are RL's own."""

    def __init__(self, session: RunSession, config: RLConfig) -> None:
        self.session = session
        self.config = config
        self.next_eval = (session.start_step // config.eval_every + 1) * config.eval_every

    # TrainingHooks -------------------------------------------------------------------------
    def on_step(self, step: int, policy: Policy, save: Callable[[Path], None]) -> bool:
        self.session.save = save
        if self.next_eval <= step < self.config.steps:  # the last evaluation comes after learn() returns
            self.next_eval = (step // self.config.eval_every + 1) * self.config.eval_every
            self.session.checkpoint(step)
            self.evaluate(step, policy)
        return self.session.on_step(step)

    def log(self, step: int, values: Mapping[str, float]) -> None:
        self.session.log(step, values)

    def episode(self, step: int, score: float, length: int) -> None:
        self.session.episode(step, score, length)

    # RL's own ------------------------------------------------------------------------------
    def evaluate(self, step: int, policy: Policy) -> Evaluation | None:
        """Play ``eval_episodes`` whole games with ``policy`` (the checkpoint of ``step``); store raw scores."""
        seed = self.config.seed + 10_000
        try:
            result = evaluate_policy(self.config, policy, self.config.eval_episodes, seed=seed,
                                     should_stop=self.session.stop_asked)
        except EvaluationInterrupted:
            return None
        return self.session.record_evaluation(step, result.scores, result.mean, result.std, seed)


def create_run(config: RLConfig, label: str | None = None, store: Store | None = None,
               player: str | None = None) -> Run:
    spec = envs.resolve(config.env)
    return runs.create(
        kind="rl",
        algo=config.algo,
        env=config.env,
        game=spec.game,
        config=config.model_dump(),
        label=label,
        seed=config.seed,
        total_steps=config.steps,
        store=store,
        player=player,
    )


def execute(run_id: str, *, resume: bool = False, progress: ProgressFn | None = None, store: Store | None = None,
            player: str | None = None, checkpoint: str = "latest") -> Run:
    """Train ``run_id`` in this process until it finishes, is stopped, or fails; returns the run.

    ``checkpoint`` (resuming): which checkpoint to continue from, ``latest`` or a step number.
    """
    store = store or get_store()
    run = store.get_run(run_id)
    config = of_run(run)
    tensorboard_dir = Path(run.folder) / "tensorboard" if config.tensorboard else None
    threaded = True
    try:
        cls = agents.get(config.algo)
        threaded = cls.uses_torch  # the tabular methods compute with numpy on one thread
        device: str | None = device_for(cls, config.device)
    except PlaygroundError:  # make_agent says so below, with the run marked failed
        device = None
    agent: Agent | None = None
    try:
        with training_session(run.id, total=config.steps, checkpoint_every=config.checkpoint_every,
                              keep=config.keep_checkpoints, device=device, resume=resume, progress=progress,
                              player=player, store=store, threaded=threaded) as session:
            agent = make_agent(config)
            session.save = agent.save
            if resume:
                _step, path = runs.pick_checkpoint(run, checkpoint, store)
                session.resumed_at(agent.load(path, for_training=True, tensorboard_dir=tensorboard_dir))
                runs.forget_checkpoints_after(run, session.start_step, store)
                load_extra = getattr(agent, "load_extra", None)
                if load_extra is not None:
                    load_extra(path.parent)
                log.info("resuming %s from %s (step %d)", run.id, path.name, session.start_step)
            else:
                agent.build(tensorboard_dir)
            hooks = RLHooks(session, config)
            agent.learn(config.steps, hooks)
            step = agent.step
            session.step = step
            done = step >= config.steps or agent.converged
            if step != session.last_checkpoint_step or config.save_replay_buffer:
                _keep_replay_buffer(session, agent, config, step)
            if done and session.last_eval_step != step:
                hooks.evaluate(step, agent)
            session.finish(step, done=done)
    finally:
        if agent is not None:
            agent.close()
    return store.get_run(run.id)


def _keep_replay_buffer(session: RunSession, agent: Agent, config: RLConfig, step: int) -> None:
    """The final checkpoint of a session and, when asked for, the replay buffer beside it (DQN)."""
    path = session.checkpoint(step)
    if config.save_replay_buffer:
        for produced in agent.save_extra(path.parent):
            session.store.add_artifact(session.run.id, "replay_buffer", str(produced), step=step)


STEPS = Totals(field="steps", unit="step", flag="--steps")


def prepare_resume(ref: str, steps: int | None = None, store: Store | None = None, *, checkpoint: str = "latest") -> Run:
    """Check that ``ref`` can resume from ``checkpoint`` (and extend its total); changes the store only when it can."""

    def probe(run: Run, path: Path) -> RLConfig:
        if run.config.get("preset") == "imported":
            raise RunStateError("training.imported_no_settings", run=run.id)
        config = of_run(run)
        agent = make_agent(config, device="cpu")
        try:
            agent.load(path, for_training=True)
            agent.check_extra(path.parent)
        finally:
            agent.close()
        return config

    return prepare_resume_run(ref, kind="rl", total=steps, which=checkpoint, totals=STEPS, probe=probe, store=store)


def evaluate_run(
    ref: str,
    *,
    episodes: int | None = None,
    which: str = "best",
    seed: int | None = None,
    device: str = "auto",
    store: Store | None = None,
) -> Evaluation:
    """Play ``episodes`` whole games with a checkpoint of a run and store the raw scores; None: as many as the run's
    own evaluations play (Taxi's preset: the 100 its challenge counts), and never fewer than 10."""
    store = store or get_store()
    if episodes is not None and episodes <= 0:
        raise PlaygroundError("config.not_positive", flag="--episodes", value=episodes)
    check_limit("--episodes", episodes, MAX_EPISODES)
    if seed is not None and seed < 0:
        raise PlaygroundError("config.bad_seed", seed=seed)
    run = runs.get(ref, store)
    if run.kind != "rl":
        raise RunStateError("training.not_rl", run=run.id, kind=run.kind)
    runs.folder_here(run)  # trained on another machine of a shared store: its checkpoints are there
    step, path = runs.pick_checkpoint(run, which, store)
    config = of_run(run)
    episodes = episodes or max(config.eval_episodes, DEFAULT_EVAL_EPISODES)  # at least the 10 a challenge counts
    sha256 = file_sha256(path)  # before playing: the hash of the very file that is loaded
    agent = make_agent(config, device=device_for(agents.get(config.algo), device))
    try:
        agent.load(path, for_training=False)
        seed = config.seed + 20_000 if seed is None else seed
        result = evaluate_policy(config, agent, episodes, seed=seed)
    finally:
        agent.close()
    evaluation = store.add_evaluation(
        run.id, step=step, scores=result.scores, mean=result.mean, std=result.std, checkpoint=str(path), seed=seed,
        checkpoint_sha256=sha256,
    )
    events.record(store, events.Evaluated(step=step, mean=result.mean, std=result.std, n=episodes), run.id)
    return evaluation
