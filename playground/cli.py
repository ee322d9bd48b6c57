"""The headless door: ``playground rl …`` and ``playground runs …``.

Each command is a thin call into the modules that do the work. Errors a user can cause print
``error: <sentence>`` and exit with status 2; ``--json`` output is documented in docs/cli-json.md.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from playground.errors import PlaygroundError

app = typer.Typer(help="Train, watch and compare RL agents and GANs.", no_args_is_help=True, add_completion=False)
rl_app = typer.Typer(help="Train, resume, evaluate and import RL agents.", no_args_is_help=True)
runs_app = typer.Typer(help="List, inspect, compare, stop and delete runs.", no_args_is_help=True)
app.add_typer(rl_app, name="rl")
app.add_typer(runs_app, name="runs")

# Names, paths and errors come from users: never read them as rich markup.
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)

MAX_STEPS = 10**12
_STEPS = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmM]?)\s*$")


def parse_steps(text: str | None, flag: str = "--steps") -> int | None:
    """Whole numbers, ``1e6``, ``100k`` or ``2M``; anything else is one clear sentence."""
    if text is None:
        return None
    match = _STEPS.match(text.replace("_", ""))
    if not match:
        raise PlaygroundError(f"{flag} must be a positive whole number such as 100000, 1e6 or 100k, not '{text}'.")
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0 or value != int(value):
        raise PlaygroundError(f"{flag} must be a positive whole number, not '{text}'.")
    if value > MAX_STEPS:
        raise PlaygroundError(f"{flag} must be at most {MAX_STEPS:.0e} (a trillion steps), not '{text}'.")
    return int(value)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


# -- progress --------------------------------------------------------------------------------
class _SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.fields.get("sps")
        return Text(f"{speed:,.0f} steps/s" if speed else "… steps/s", style="cyan")


class _ScoreColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        score = task.fields.get("score")
        evaluation = task.fields.get("eval")
        parts = []
        if score is not None:
            parts.append(f"score {score:.1f}")
        if evaluation is not None:
            parts.append(f"eval {evaluation.mean:.1f}±{evaluation.std:.1f}")
        return Text("  ".join(parts) or "no game finished yet", style="green")


class _ProgressView:
    """A rich progress bar on stderr, fed by ``training.Progress`` reports; off with ``--json``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Progress | None = None
        self.task: Any = None
        self._last_plain = 0.0

    def __enter__(self) -> _ProgressView:
        if not self.quiet:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"),
                _SpeedColumn(),
                _ScoreColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            )
            self.bar.__enter__()
        return self

    def __call__(self, report: Any) -> None:
        if self.bar is None:
            return
        if self.task is None:
            self.task = self.bar.add_task(report.run_id, total=report.total, completed=report.step)
        self.bar.update(
            self.task,
            total=report.total,
            completed=report.step,
            sps=report.steps_per_s,
            score=report.mean_score,
            eval=report.last_eval,
        )

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _run_in_foreground(run_id: str, resume: bool, as_json: bool) -> None:
    from playground import runs, training

    with _ProgressView(quiet=as_json) as view:
        run = training.execute(run_id, resume=resume, progress=view)
    if as_json:
        _print_json(runs.record(run, detail=True))
        return
    last = runs.record(run)["last_eval"]
    line = f"{run.id} {run.status} at step {run.step:,}"
    if last:
        line += f"; last evaluation {last['mean']:.2f} ± {last['std']:.2f} over {last['n_episodes']} games"
    out.print(line)
    if run.status == "stopped":
        out.print(f"resume with: playground rl resume {run.id}")


