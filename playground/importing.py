"""Bring a stable-baselines3 model trained elsewhere (RL Baselines3 Zoo, a notebook) in as a run."""

from __future__ import annotations

import shutil
from pathlib import Path

import agents
from agents.sb3 import SB3Agent, read_checkpoint
from playground import envs, events, runs
from playground.atomic import atomic_output
from playground.config import RLConfig, validate_hyperparameters
from playground.errors import CheckpointError, PlaygroundError
from playground.store import Run, Store, get_store
from playground.training import create_run, make_agent


def import_sb3_zip(path: Path, env: str, algo: str, label: str | None = None, store: Store | None = None,
                   player: str | None = None) -> Run:
    """Check the zip fits ``algo`` on ``env`` (by loading it) before anything is written."""
    store = store or get_store()
    path = Path(path).expanduser()
    cls = agents.get(algo)
    if cls.name in agents.SB3_NAMES:  # an SB3 zip of a family we write ourselves is SB3's agent's (dqn -> sb3-dqn)
        cls = agents.get(agents.SB3_NAMES[cls.name])
    if not issubclass(cls, SB3Agent):
        raise PlaygroundError("importing.not_sb3", algo=algo)
    spec = envs.resolve(env)
    cls.check_env(spec)
    if not path.is_file():
        raise CheckpointError("importing.no_file", path=path)
    info = read_checkpoint(path)
    hyper = validate_hyperparameters(cls.name, cls.hyperparameters_from_checkpoint(info))
    step = max(int(info.data.get("num_timesteps", 0)), 1)
    config = RLConfig(
        algo=cls.name,
        env=spec.env_id,
        steps=step,
        n_envs=1,
        preset="imported",
        hyperparameters=hyper,
        eval_every=step,
        eval_episodes=10,
        checkpoint_every=step,
    )
    probe = make_agent(config, device="cpu")
    try:
        probe.load(path, for_training=False)
    finally:
        probe.close()
    run = create_run(config, label=label, store=store, player=player)
    target = runs.checkpoint_path(run, step)
    atomic_output(target, lambda tmp: shutil.copyfile(path, tmp))
    store.add_artifact(run.id, "checkpoint", str(target), step=step, meta={"imported_from": str(path.resolve())})
    events.record(store, events.RunImported(source=str(path.resolve()), step=step), run.id)
    runs.end(run.id, "finished", step, store=store)
    return store.get_run(run.id)