# -- rl ----------------------------------------------------------------------------------------
@rl_app.command("train")
def rl_train(
    algo: Annotated[str, typer.Argument(help="dqn, ppo, a2c or a3c")],
    env: Annotated[str, typer.Argument(help="a Gymnasium id: CartPole-v1, ALE/Pong-v5, …")],
    steps: Annotated[Optional[str], typer.Option(help="total environment steps (100000, 1e6, 100k); default from the preset")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    envs: Annotated[Optional[int], typer.Option("--envs", "--workers", help="parallel environments (A3C: worker processes); default from the preset (A3C: one per core)")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    preset: Annotated[Optional[str], typer.Option(help="hyperparameter preset; default: the one made for ENV")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="override one hyperparameter: KEY=VALUE (repeatable)")] = [],  # noqa: B006
    name: Annotated[Optional[str], typer.Option(help="a name of your own for this run")] = None,
    eval_every: Annotated[Optional[str], typer.Option(help="evaluate every N steps (default: 10 times per run)")] = None,
    eval_episodes: Annotated[int, typer.Option(help="whole games per evaluation")] = 10,
    checkpoint_every: Annotated[Optional[str], typer.Option(help="checkpoint every N steps (default: at each evaluation)")] = None,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="also write TensorBoard event files")] = False,
    save_replay_buffer: Annotated[bool, typer.Option("--save-replay-buffer", help="DQN: keep the replay buffer for resume")] = False,
    env_backend: Annotated[str, typer.Option(help="Atari envs: auto, fast (ale-py C++ vector env) or sb3 (SB3's wrappers)")] = "auto",
    detach: Annotated[bool, typer.Option("--detach", help="train in the background; print the run id and return")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Train an agent. Prints the run id first; Ctrl-C saves a checkpoint and leaves the run stopped."""
    from playground import config as config_mod
    from playground import jobs, training

    if env_backend not in ("auto", "fast", "sb3"):
        raise PlaygroundError(f"--env-backend must be auto, fast or sb3, not '{env_backend}'.")
    cfg = config_mod.build_rl_config(
        algo,
        env,
        steps=parse_steps(steps),
        seed=seed,
        n_envs=envs,
        device=device,
        preset=preset,
        sets=set_,
        eval_every=parse_steps(eval_every, "--eval-every"),
        eval_episodes=eval_episodes,
        checkpoint_every=parse_steps(checkpoint_every, "--checkpoint-every"),
        tensorboard=tensorboard,
        save_replay_buffer=save_replay_buffer,
        env_backend=env_backend,  # type: ignore[arg-type]
    )
    from playground.settings import resolve_device

    resolve_device(cfg.device)  # refuse cuda on a machine without one before creating the run
    training.check_buildable(cfg)
    run = training.create_run(cfg, label=name)
    sys.stdout.write(run.id + "\n")
    sys.stdout.flush()
    if detach:
        pid = jobs.start(run)
        err.print(f"training in the background (pid {pid}); follow with `playground runs show {run.id}`, "
                  f"stop with `playground runs stop {run.id}`.")
        return
    _run_in_foreground(run.id, resume=False, as_json=as_json)


@rl_app.command("resume")
def rl_resume(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    steps: Annotated[Optional[str], typer.Option(help="new total steps (must exceed the checkpoint's step)")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="resume in the background")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Continue a stopped or failed run from its last checkpoint."""
    from playground import jobs, training

    prepared = training.prepare_resume(run, parse_steps(steps))
    sys.stdout.write(prepared.id + "\n")
    sys.stdout.flush()
    if detach:
        pid = jobs.start(prepared, resume=True)
        err.print(f"resumed in the background (pid {pid}).")
        return
    _run_in_foreground(prepared.id, resume=True, as_json=as_json)


@rl_app.command("_run", hidden=True)
def rl_run_job(run_id: str, resume: bool = typer.Option(False, "--resume")) -> None:
    """Train an already created run (what background jobs execute)."""
    from playground import training

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    training.execute(run_id, resume=resume)


@rl_app.command("eval")
def rl_eval(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    episodes: Annotated[int, typer.Option(help="whole games to play")] = 10,
    checkpoint: Annotated[str, typer.Option(help="best, latest or a step number")] = "best",
    seed: Annotated[Optional[int], typer.Option(help="seed of the evaluation games")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Play whole games with a checkpoint and report raw scores; the result is stored."""
    from playground import training

    evaluation = training.evaluate_run(run, episodes=episodes, which=checkpoint, seed=seed, device=device)
    if as_json:
        _print_json(
            {
                "run_id": evaluation.run_id,
                "step": evaluation.step,
                "checkpoint": evaluation.checkpoint,
                "episodes": evaluation.n_episodes,
                "scores": evaluation.scores,
                "mean": evaluation.mean,
                "std": evaluation.std,
                "seed": evaluation.seed,
            }
        )
        return
    scores = ", ".join(f"{s:g}" for s in evaluation.scores)
    out.print(f"{evaluation.run_id} at step {evaluation.step:,}: mean {evaluation.mean:.2f} ± {evaluation.std:.2f} "
              f"over {evaluation.n_episodes} games")
    out.print(f"scores: {scores}")


@rl_app.command("import")
def rl_import(
    file: Annotated[Path, typer.Argument(help="a stable-baselines3 .zip")],
    env: Annotated[str, typer.Option(help="the environment it was trained on, e.g. ALE/Pong-v5")],
    algo: Annotated[str, typer.Option(help="dqn, ppo or a2c (stable-baselines3 models)")],
    name: Annotated[Optional[str], typer.Option(help="a name of your own for the run")] = None,
) -> None:
    """Import a model trained elsewhere (e.g. with RL Baselines3 Zoo) as a run."""
    from playground.importing import import_sb3_zip

    run = import_sb3_zip(file, env, algo, label=name)
    sys.stdout.write(run.id + "\n")
    err.print(f"imported at step {run.step:,}; evaluate it with `playground rl eval {run.id}`.")


@rl_app.command("presets")
def rl_presets(algo: Annotated[Optional[str], typer.Argument(help="dqn, ppo, a2c or a3c")] = None) -> None:
    """The tuned hyperparameter presets and where their numbers come from."""
    import agents
    from agents import presets

    table = Table("algo", "preset", "envs", "steps", "envs×", "hyperparameters", "source")
    for name in [agents.get(algo).name] if algo else agents.names():
        for p in presets.presets_for(name).values():
            hyper = ", ".join(f"{k}={v}" for k, v in p.hyperparameters.items())
            envs_text = p.envs if isinstance(p.envs, str) else ", ".join(p.envs)
            table.add_row(name, p.name, envs_text, f"{p.steps:,}", str(p.n_envs), hyper, p.source)
    out.print(table)


# -- runs --------------------------------------------------------------------------------------
@runs_app.command("list")
def runs_list(
    kind: Annotated[Optional[str], typer.Option(help="rl or gan")] = None,
    env: Annotated[Optional[str], typer.Option(help="environment id")] = None,
    algo: Annotated[Optional[str], typer.Option(help="algorithm")] = None,
    status: Annotated[Optional[str], typer.Option(help="created, running, stopped, finished or failed")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every run in the store, oldest first."""
    from playground import runs
    from playground.store import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise PlaygroundError(f"--status must be one of {', '.join(RUN_STATUSES)}, not '{status}'.")
    records = [runs.record(r) for r in runs.list_runs(kind=kind, env=env, algo=algo, status=status)]
    if as_json:
        _print_json(records)
        return
    if not records:
        out.print("no runs yet; start one with: playground rl train ppo CartPole-v1")
        return
    table = Table("id", "name", "env", "status", "step", "best eval", "created")
    for r in records:
        best = r["best_eval"]
        table.add_row(
            r["id"], r["name"] or "", r["env"], r["status"], f"{r['step']:,}/{r['total_steps'] or 0:,}",
            f"{best['mean']:.1f}±{best['std']:.1f}" if best else "", (r["created_at"] or "")[:16],
        )
    out.print(table)


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One run: status, config, evaluations and checkpoints."""
    from playground import runs

    record = runs.record(runs.get(run), detail=True)
    if as_json:
        _print_json(record)
        return
    out.print(f"{record['id']} {record['status']}  {record['algo']} on {record['env']}  "
              f"step {record['step']:,}/{record['total_steps'] or 0:,}")
    if record["error"]:
        out.print(Text("error: ", style="red") + Text(record["error"]))
    out.print(f"folder: {record['folder']}")
    cfg = record["config"]
    out.print(f"preset {cfg.get('preset')}, seed {cfg.get('seed')}, envs {cfg.get('n_envs')}, "
              f"hyperparameters: {cfg.get('hyperparameters')}")
    if record["evaluations"]:
        table = Table("step", "mean", "std", "games", "scores")
        for e in record["evaluations"]:
            table.add_row(f"{e['step']:,}", f"{e['mean']:.2f}", f"{e['std']:.2f}", str(e["n_episodes"]),
                          ", ".join(f"{s:g}" for s in e["scores"][:12]))
        out.print(table)
    out.print("checkpoints: " + (", ".join(f"{c['step']:,}" for c in record["checkpoints"]) or "none"))
    out.print("metrics: " + ", ".join(record["metric_keys"]))


@runs_app.command("compare")
def runs_compare(
    run_refs: Annotated[list[str], typer.Argument(metavar="RUN...", help="two or more runs")],
    metric: Annotated[Optional[str], typer.Option(help="metric key; default eval/mean, else episode/score")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="PNG, SVG or HTML file")] = Path("compare.png"),
) -> None:
    """Curves of several runs in one picture."""
    from playground import compare, runs

    chosen = [runs.get(r) for r in run_refs]
    path = compare.write(chosen, out_file, metric)
    out.print(f"wrote {path}")


@runs_app.command("stop")
def runs_stop(run: Annotated[str, typer.Argument(help="run id, name or 'latest'")]) -> None:
    """Ask a running training to stop cleanly at its next step, with a checkpoint."""
    from playground import runs

    stopped = runs.request_stop(run)
    out.print(f"asked {stopped.id} to stop; it saves a checkpoint and ends as 'stopped'.")


@runs_app.command("delete")
def runs_delete(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Delete a run: its rows in the store and its folder."""
    from playground import runs

    target = runs.get(run)
    if not yes and not typer.confirm(f"delete {target.id} and its folder {target.folder}?"):
        raise typer.Exit(1)
    runs.delete(target.id)
    out.print(f"deleted {target.id}")


@app.command("envs")
def envs_list(atari: Annotated[bool, typer.Option("--atari", help="only Atari games")] = False) -> None:
    """Environment ids you can train on."""
    from playground import envs

    for env_id in envs.list_ids(atari_only=atari):
        sys.stdout.write(env_id + "\n")


def main() -> None:
    try:
        app()
    except PlaygroundError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:  # training handles its own Ctrl-C; elsewhere there is nothing to save
        err.print("interrupted")
        sys.exit(130)
