"""The headless door: ``playground rl …`` and ``playground runs …``.

Each command is a thin call into the modules that do the work. Errors a user can cause print
``error: <sentence>`` and exit with status 2; ``--json`` output is documented in docs/cli-json.md.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
import typer.main
from rich.console import Console
from rich.progress import (BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from playground import threads
from playground.errors import PlaygroundError
from playground.i18n import ENV_VAR, Words, check_language, language, say, set_language
from playground.numbers import parse_steps

# -- help: what a newcomer reads first ----------------------------------------------------------
# Typer's help prints each option's Python type (`--json <bool>`, `--set <list[str]>`) and wraps a
# required argument in braces (`{run}`, which reads like a set of choices). Here a flag shows no value
# (it takes none), an option shows a word for what to type, and an argument its name in capitals.
_VALUE_NAMES = {"--steps": "N", "--iters": "N", "--eval-every": "N", "--checkpoint-every": "N", "--set": "KEY=VALUE",
                "--checkpoint": "WHICH", "--record": "FILE", "--out": "FILE", "--inception": "FILE",
                "--env-backend": "BACKEND", "--metric": "KEY", "--lang": "LANG"}


class _Argument(TyperArgument):
    """An argument as click always showed it: ``RUN`` (``[NAME]`` when optional), with no Python type."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [self.display_name_raw if self.required else f"[{self.display_name_raw}]"]

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _no_value(option: Any) -> Any:
    if option is not None:  # typer's own --help is a flag too
        option.metavar = ""
    return option


class _Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _plain_param(param)

    def get_help_option(self, ctx: Any) -> Any:
        return _no_value(super().get_help_option(ctx))


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        return _no_value(super().get_help_option(ctx))


class _Typer(typer.Typer):
    """A Typer whose groups and commands print the plain help above."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=_Group, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


def _plain_param(param: Any) -> None:
    if isinstance(param, TyperArgument):
        param.__class__ = _Argument  # a subclass that only changes how it is shown
        param.metavar = param.metavar or param.name.upper()
        return
    if param.metavar is not None:
        return
    long = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    annotation = param.type_descriptor.annotation
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    elif long in _VALUE_NAMES:
        param.metavar = _VALUE_NAMES[long]
    elif annotation is int:
        param.metavar = "N"
    elif annotation is Path:
        param.metavar = "PATH"
    else:
        param.metavar = long.lstrip("-").replace("-", "_").upper()


app = _Typer(help="Train, watch and compare RL agents and GANs.", no_args_is_help=True, add_completion=False)
rl_app = _Typer(help="Train, resume, evaluate and import RL agents.", no_args_is_help=True)
runs_app = _Typer(help="List, inspect, compare, stop and delete runs.", no_args_is_help=True)
gan_app = _Typer(help="Train, resume, sample, translate and evaluate GANs.", no_args_is_help=True)
app.add_typer(rl_app, name="rl")
app.add_typer(gan_app, name="gan")
app.add_typer(runs_app, name="runs")
users_app = _Typer(help="The accounts of a served app (a class on one machine): add, list, passwd, remove.",
                   no_args_is_help=True)
app.add_typer(users_app, name="users")
# What the web app asks of the engine, which its own process never loads (JSON on stdout).
ui_app = _Typer(help="Answers for the web app, from the engine.", no_args_is_help=True)
app.add_typer(ui_app, name="_ui", hidden=True)

# Names, paths and errors come from users: never read them as rich markup.
out = Console(markup=False, highlight=False)
err = Console(stderr=True, markup=False, highlight=False)

def _player() -> str | None:
    """Who is at this door: the game's active profile (the run lifecycle never asks the game itself)."""
    from playground.game.profiles import active_player

    try:
        return active_player()
    except PlaygroundError:
        return None


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


# -- progress --------------------------------------------------------------------------------
def _unit(unit: str) -> str:
    """``steps`` or ``iters`` as a person reads it."""
    return {"steps": say("cli.unit_steps"), "iters": say("cli.unit_iters")}.get(unit, unit)


def _literal(text: str) -> str:
    """A translated text inside a progress column's template: no markup, no format fields."""
    from rich.markup import escape

    return escape(text).replace("{", "{{").replace("}", "}}")


def _status(status: str) -> str:
    """A run's status as a person reads it (``--json`` keeps the word the options take)."""
    return {"created": say("cli.status_created"), "running": say("cli.status_running"),
            "stopped": say("cli.status_stopped"), "finished": say("cli.status_finished"),
            "failed": say("cli.status_failed")}.get(status, status)


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal cells (a Chinese character takes two)."""
    from rich.cells import cell_len

    return text + " " * max(0, width - cell_len(text))


class _SpeedColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.fields.get("sps")
        unit = _unit(task.fields.get("unit", "steps"))
        text = say("cli.progress_speed", speed=speed, unit=unit) if speed else say("cli.progress_no_speed", unit=unit)
        return Text(text, style="cyan")


class _ScoreColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        if task.fields.get("detail"):
            return Text(task.fields["detail"], style="green")
        if task.fields.get("unit") == "iters":  # GANs play no games: their numbers are the losses
            return Text(say("cli.progress_gan_losses_later"), style="green")
        score = task.fields.get("score")
        evaluation = task.fields.get("eval")
        parts = []
        if score is not None:
            parts.append(say("cli.progress_score", score=score))
        if evaluation is not None:
            parts.append(say("cli.progress_eval", mean=evaluation.mean, std=evaluation.std))
        return Text("  ".join(parts) or say("cli.progress_no_game_yet"), style="green")


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
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} {task.fields[unit_word]}"),
                _SpeedColumn(),
                _ScoreColumn(),
                TextColumn(_literal(say("cli.progress_eta"))),
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
            self.task = self.bar.add_task(report.run_id, total=report.total, completed=report.step, unit=report.unit,
                                          unit_word=_unit(report.unit))
        self.bar.update(
            self.task,
            total=report.total,
            completed=report.step,
            sps=report.steps_per_s,
            score=report.mean_score,
            eval=report.last_eval,
            detail=report.detail,
        )

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# How long the one-off training of each feature network took here (the first `gan eval` waits for it): 7-9 s on
# 2 idle cores, 60 s while other training kept them busy.
def _feature_net_time(network: str) -> Words | None:
    return Words("cli.feature_net_time_mnist") if network == "mnist" else None


class _FeatureNetView:
    """The first ``gan eval`` trains the network it measures with: a line saying so, and a bar on stderr
    (``--json``: the line only), fed by ``gans.metrics.NetworkProgress`` reports."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.announced = False
        self.bar: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> _FeatureNetView:
        return self

    def __call__(self, report: Any) -> None:
        if not self.announced:
            self.announced = True
            usual = _feature_net_time(report.network)
            err.print(say("cli.feature_net_training", network=report.network,
                          usual=Words("cli.feature_net_usual", time=usual) if usual else ""), soft_wrap=True)
            if self.quiet:
                return
            steps, epoch, eta = (_literal(say("cli.unit_steps")), _literal(say("cli.feature_net_epoch")),
                                 _literal(say("cli.progress_eta")))
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + steps),
                                TextColumn(epoch + " {task.fields[epoch]}"), TimeElapsedColumn(), TextColumn(eta),
                                TimeRemainingColumn(), console=err)
            self.bar.__enter__()
        if self.bar is None or not report.total:  # no bar while the labelled images are being prepared
            return
        if self.task is None:
            self.task = self.bar.add_task(say("cli.feature_net_bar", network=report.network), total=report.total,
                                          epoch="")
        self.bar.update(self.task, completed=report.step, epoch=f"{report.epoch}/{report.epochs}")

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print_detached(run: Any, pid: int) -> None:
    """``--detach --json``: the run as ``runs show`` lists it, with its background job's pid."""
    from playground import runs

    _print_json({**runs.record(run), "pid": pid})


def _run_in_foreground(run_id: str, resume: bool, as_json: bool, kind: str = "rl", checkpoint: str = "latest") -> None:
    from playground import runs

    if kind == "gan":
        from playground.gan_training import execute
    else:
        from playground.training import execute
    with _ProgressView(quiet=as_json) as view:
        run = execute(run_id, resume=resume, progress=view, checkpoint=checkpoint)
    if as_json:
        _print_json(runs.record(run, detail=True))
        _announce_awards()
        return
    _say_run_ended(run, kind)


def _say_run_ended(run: Any, kind: str) -> None:
    """The line a run that trained in the foreground ends with, what to do next, and the awards it won."""
    from playground import runs

    last = runs.record(run)["last_eval"]
    if kind == "gan":
        line = say("cli.gan_run_ended", run=run.id, status=_status(run.status), step=run.step, folder=run.folder)
    else:
        line = say("cli.rl_run_ended", run=run.id, status=_status(run.status), step=run.step,
                   last=Words("cli.rl_run_last_eval", mean=last["mean"], std=last["std"], games=last["n_episodes"])
                   if last else "")
    out.print(line, soft_wrap=True)  # a folder cut in two cannot be copied
    if run.status == "stopped":
        out.print(say("cli.resume_with", kind=kind, run=run.id))
    _announce_awards()
    if run.status == "finished":
        _print_next_steps(run.id, kind)


def _print_next_steps(run_id: str, kind: str) -> None:
    """What to do with a finished run, and the challenge ``playground profile`` would suggest next: a
    newcomer should not have to find these commands in the README."""
    if kind == "gan":
        steps = [(say("cli.next_watch"), f"playground gan watch {run_id}"),
                 (say("cli.next_measure"), f"playground gan eval {run_id}"),
                 (say("cli.next_sample"), f"playground gan sample {run_id} --n 64 --out grid.png")]
    else:
        steps = [(say("cli.next_watch"), f"playground watch {run_id}"),
                 (say("cli.next_evaluate"), f"playground rl eval {run_id}")]
    out.print(say("cli.next_header"))
    for what, command in steps:
        out.print(f"  {_pad(what, 16)}{command}", soft_wrap=True)
    challenge = _next_challenge()
    if challenge is not None:
        title, xp, command = challenge
        out.print(f"  {_pad(say('cli.next_challenge'), 16)}{say('cli.next_challenge_title', title=title, xp=xp)}",
                  soft_wrap=True)
        out.print(f"  {'':<16}{command}", soft_wrap=True)


def _next_challenge() -> tuple[str, int, str] | None:
    """The active player's next challenge as ``profile`` picks it: its title, XP and first command (None
    when every challenge is met, or when the game cannot be read: a finished run must not fail here)."""
    from playground.game import profiles
    from playground.game.core import Game

    try:
        challenge = Game(sync=False).next_challenge(profiles.active_player())  # announce() synced just now
    except PlaygroundError as exc:
        logging.getLogger(__name__).warning("could not pick the next challenge: %s", exc)
        return None
    except Exception:  # a bug in the game must not turn a finished training into a failure
        logging.getLogger(__name__).exception("could not pick the next challenge")
        return None
    if challenge is None or not challenge.commands:
        return None
    return challenge.text("title", language()), challenge.xp, challenge.commands[0]


# -- where runs train: a local process or Ray (playground.cluster), one run or a seeds group -----------------------
_ON_HELP = ("where to train: ray (RAY_ADDRESS, else a Ray on this machine), ray://HOST:10001 or HOST:6379 (a cluster);"
            " default: a process here")
_CPUS_HELP = "with --on: CPU cores each run takes on its node (default 1; 0.5 shares one)"
_GPUS_HELP = "with --on: GPUs each run takes (0.25: four runs share a card; default 0)"
_RESOURCE_HELP = "with --on: a resource a node was started with, NAME=N (repeatable): places runs on such nodes"
_SEEDS_HELP = "one run per seed, as one group: 0,1,2 (those seeds) or 5 (seeds 0 to 4)"


def _prepare(on: str | None, cpus: float | None, gpus: float | None, resource: list[str], seeds: str | None,
             seed: int | None) -> tuple[Any, list[int] | None]:
    """The checked placement (None: a local process) and seeds (None: one run), before anything is created."""
    from playground import cluster, jobs

    placement = cluster.check_placement(on, cpus, gpus, resource)
    seed_list = jobs.check_seeds(seeds)
    if seed_list is not None and seed is not None:
        raise PlaygroundError("ray.seeds_and_seed")
    return placement, seed_list


def _reach(placement: Any, detach: bool) -> None:
    """The cluster answers, before a run exists: in the foreground this process is the driver (connected, and a
    node has what a run asks); a background driver connects by itself, so a quick look at the address will do."""
    if placement is None:
        return
    from playground import cluster

    if detach:
        cluster.check_reachable(placement.on)
        return
    address = cluster.connect(placement.on)
    cluster.check_fits(placement)
    err.print(say("ray.connected", address=address), soft_wrap=True)


def _create_and_start(kind: str, configs: list[Any], seed_list: list[int] | None, name: str | None, placement: Any,
                      detach: bool, as_json: bool) -> None:
    """Create the run (or, with ``--seeds``, the group of runs) that ``configs`` describe, print each id on a line
    of its own, and start them here or on Ray (``placement``)."""
    from playground import jobs

    _reach(placement, detach)
    here = placement is None  # on Ray the node checks its own device
    if seed_list is None:
        made, group = [jobs.create(configs[0], label=name, player=_player(), here=here)], None
    else:
        group, made = jobs.create_group(configs, label=name, player=_player(), here=here)
    for run in made:
        sys.stdout.write(run.id + "\n")
    sys.stdout.flush()
    _start(kind, made, group, placement, detach, as_json)


def _start(kind: str, made: list[Any], group: str | None, placement: Any, detach: bool, as_json: bool, *,
           resume: bool = False, checkpoint: str = "latest") -> None:
    """Train runs that exist (one, or a seeds group) where they were asked to: here in this process, as local jobs,
    or on Ray (a background driver, or this process as the driver)."""
    from playground import jobs

    if group is None and placement is None:  # one run in a process of this machine: as always
        if detach:
            pid = (jobs.start(made[0], resume=True, checkpoint=checkpoint, reap=False) if resume
                   else jobs.start(made[0], reap=False))  # this process exits at once: init collects the job
            if as_json:
                _print_detached(made[0], pid)
            elif resume:
                err.print(say("cli.resumed_detached", pid=pid))
            elif kind == "gan":
                err.print(say("cli.gan_detached", pid=pid, folder=made[0].folder, run=made[0].id), soft_wrap=True)
            else:
                err.print(say("cli.rl_detached", pid=pid, run=made[0].id), soft_wrap=True)
            return
        _run_in_foreground(made[0].id, resume=resume, as_json=as_json, kind=kind, checkpoint=checkpoint)
        return
    if group is not None and not as_json:
        err.print(say("ray.group_started", group=group, count=len(made),
                      seeds=", ".join(str(r.seed) for r in made)), soft_wrap=True)
    if detach:
        if placement is not None:
            pid = jobs.start_on_ray(made, placement, resume=resume, checkpoint=checkpoint, reap=False)
            pids = {run.id: pid for run in made}
        else:
            pids = {run.id: jobs.start(run, reap=False) for run in made}
        if as_json:
            from playground import runs

            records = [{**runs.record(run), "pid": pids[run.id]} for run in made]
            _print_json({"group_id": group, "runs": records} if group is not None else records[0])
        elif group is not None:
            err.print(say("ray.group_detached", group=group), soft_wrap=True)
        else:
            err.print(say("ray.detached", run=made[0].id, pid=pids[made[0].id]), soft_wrap=True)
        return
    ids = [run.id for run in made]
    with _StoreWatch(ids, quiet=as_json) as watch:
        if placement is not None:
            from playground import cluster

            try:
                cluster.run_on_ray(ids, placement, resume=resume, checkpoint=checkpoint, tick=watch)
            finally:
                cluster.disconnect()
        else:
            _wait_for_jobs([run for run in made], watch)
    _print_ended(kind, ids, group, as_json)


def _wait_for_jobs(made: list[Any], tick: Any) -> None:
    """Local jobs of a group, side by side, until each has ended; Ctrl-C asks them all to stop (with a checkpoint),
    a second one leaves them to it."""
    import time

    from playground import jobs, runs

    for run in made:
        jobs.start(run)
    asked = False
    while True:
        try:
            if all(runs.get(run.id).status not in ("created", "running") for run in made):
                return
            tick()
            time.sleep(0.5)
        except KeyboardInterrupt:
            if asked:
                raise
            asked = True
            err.print(say("ray.stopping"))
            for run in made:
                try:
                    runs.request_stop(run.id)
                except PlaygroundError:
                    pass


class _StoreWatch:
    """Progress bars on stderr for runs that train in other processes (Ray workers, local jobs), from the store:
    the step, speed and status each trainer's heartbeat left there. Off with ``--json``."""

    def __init__(self, run_ids: list[str], quiet: bool) -> None:
        self.run_ids = run_ids
        self.quiet = quiet
        self.bar: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _StoreWatch:
        if not self.quiet:
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), _SpeedColumn(),
                                TextColumn("{task.fields[state]}"), console=err, transient=False)
            self.bar.__enter__()
        return self

    def __call__(self) -> None:
        if self.bar is None:
            return
        from playground.store import get_store

        store = get_store()
        for run_id in self.run_ids:
            run = store.get_run(run_id)
            unit = "iters" if run.kind == "gan" else "steps"
            if run_id not in self.tasks:
                self.tasks[run_id] = self.bar.add_task(run_id, total=run.total_steps or 1, unit=unit, state="")
            self.bar.update(self.tasks[run_id], total=run.total_steps or 1, completed=run.step,
                            sps=run.steps_per_s, state=_status(run.status))

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self()
            self.bar.__exit__(*exc)


def _print_ended(kind: str, ids: list[str], group: str | None, as_json: bool) -> None:
    """How runs trained elsewhere ended: as a run in the foreground says it (one run), or the group's line and
    one line per seed. Exit status 1 when one failed (its sentence is on its line)."""
    from playground import runs

    ended = [runs.get(run_id) for run_id in ids]
    if as_json:
        records = [runs.record(run, detail=True) for run in ended]
        _print_json({"group_id": group, "runs": records} if group is not None else records[0])
    elif group is None:
        _say_run_ended(ended[0], kind)
        if ended[0].status == "failed" and ended[0].error:
            err.print(f"error: {ended[0].error}", soft_wrap=True)
    else:
        summary = runs.group_summary(runs.records(ended))
        best = (f"{summary['mean']:.2f} ± {summary['std']:.2f}" if summary["mean"] is not None
                else say("ray.group_no_eval"))
        out.print(say("ray.group_ended", group=group, finished=summary["finished"], count=len(ended), best=best),
                  soft_wrap=True)
        for run, record in zip(ended, runs.records(ended)):
            note = run.error or (f"{record['best_eval']['mean']:.2f}" if record["best_eval"] else "")
            out.print(say("ray.group_run_line", run=run.id, seed=run.seed, status=_status(run.status), note=note),
                      soft_wrap=True)
        _announce_awards()
    if any(run.status == "failed" for run in ended):
        raise typer.Exit(1)


# -- rl ----------------------------------------------------------------------------------------
@rl_app.command("train")
def rl_train(
    algo: Annotated[str, typer.Argument(help="dqn, ppo, a2c, a3c, sb3-dqn (stable-baselines3's DQN), or a table: qlearning, sarsa, expected-sarsa, value-iteration, policy-iteration")],
    env: Annotated[str, typer.Argument(help="a Gymnasium id: CartPole-v1, ALE/Pong-v5, …")],
    steps: Annotated[Optional[str], typer.Option(help="total environment steps (100000, 1e6, 100k); default from the preset")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed (default 0)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help=_SEEDS_HELP, metavar="SEEDS")] = None,
    envs: Annotated[Optional[int], typer.Option("--envs", "--workers", help="parallel environments (A3C: worker processes); default from the preset (A3C: one per core)")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    preset: Annotated[Optional[str], typer.Option(help="hyperparameter preset; default: the one made for ENV")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="override one hyperparameter (repeatable)")] = [],  # noqa: B006
    name: Annotated[Optional[str], typer.Option(help="a name of your own for this run")] = None,
    eval_every: Annotated[Optional[str], typer.Option(help="evaluate every N steps (default: 10 times per run)")] = None,
    eval_episodes: Annotated[int | None, typer.Option(help="whole games per evaluation (default: the preset's, or 10)")] = None,
    checkpoint_every: Annotated[Optional[str], typer.Option(help="checkpoint every N steps (default: at each evaluation)")] = None,
    keep: Annotated[int, typer.Option("--keep", help="keep the newest N checkpoints (every evaluated one is kept too)")] = 1,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="also write TensorBoard event files")] = False,
    save_replay_buffer: Annotated[bool, typer.Option("--save-replay-buffer", help="DQN: keep the replay buffer for resume")] = False,
    env_backend: Annotated[str, typer.Option(help="Atari envs: auto, fast (ale-py C++ vector env) or sb3 (SB3's wrappers)")] = "auto",
    on: Annotated[Optional[str], typer.Option("--on", help=_ON_HELP, metavar="WHERE")] = None,
    cpus: Annotated[Optional[float], typer.Option(help=_CPUS_HELP, metavar="N")] = None,
    gpus: Annotated[Optional[float], typer.Option(help=_GPUS_HELP, metavar="N")] = None,
    resource: Annotated[list[str], typer.Option("--resource", help=_RESOURCE_HELP, metavar="NAME=N")] = [],  # noqa: B006
    detach: Annotated[bool, typer.Option("--detach", help="train in the background; print the run id and return")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Train an agent. Prints the run id first (a seeds group: each run's); Ctrl-C saves a checkpoint and leaves
    the run stopped."""
    from playground import config as config_mod

    if env_backend not in ("auto", "fast", "sb3"):
        raise PlaygroundError("cli.bad_env_backend", backend=env_backend)
    placement, seed_list = _prepare(on, cpus, gpus, resource, seeds, seed)
    configs = [_rl_config(config_mod, algo, env, steps, one, envs, device, preset, set_, eval_every, eval_episodes,
                          checkpoint_every, tensorboard, save_replay_buffer, env_backend, keep)
               for one in (seed_list or [seed or 0])]
    _create_and_start("rl", configs, seed_list, name, placement, detach, as_json)


def _rl_config(config_mod: Any, algo: str, env: str, steps: str | None, seed: int, envs: int | None, device: str,
               preset: str | None, set_: list[str], eval_every: str | None, eval_episodes: int | None,
               checkpoint_every: str | None, tensorboard: bool, save_replay_buffer: bool, env_backend: str,
               keep: int) -> Any:
    return config_mod.build_rl_config(
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
        keep_checkpoints=keep,
    )


@rl_app.command("resume")
def rl_resume(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    steps: Annotated[Optional[str], typer.Option(help="new total steps (must exceed the checkpoint's step)")] = None,
    checkpoint: Annotated[str, typer.Option(help="latest, or the step of an older checkpoint (when the newest is damaged)")] = "latest",
    on: Annotated[Optional[str], typer.Option("--on", help=_ON_HELP, metavar="WHERE")] = None,
    cpus: Annotated[Optional[float], typer.Option(help=_CPUS_HELP, metavar="N")] = None,
    gpus: Annotated[Optional[float], typer.Option(help=_GPUS_HELP, metavar="N")] = None,
    resource: Annotated[list[str], typer.Option("--resource", help=_RESOURCE_HELP, metavar="NAME=N")] = [],  # noqa: B006
    detach: Annotated[bool, typer.Option("--detach", help="resume in the background")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Continue a stopped or failed run from its last checkpoint (here, or on Ray with --on)."""
    from playground import training

    placement, _ = _prepare(on, cpus, gpus, resource, None, None)
    prepared = training.prepare_resume(run, parse_steps(steps), checkpoint=checkpoint)
    _reach(placement, detach)
    sys.stdout.write(prepared.id + "\n")
    sys.stdout.flush()
    _start("rl", [prepared], None, placement, detach, as_json, resume=True, checkpoint=checkpoint)


@rl_app.command("_run", hidden=True)
def rl_run_job(run_id: str, resume: bool = typer.Option(False, "--resume"),
               checkpoint: str = typer.Option("latest", "--checkpoint")) -> None:
    """Train an already created run (what background jobs execute)."""
    from playground import training

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    training.execute(run_id, resume=resume, checkpoint=checkpoint)


SCORES_SHOWN = 30  # games whose scores `rl eval` prints one by one (all are stored, and in --json)


@rl_app.command("eval")
def rl_eval(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    episodes: Annotated[Optional[int], typer.Option(help="whole games to play (default: as many as the run's own evaluations, at least 10)")] = None,
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
        _announce_awards()
        return
    shown = evaluation.scores[:SCORES_SHOWN]
    scores = ", ".join(f"{s:g}" for s in shown)
    if len(evaluation.scores) > len(shown):
        scores += say("cli.rl_eval_more", more=len(evaluation.scores) - len(shown))
    out.print(say("cli.rl_eval_line", run=evaluation.run_id, step=evaluation.step, mean=evaluation.mean,
                  std=evaluation.std, games=evaluation.n_episodes))
    out.print(say("cli.rl_eval_scores", scores=scores))
    _announce_awards()


@rl_app.command("import")
def rl_import(
    file: Annotated[Path, typer.Argument(help="a stable-baselines3 .zip")],
    env: Annotated[str, typer.Option(help="the environment it was trained on, e.g. ALE/Pong-v5")],
    algo: Annotated[str, typer.Option(help="dqn, ppo or a2c (stable-baselines3 models; a DQN zip becomes an sb3-dqn run)")],
    name: Annotated[Optional[str], typer.Option(help="a name of your own for the run")] = None,
) -> None:
    """Import a model trained elsewhere (e.g. with RL Baselines3 Zoo) as a run."""
    from playground.importing import import_sb3_zip

    run = import_sb3_zip(file, env, algo, label=name, player=_player())
    sys.stdout.write(run.id + "\n")
    err.print(say("cli.imported", step=run.step, run=run.id), soft_wrap=True)


@rl_app.command("presets")
def rl_presets(algo: Annotated[Optional[str], typer.Argument(help="dqn, ppo, a2c, a3c, sb3-dqn, qlearning, sarsa, expected-sarsa, value-iteration or policy-iteration")] = None) -> None:
    """The tuned hyperparameter presets and where their numbers come from."""
    import agents
    from agents import presets

    table = Table(say("cli.col_algo"), say("cli.col_preset"), say("cli.col_envs"), say("cli.col_steps"),
                  say("cli.col_envs_times"), say("cli.col_hyperparameters"), say("cli.col_source"))
    for name in [agents.get(algo).name] if algo else agents.names():
        for p in (version for preset in presets.presets_for(name).values() for version in preset.versions()):
            hyper = ", ".join(f"{k}={v}" for k, v in p.hyperparameters.items())
            envs_text = p.envs if isinstance(p.envs, str) else ", ".join(p.envs)
            table.add_row(name, p.name, envs_text, f"{p.steps:,}", str(p.n_envs), hyper, p.source)
    out.print(table)


# -- gan ---------------------------------------------------------------------------------------
@gan_app.command("train")
def gan_train(
    model: Annotated[str, typer.Argument(help="dcgan, cdcgan, wgan, infogan, pix2pix or cyclegan")],
    data: Annotated[str, typer.Argument(help="a built-in set (see `gan datasets`) or a folder")],
    epochs: Annotated[Optional[int], typer.Option(help="passes over the data (default from the preset)")] = None,
    iters: Annotated[Optional[str], typer.Option(help="training iterations instead of epochs (1000, 10k)")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="images per iteration (default from the preset)")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="side of the square images (DCGAN: 32 or 64)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed (default 0)")] = None,
    seeds: Annotated[Optional[str], typer.Option(help=_SEEDS_HELP, metavar="SEEDS")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    preset: Annotated[Optional[str], typer.Option(help="published settings to start from (see `gan presets`)")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="override one hyperparameter (repeatable)")] = [],  # noqa: B006
    sample_every: Annotated[Optional[int], typer.Option(help="save a sample grid every N iterations")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="checkpoint every N iterations")] = None,
    keep: Annotated[int, typer.Option("--keep", help="keep the newest N checkpoints (every measured one is kept too)")] = 2,
    name: Annotated[Optional[str], typer.Option(help="a name of your own for this run")] = None,
    on: Annotated[Optional[str], typer.Option("--on", help=_ON_HELP, metavar="WHERE")] = None,
    cpus: Annotated[Optional[float], typer.Option(help=_CPUS_HELP, metavar="N")] = None,
    gpus: Annotated[Optional[float], typer.Option(help=_GPUS_HELP, metavar="N")] = None,
    resource: Annotated[list[str], typer.Option("--resource", help=_RESOURCE_HELP, metavar="NAME=N")] = [],  # noqa: B006
    detach: Annotated[bool, typer.Option("--detach", help="train in the background; print the run id and return")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Train a GAN. Prints the run id first (a seeds group: each run's); Ctrl-C saves a checkpoint and leaves the
    run stopped."""
    from playground import config as config_mod

    placement, seed_list = _prepare(on, cpus, gpus, resource, seeds, seed)
    configs = [config_mod.build_gan_config(
        model, data, epochs=epochs, iters=parse_steps(iters, "--iters"), batch_size=batch_size, image_size=image_size,
        seed=one, device=device, preset=preset, sets=set_, sample_every=sample_every,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep,
    ) for one in (seed_list or [seed or 0])]
    for sentence in config_mod.gan_warnings(configs[0]):  # allowed, but the paper advises against it
        err.print(say("cli.warning", sentence=sentence), soft_wrap=True)
    _create_and_start("gan", configs, seed_list, name, placement, detach, as_json)


@gan_app.command("resume")
def gan_resume(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    iters: Annotated[Optional[str], typer.Option(help="new total iterations (must exceed the checkpoint's)")] = None,
    checkpoint: Annotated[str, typer.Option(help="latest, or the iteration of an older checkpoint (when the newest is damaged)")] = "latest",
    on: Annotated[Optional[str], typer.Option("--on", help=_ON_HELP, metavar="WHERE")] = None,
    cpus: Annotated[Optional[float], typer.Option(help=_CPUS_HELP, metavar="N")] = None,
    gpus: Annotated[Optional[float], typer.Option(help=_GPUS_HELP, metavar="N")] = None,
    resource: Annotated[list[str], typer.Option("--resource", help=_RESOURCE_HELP, metavar="NAME=N")] = [],  # noqa: B006
    detach: Annotated[bool, typer.Option("--detach", help="resume in the background")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="no progress bar; print the finished run as JSON")] = False,
) -> None:
    """Continue a stopped or failed GAN run from its last checkpoint, on the same curves (here, or on Ray with --on)."""
    from playground import gan_training

    placement, _ = _prepare(on, cpus, gpus, resource, None, None)
    prepared = gan_training.prepare_resume(run, parse_steps(iters, "--iters"), checkpoint=checkpoint)
    _reach(placement, detach)
    sys.stdout.write(prepared.id + "\n")
    sys.stdout.flush()
    _start("gan", [prepared], None, placement, detach, as_json, resume=True, checkpoint=checkpoint)


@gan_app.command("_run", hidden=True)
def gan_run_job(run_id: str, resume: bool = typer.Option(False, "--resume"),
                checkpoint: str = typer.Option("latest", "--checkpoint")) -> None:
    """Train an already created GAN run (what background jobs execute)."""
    from playground import gan_training

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    gan_training.execute(run_id, resume=resume, checkpoint=checkpoint)


@app.command("_ray", hidden=True)
def ray_driver(
    run_ids: Annotated[list[str], typer.Argument(help="runs that exist")],
    on: Annotated[str, typer.Option("--on")] = "ray",
    cpus: Annotated[Optional[float], typer.Option()] = None,
    gpus: Annotated[Optional[float], typer.Option()] = None,
    resource: Annotated[list[str], typer.Option("--resource")] = [],  # noqa: B006
    resume: Annotated[bool, typer.Option("--resume")] = False,
    checkpoint: Annotated[str, typer.Option("--checkpoint")] = "latest",
) -> None:
    """Train runs as Ray tasks and wait for them (what ``--on … --detach`` leaves in the background)."""
    from playground import cluster

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    placement = cluster.check_placement(on, cpus, gpus, resource)
    assert placement is not None
    try:
        for run_id, sentence in cluster.run_on_ray(run_ids, placement, resume=resume, checkpoint=checkpoint).items():
            logging.getLogger(__name__).info("%s: %s", run_id, sentence or "ended")
    finally:
        cluster.disconnect()


@gan_app.command("sample")
def gan_sample(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    n: Annotated[int, typer.Option("--n", help="how many images")] = 64,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="PNG file (default: in the run's samples/)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the noise")] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest or an iteration number")] = "latest",
    label: Annotated[Optional[str], typer.Option(help="cdcgan: only this class")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
) -> None:
    """A grid of new images (pix2pix and CycleGAN: input | output | target rows)."""
    from playground import gan_inference

    path = gan_inference.sample(run, n=n, out=out_file, seed=seed, which=checkpoint, label=label, device=device)
    out.print(say("cli.wrote", path=path))


@gan_app.command("translate")
def gan_translate(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest' (pix2pix or cyclegan)")],
    input_dir: Annotated[Path, typer.Argument(help="a folder of images")],
    output_dir: Annotated[Path, typer.Argument(help="where the translated images go (same names, .png)")],
    direction: Annotated[Optional[str], typer.Option(help="AtoB or BtoA (default: pix2pix's own direction; CycleGAN AtoB)")] = None,
    checkpoint: Annotated[str, typer.Option(help="latest or an iteration number")] = "latest",
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
) -> None:
    """Translate every image in a folder with a trained pix2pix or CycleGAN."""
    from playground import gan_inference

    written = gan_inference.translate(run, input_dir, output_dir, direction=direction, which=checkpoint, device=device)
    out.print(say("cli.wrote_images", n=len(written), folder=output_dir))


@gan_app.command("eval")
def gan_eval(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    n: Annotated[Optional[int], typer.Option("--n", help="images to compare (default: up to 1,000)")] = None,
    checkpoint: Annotated[str, typer.Option(help="latest or an iteration number")] = "latest",
    seed: Annotated[int, typer.Option(help="seed of the noise and of the real images drawn")] = 0,
    inception: Annotated[Optional[Path], typer.Option(help="the standard FID Inception weights file, for real FID")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Fréchet distance and KID against real images, on a network named in the result; stored."""
    from playground import gan_inference

    with _FeatureNetView(quiet=as_json) as view:
        result = gan_inference.evaluate(run, n=n, which=checkpoint, seed=seed, inception_weights=inception,
                                        device=device, progress=view)
    if as_json:
        _print_json(result)
        _announce_awards()
        return
    from gans.metrics import kid_name

    extra = ""
    if "psnr" in result:
        extra += say("cli.gan_eval_psnr", value=result["psnr"])
    if "l1" in result:
        extra += say("cli.gan_eval_l1", value=result["l1"])
    if "cycle_l1" in result:
        extra += say("cli.gan_eval_cycle_l1", value=result["cycle_l1"])
    if "code_accuracy" in result:
        matching = ", ".join(f"{value}→{digit}" for value, digit in enumerate(result["code_matching"]))
        extra += say("infogan.eval_code_accuracy", value=result["code_accuracy"], chance=result["code_chance"],
                     matching=matching)
    out.print(say("cli.gan_eval_line", model=result["model"], step=result["step"], metric=result["metric"],
                  fd=result["fd"], kid_name=kid_name(result["metric"]), kid=result["kid"], kid_std=result["kid_std"],
                  n=result["n"], extra=extra))
    out.print(say("cli.gan_eval_features", network=result["network"]))
    _announce_awards()


@gan_app.command("watch")
def gan_watch(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    follow: Annotated[bool, typer.Option("--follow", help="while the run trains, show each newer checkpoint")] = False,
    checkpoint: Annotated[Optional[str], typer.Option(help="latest or an iteration number (default latest)")] = None,
    fps: Annotated[Optional[int], typer.Option(help="display and video frames per second (default 30)")] = None,
    zoom: Annotated[Optional[int], typer.Option(help="scale the picture by this whole number (default: fit)")] = None,
    walk: Annotated[bool, typer.Option("--walk", help="DCGAN: start with the latent walk playing (key l)")] = False,
    record: Annotated[Optional[str], typer.Option(help="also write the view, with the panel, to FILE.mp4 or FILE.gif")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="no window; record (to the run's videos/ unless --record)")] = False,
    max_frames: Annotated[Optional[int], typer.Option(help="stop after this many frames (headless default: 10 s)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what was shown and recorded as JSON")] = False,
) -> None:
    """Watch a GAN: a grid from its fixed noise (l: a latent walk) or its input | output | target rows."""
    from playground.viewer.gan_watch import gan_watch as run_gan_watch

    summary = run_gan_watch(run, checkpoint=checkpoint, follow=follow, fps=fps, zoom=zoom, walk=walk, record=record,
                            headless=headless, max_frames=max_frames,
                            notify=lambda message: err.print(message, soft_wrap=True))
    if as_json:
        _print_json(summary.record())
    else:
        out.print("\n".join(summary.lines()), soft_wrap=True)


@gan_app.command("datasets")
def gan_datasets() -> None:
    """The built-in datasets (no download needed) and the folder formats you can bring."""
    from gans import data as gan_data

    table = Table(say("cli.col_name"), say("cli.col_kind"), say("cli.col_images"), say("cli.col_what_it_is"))
    for info in gan_data.builtin_datasets():
        size = f"{info.size:,}" + (f" + {info.size_b:,}" if info.size_b else "")
        table.add_row(info.name, info.kind, size, info.description)
    out.print(table)
    out.print(say("cli.gan_own_folders"))


@gan_app.command("presets")
def gan_presets(model: Annotated[Optional[str], typer.Argument(help="dcgan, cdcgan, wgan, infogan, pix2pix or cyclegan")] = None) -> None:
    """The published settings each model starts from, and their sources."""
    import gans
    from gans import presets

    table = Table(say("cli.col_model"), say("cli.col_preset"), say("cli.col_size"), say("cli.col_batch"),
                  say("cli.col_epochs"), say("cli.col_hyperparameters"), say("cli.col_source"))
    for name in [gans.get(model).name] if model else gans.names():
        for p in presets.presets_for(name).values():
            hyper = ", ".join(f"{k}={v}" for k, v in p.hyperparameters.items()) or say("cli.paper_defaults")
            table.add_row(name, p.name, str(p.image_size), str(p.batch_size), str(p.epochs), hyper, p.source)
    out.print(table)


# -- runs --------------------------------------------------------------------------------------
@runs_app.command("list")
def runs_list(
    kind: Annotated[Optional[str], typer.Option(help="rl or gan")] = None,
    env: Annotated[Optional[str], typer.Option(help="environment id")] = None,
    algo: Annotated[Optional[str], typer.Option(help="algorithm")] = None,
    status: Annotated[Optional[str], typer.Option(help="created, running, stopped, finished or failed")] = None,
    expand: Annotated[bool, typer.Option("--expand", help="each seeds group's runs under its line")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Every run in the store, oldest first; a seeds group is one line (its runs with --expand, or in --json)."""
    from playground import runs
    from playground.store import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise PlaygroundError("cli.bad_status", choices=", ".join(RUN_STATUSES), status=status)
    from playground.checks import shown
    from playground.store import get_store

    records = [runs.record(r) for r in runs.list_runs(kind=kind, env=env, algo=algo, status=status)]
    for run_id, damage in get_store().damaged:
        err.print(say("cli.damaged_run_left_out", run=shown(run_id), damage=damage), soft_wrap=True)
    if as_json:
        _print_json(records)
        return
    if not records:
        out.print(say("cli.no_runs_yet"))
        return
    out.print(_runs_table(_group_lines(records, expand), out.width))


def _group_lines(records: list[dict[str, Any]], expand: bool) -> list[dict[str, Any]]:
    """A seeds group's runs folded into one line where its first run stands: the group's id, ``n seeds``, the
    mean ± std of its runs' best evaluations; with ``expand`` its runs follow it, indented."""
    from playground import runs

    members: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("group_id"):
            members.setdefault(r["group_id"], []).append(r)
    lines: list[dict[str, Any]] = []
    for r in records:
        group = r.get("group_id")
        if not group:
            lines.append(r)
            continue
        if members[group][0] is not r:
            continue
        together = members[group]
        summary = runs.group_summary(together)
        statuses = [m["status"] for m in together]
        seeds = say("ray.group_line", count=len(together))
        lines.append({
            **r, "id": group, "name": f"{r['name']} · {seeds}" if r["name"] else seeds,
            "status": _mixed(statuses),
            "step": sum(m["step"] for m in together), "total_steps": sum(m["total_steps"] or 0 for m in together),
            "best_eval": ({"mean": summary["mean"], "std": summary["std"]} if summary["mean"] is not None else None),
        })
        if expand:
            lines.extend({**m, "id": f"  {m['id']}"} for m in together)
    return lines


def _mixed(statuses: list[str]) -> str:
    """A group's runs by status, counted: ``3 finished``, ``2 finished, 1 failed`` (each status in this language)."""
    from collections import Counter

    return ", ".join(f"{n} {_status(s)}" for s, n in Counter(statuses).items())


# Ids are what every other command takes: never cut. The table has no frame and one line per run; on a narrow
# terminal the name and then the data set give way (cut with …, down to FLEX_MIN columns), and when that is not
# enough whole columns are left out, in LEFT_OUT's order, before an id would be cut.
RUN_COLUMNS = ("cli.col_id", "cli.col_name", "cli.col_env_or_data", "cli.col_status", "cli.col_step",
               "cli.col_best_eval", "cli.col_created")
GIVES_WAY = ("cli.col_name", "cli.col_env_or_data")
LEFT_OUT = ("cli.col_created", "cli.col_name", "cli.col_best_eval", "cli.col_env_or_data")
FLEX_MIN = 6


def _runs_table(records: list[dict[str, Any]], width: int) -> Table:
    from rich import box
    from rich.cells import cell_len

    from playground.checks import shown

    def best(r: dict[str, Any]) -> str:
        return f"{r['best_eval']['mean']:.1f}±{r['best_eval']['std']:.1f}" if r["best_eval"] else ""

    cells = dict(zip(RUN_COLUMNS, zip(*(
        (r["id"], shown(r["name"] or ""), shown(r["env"]), _status(r["status"]),
         f"{r['step']:,}/{r['total_steps'] or 0:,}", best(r), _short_date(r["created_at"])) for r in records))))
    widths = {key: max(cell_len(say(key)), *(cell_len(c) for c in column)) for key, column in cells.items()}
    if not any(cells["cli.col_name"]):
        del widths["cli.col_name"]

    def narrowest(ws: dict[str, int]) -> int:
        return sum(min(w, FLEX_MIN) if k in GIVES_WAY else w for k, w in ws.items()) + len(ws) - 1

    for key in LEFT_OUT:
        if narrowest(widths) <= width:
            break
        widths.pop(key, None)
    over = sum(widths.values()) + len(widths) - 1 - width
    for key in GIVES_WAY:
        if key in widths and over > 0:
            cut = max(0, min(over, widths[key] - FLEX_MIN))
            widths[key] -= cut
            over -= cut
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=0)  # one space between columns
    for key, w in widths.items():
        table.add_column(say(key), no_wrap=True, overflow="ellipsis", width=w)
    for i in range(len(records)):
        table.add_row(*(cells[key][i] for key in widths))
    return table


def _short_date(iso: str | None) -> str:
    """``2026-12-02T07:25:11+00:00`` → ``12-02 07:25`` this year, ``2025-12-02`` before it."""
    if not iso:
        return ""
    from datetime import datetime

    return iso[5:16].replace("T", " ") if iso[:4] == str(datetime.now().year) else iso[:10]


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
    every: Annotated[Optional[int], typer.Option(
        help="RL runs: the training games summed up per this many steps (mean, min, max of each window)")] = None,
) -> None:
    """One run: status, config, evaluations and checkpoints."""
    from playground import runs

    found = runs.get(run)
    windows = runs.training_windows(found, every) if every is not None else None
    record = runs.record(found, detail=True)
    if windows is not None:
        record["training_windows"] = windows
    if as_json:
        _print_json(record)
        return
    if record["kind"] == "gan":  # a GAN run speaks of its model, its data set and iterations
        out.print(say("cli.show_gan_head", run=record["id"], status=_status(record["status"]), model=record["model"],
                      data=record["data"], step=record["step"], total=record["total_steps"] or 0))
    else:
        out.print(say("cli.show_rl_head", run=record["id"], status=_status(record["status"]), algo=record["algo"],
                      env=record["env"], step=record["step"], total=record["total_steps"] or 0))
    if record["error"]:
        out.print(Text(say("cli.show_error"), style="red") + Text(record["error"]))
    out.print(say("cli.show_folder", folder=record["folder"]))
    cfg = record["config"]
    if record["kind"] == "gan":
        out.print(say("cli.show_gan_config", preset=cfg.get("preset"), seed=cfg.get("seed"), size=cfg.get("image_size"),
                      batch=cfg.get("batch_size"), hyperparameters=cfg.get("hyperparameters")))
    else:
        out.print(say("cli.show_rl_config", preset=cfg.get("preset"), seed=cfg.get("seed"), envs=cfg.get("n_envs"),
                      hyperparameters=cfg.get("hyperparameters")))
    if record["evaluations"]:
        table = Table(say("cli.col_step"), say("cli.col_mean"), say("cli.col_std"), say("cli.col_games"),
                      say("cli.col_scores"))
        for e in record["evaluations"]:
            table.add_row(f"{e['step']:,}", f"{e['mean']:.2f}", f"{e['std']:.2f}", str(e["n_episodes"]),
                          ", ".join(f"{s:g}" for s in e["scores"][:12]))
        out.print(table)
    if windows is not None:
        out.print(say("cli.show_windows", every=every))
        table = Table(say("cli.col_window"), say("cli.col_games"), say("cli.col_mean"), say("cli.col_min"),
                      say("cli.col_max"))
        for w in windows:
            shown = [f"{w['mean']:.2f}", f"{w['min']:g}", f"{w['max']:g}"] if w["games"] else ["", "", ""]
            table.add_row(f"{w['start']:,}–{w['end']:,}", str(w["games"]), *shown)
        out.print(table)
    out.print(say("cli.show_checkpoints",
                  steps=", ".join(f"{c['step']:,}" for c in record["checkpoints"]) or say("cli.show_no_checkpoints")))
    out.print(say("cli.show_metrics", keys=", ".join(record["metric_keys"])))


@runs_app.command("compare")
def runs_compare(
    run_refs: Annotated[list[str], typer.Argument(metavar="RUN...",
                                                  help="two or more runs; a seeds group's id stands for its runs")],
    metric: Annotated[Optional[str], typer.Option(help="metric key; default eval/mean, else episode/score")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="PNG, SVG or HTML file")] = Path("compare.png"),
    as_json: Annotated[bool, typer.Option("--json", help="print it all as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Curves of several runs in one picture, and statistics over their seeds: IQM with confidence intervals,
    the probability that one variant beats another, performance profiles (rliable)."""
    from playground import compare, runs, stats
    from playground.store import get_store

    chosen = runs.with_groups(run_refs)
    if len(chosen) < 2:
        raise PlaygroundError("cli.compare_needs_two")
    suffix = compare.check_out(out_file)  # a wrong suffix is said before the bootstrap's seconds
    store = get_store()
    metric = metric or compare.pick_metric(chosen, store)
    with err.status(say("stats.computing", reps=stats.REPS)):
        statistics = stats.compare_runs(chosen, store)
    path = compare.write(chosen, out_file, metric, store, statistics=statistics)
    second = compare.statistics_path(path) if suffix != ".html" and statistics["variants"] else None
    if as_json:
        _print_json({"runs": [r.id for r in chosen], "metric": metric, "out": str(path),
                     "statistics_out": str(second) if second else None, "statistics": statistics})
        for words in stats.notes(statistics):
            err.print(str(words))
        return
    out.print(say("cli.wrote", path=path), soft_wrap=True)  # a path cut in two cannot be copied
    if second:
        out.print(say("stats.wrote_picture", path=second), soft_wrap=True)
    _print_statistics(statistics)


def _print_statistics(statistics: dict[str, Any]) -> None:
    """The variants' IQM with intervals, P(X > Y) for the pairs, and the sentences on what is missing."""
    from playground import stats

    confidence = round(100 * statistics["confidence"])
    no_ci = say("stats.no_ci")
    if statistics["variants"]:
        out.print()
        out.print(say("stats.heading", reps=f"{statistics['reps']:,}", confidence=confidence))
        table = Table(say("stats.col_variant"), say("stats.col_runs"), say("stats.col_score"),
                      say("stats.col_iqm", confidence=confidence))
        for v in statistics["variants"]:
            table.add_row(v["name"], str(len(v["runs"])), say(f"stats.score_{v['normalisation']}"),
                          stats.interval_text(v["iqm"], v["ci"], no_ci))
        out.print(table)
    if statistics["pairs"]:
        table = Table("X", "Y", say("stats.col_probability", confidence=confidence))
        for pair in statistics["pairs"]:
            table.add_row(pair["x"], pair["y"], stats.interval_text(pair["probability"], pair["ci"], no_ci))
        out.print(table)
    for words in stats.notes(statistics):
        out.print(str(words))
    if statistics["variants"]:
        out.print(Text(say("stats.what", confidence=confidence), style="dim"))


@runs_app.command("stop")
def runs_stop(run: Annotated[str, typer.Argument(help="run id, name or 'latest'")]) -> None:
    """Ask a running training to stop cleanly at its next step, with a checkpoint."""
    from playground import access, runs

    stopped = runs.request_stop(run, actor=access.door_actor())
    out.print(say("cli.asked_to_stop", run=stopped.id))


@runs_app.command("delete")
def runs_delete(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Delete a run: its rows in the store and its folder."""
    from playground import access, runs
    from playground.errors import StoreError
    from playground.store import get_store

    try:
        target_id, folder = (lambda r: (r.id, r.folder))(runs.get(run))
    except StoreError:  # a damaged record can still be deleted, by its id
        if not get_store().has_run(run):
            raise
        target_id, folder = run, str(runs.folder_for(run))
    if not yes and not typer.confirm(say("cli.delete_confirm", run=target_id, folder=folder)):
        raise typer.Exit(1)
    runs.delete(target_id, actor=access.door_actor())
    out.print(say("cli.deleted", run=target_id))


# -- the accounts of a served app (playground/accounts.py) -------------------------------------------
def _typed_password(ask: bool) -> str | None:
    """A password typed twice without echo (``--ask``), or None: one is made and printed."""
    if not ask:
        return None
    return typer.prompt(say("cli.users_password"), hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="their player name: what they sign in with and are shown as")],
    role: Annotated[str, typer.Option("--role", help="teacher or student")] = "student",
    ask: Annotated[bool, typer.Option("--ask", help="type the password (else one is made and printed once)")] = False,
) -> None:
    """Add a person who signs in to the served app."""
    from playground import accounts

    password = accounts.add(name, role, _typed_password(ask))
    out.print(say("cli.users_added", name=name.strip(), role=role))
    if not ask:
        out.print(say("cli.users_password_once", password=password))


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
               ) -> None:
    """Everyone who can sign in, with their role."""
    from datetime import datetime

    from playground import accounts

    people = accounts.everyone()
    if as_json:
        _print_json([{"name": a.name, "role": a.role, "created_at": a.created_at, "provider": a.oidc,
                      "private_runs": a.private_runs} for a in people])
        return
    if not people:
        out.print(say("cli.users_none"))
        return
    table = Table(box=None)
    for column in ("cli.users_col_name", "cli.users_col_role", "cli.users_col_since", "cli.users_col_signin"):
        table.add_column(say(column))
    for a in people:
        table.add_row(a.name, a.role, datetime.fromtimestamp(a.created_at).strftime("%Y-%m-%d"),
                      say("cli.users_provider" if a.oidc else "cli.users_password_kind"))
    out.print(table)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument(help="whose password")],
    ask: Annotated[bool, typer.Option("--ask", help="type the password (else one is made and printed once)")] = False,
) -> None:
    """Give a person a new password (a forgotten one, or a teacher's first one changed)."""
    from playground import accounts

    password = accounts.set_password(name, _typed_password(ask))
    out.print(say("cli.users_changed", name=name))
    if not ask:
        out.print(say("cli.users_password_once", password=password))


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="who")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Remove a person and the data sets they uploaded; their runs stay, under their name."""
    from playground import accounts

    accounts.get(name)
    if not yes and not typer.confirm(say("cli.users_remove_confirm", name=name)):
        raise typer.Exit(1)
    uploads = accounts.remove(name)
    out.print(say("cli.users_removed", name=name, uploads=uploads))


# -- the class at a glance and its challenge catalogue (playground/game/classroom.py) ---------------------
class_app = _Typer(help="The class at a glance (tier, XP, challenges, running jobs) and the challenge catalogue it "
                        "plays.", no_args_is_help=True)
app.add_typer(class_app, name="class")


@class_app.command("show")
def class_show(
    csv_file: Annotated[Optional[Path], typer.Option(
        "--csv", metavar="FILE", help="also write the table to FILE as CSV (UTF-8 with a BOM: Excel shows Chinese names)",
    )] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Everyone in the class: tier, XP, challenges met, badges, running jobs, runs and last activity."""
    from playground.game import classroom
    from playground.i18n import language

    table = classroom.rows()
    if csv_file is not None:
        classroom.write_csv(csv_file, table, language())
        (err if as_json else out).print(say("cli.class_csv_written", path=csv_file, rows=len(table)), soft_wrap=True)
    if as_json:
        _print_json(table)
        return
    if not table:
        out.print(say("cli.class_nobody"))
        return
    shown = Table(box=None)
    for column in ("player", "role", "tier", "xp", "challenges", "badges", "running_jobs", "runs", "last_activity"):
        shown.add_column(say(f"teacher.col.{column}"), justify="right" if column in ("xp", "badges", "running_jobs",
                                                                                   "runs") else "left")
    lang = language()
    for row in table:
        shown.add_row(row["player"], say(f"auth.role_{row['role']}") if row["role"] else say("teacher.no_account"),
                      row["tier_name"].get(lang) or row["tier_name"]["en"], str(row["xp"]),
                      f"{row['challenges_met']}/{row['challenges_total']}", str(row["badges"]),
                      str(row["running_jobs"]), str(row["runs"]), _short_date(row["last_activity"]) or "-")
    out.print(shown)


@class_app.command("catalogue")
def class_catalogue(
    file: Annotated[Optional[Path], typer.Argument(help="a YAML file shaped like playground/game/challenges.yaml: "
                                                   "checked whole, then played by the class")] = None,
    builtin: Annotated[bool, typer.Option("--builtin", help="back to the built-in catalogue")] = False,
) -> None:
    """Which challenge catalogue the class plays; FILE makes it the class's (every machine on this store)."""
    from playground.game import classroom
    from playground.game.core import CLASS, ENVIRONMENT, iso
    from playground.i18n import language

    if file is not None and builtin:
        raise PlaygroundError("cli.class_file_or_builtin")
    if file is not None:
        catalogue, kept = classroom.set_catalogue(classroom.read_catalogue_file(file), file.name)
        out.print(say("cli.class_catalogue_set", name=file.name, challenges=len(catalogue.challenges), kept=kept),
                  soft_wrap=True)
    elif builtin:
        out.print(say("cli.class_builtin_set" if classroom.use_builtin() else "cli.class_builtin_already"))
    source, catalogue, problem = classroom.in_use()
    if source.origin == ENVIRONMENT:
        out.print(say("cli.class_plays_environment", path=source.name), soft_wrap=True)
    elif source.origin == CLASS:
        out.print(say("cli.class_plays_class", name=source.name, when=_short_date(iso(source.set_at)) or "-",
                      by=source.set_by or "-"), soft_wrap=True)
    else:
        out.print(say("cli.class_plays_builtin"))
    if problem is not None:
        raise problem
    assert catalogue is not None
    lang = language()
    for tier in classroom.tiers_of(catalogue):
        out.print(say("cli.class_tier_line", tier=tier["name"].get(lang) or tier["name"]["en"],
                      challenges=tier["challenges"], xp=tier["xp"], needs=tier["needs"]))


# -- the game: profiles, challenges, leaderboards, badges (playground/game) ---------------------------
@app.command("profile")
def profile_cmd(
    name: Annotated[Optional[str], typer.Argument(help="a player; default: the active one")] = None,
    name_opt: Annotated[Optional[str], typer.Option("--name", help="the same as NAME")] = None,
    use: Annotated[bool, typer.Option("--use", help="play as NAME from now on on this machine")] = False,
    list_all: Annotated[bool, typer.Option("--list", help="every player on this store")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Your tier, XP, progress to the next tier, and the one challenge to try next (with its command)."""
    from playground.game import commands

    commands.profile(out, name or name_opt, use=use, list_all=list_all, as_json=as_json)


@app.command("challenges")
def challenges_cmd(
    tier: Annotated[Optional[str], typer.Option(help="only this tier: 1-4, getting-started, 入门, …")] = None,
    player: Annotated[Optional[str], typer.Option(help="whose progress; default: the active player")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Every challenge as a card: status, progress and goal, tier by tier."""
    from playground.game import commands

    commands.challenges(out, tier=tier, player=player, as_json=as_json)


@app.command("challenge")
def challenge_cmd(
    challenge_id: Annotated[str, typer.Argument(metavar="CHALLENGE_ID", help="an id from `playground challenges`")],
    player: Annotated[Optional[str], typer.Option(help="whose tries; default: the active player")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """One challenge: what it asks, your best attempt, why other tries do not count, the exact command."""
    from playground.game import commands

    commands.challenge(out, challenge_id, player=player, as_json=as_json)


@app.command("leaderboard")
def leaderboard_cmd(
    game: Annotated[str, typer.Argument(metavar="GAME", help="a game (Pong, CartPole), a dataset or a challenge id")],
    limit: Annotated[int, typer.Option(help="entries per board")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Agents and people, best first (ties: fewer steps); each entry names the run and evaluation that earned it."""
    from playground.game import commands

    commands.leaderboard(out, game, limit=limit, as_json=as_json)


@app.command("achievements")
def achievements_cmd(
    player: Annotated[Optional[str], typer.Option(help="whose badges; default: the active player")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Badges for milestones: earned ones with their date, the rest to aim for."""
    from playground.game import commands

    commands.achievements(out, player=player, as_json=as_json)


def _announce_awards() -> None:
    from playground.game import commands

    commands.announce(err)


# -- the viewer: watch, play, duel (playground/viewer) ----------------------------------------
@app.command("watch")
def watch(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    checkpoint: Annotated[Optional[str], typer.Option(help="best, latest or a step number (default best)")] = None,
    episodes: Annotated[Optional[int], typer.Option(help="games to play (default: until you quit; headless: 1)")] = None,
    fps: Annotated[Optional[int], typer.Option(help="display and video frames per second (default: the game's own)")] = None,
    zoom: Annotated[Optional[int], typer.Option(help="scale the game picture by this whole number")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed of the first game (default: random, printed)")] = None,
    record: Annotated[Optional[str], typer.Option(help="also write the games, with the HUD, to FILE.mp4 or FILE.gif")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="no window; record (to the run's videos/ unless --record)")] = False,
    follow: Annotated[bool, typer.Option("--follow", help="while the run trains, switch to each newer checkpoint between games")] = False,
    max_frames: Annotated[Optional[int], typer.Option(help="stop after this many displayed frames")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what was played and recorded as JSON")] = False,
) -> None:
    """Watch an agent play, live in a window with its HUD, or headless into a video."""
    from playground.viewer.watch import watch as run_watch

    summary = run_watch(run, checkpoint=checkpoint, episodes=episodes, fps=fps, zoom=zoom, seed=seed, record=record,
                        headless=headless, follow=follow, max_frames=max_frames,
                        notify=lambda message: err.print(message, soft_wrap=True))
    if as_json:
        _print_json(summary.record())
    else:
        out.print("\n".join(summary.lines()), soft_wrap=True)


@app.command("bellman")
def bellman(
    env: Annotated[str, typer.Argument(help="a Gymnasium id with a model: FrozenLake-v1, CliffWalking-v1, Taxi-v4, …")],
    gamma: Annotated[float, typer.Option(help="discount per step, from 0 to 1")] = 0.9,
    sweeps: Annotated[Optional[int], typer.Option(help="sweeps to run first (headless default: until converged)")] = None,
    state: Annotated[Optional[int], typer.Option(help="the state whose update is written out (default: the start)")] = None,
    screenshot: Annotated[Optional[str], typer.Option(metavar="FILE", help="save the last picture to FILE.png")] = None,
    record: Annotated[Optional[str], typer.Option(help="also write the sweeps, one frame each, to FILE.mp4 or FILE.gif")] = None,
    fps: Annotated[Optional[int], typer.Option(help="video frames (sweeps) per second (headless default 2)")] = None,
    headless: Annotated[bool, typer.Option("--headless", help="no window: run the sweeps, then save and print")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the sweeps and the chosen state's update as JSON")] = False,
) -> None:
    """Value iteration one sweep at a time (SPACE), one cell's Bellman update written out with its numbers."""
    from playground.viewer.bellman import sweep as run_sweep

    summary = run_sweep(env, gamma=gamma, sweeps=sweeps, state=state, headless=headless, screenshot=screenshot,
                        record=record, fps=fps)
    if as_json:
        _print_json(summary.record())
    else:
        out.print("\n".join(summary.lines()), soft_wrap=True)


# -- hyperparameter sweeps (playground/sweeps.py): Ray Tune, Optuna's TPE and ASHA over real runs ---------------------
class _SweepGroup(_Group):
    """``playground sweep ALGO ENV …`` starts a sweep: anything that is not one of the group's commands is the
    ``start`` command's (the issue's spelling), so ``show``, ``export``, ``stop``, ``resume`` and ``list`` stay words."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["start", *args]
        return super().parse_args(ctx, args)


class _SweepTyper(_Typer):
    def __init__(self, **kwargs: Any) -> None:
        typer.Typer.__init__(self, cls=_SweepGroup, **kwargs)


sweep_app = _SweepTyper(help="Hyperparameter sweeps: `playground sweep ALGO ENV --trials N --space KEY=RANGE …` starts "
                             "one (Ray Tune with Optuna's TPE and ASHA; every trial a run); show, export, stop, resume, "
                             "list.", no_args_is_help=True)
app.add_typer(sweep_app, name="sweep")


def _sweep_report(report: dict[str, Any]) -> None:
    """One line per result Tune receives, on stderr (stdout keeps the sweep id, and --json's record)."""
    err.print(say("sweeps.report_line", trial=report["trial"], run=", ".join(report["runs"]) or "?",
                  node=report.get("node", "?"), step=report["steps"], metric=report.get("metric", ""),
                  value=report["value"] if report["value"] is not None else float("nan")), soft_wrap=True)


def _sweep_ended(record: dict[str, Any]) -> None:
    best = f"{record['best_value']:.1f}" if record["best_value"] is not None else "—"
    out.print(say("sweeps.ended", sweep=record["id"], status=_status(record["status"]), done=record["trials_done"],
                  trials=record["trials"], metric=record["metric"], best=best, run=record["best_run"] or "—"),
              soft_wrap=True)
    if record["status"] in ("stopped", "failed"):
        out.print(say("sweeps.resume_hint", sweep=record["id"]), soft_wrap=True)


def _sweep_announced(row: dict[str, Any], detach: bool, as_json: bool, *, resume: bool) -> bool:
    """Print a sweep's id; with ``detach``, start its driver in the background and say where it logs (True: the
    command is done)."""
    from playground import sweeps

    sys.stdout.write(row["id"] + "\n")
    sys.stdout.flush()
    if not detach:
        return False
    pid = sweeps.start_driver(row, resume=resume)
    if as_json:
        _print_json({**sweeps.record(sweeps.get(row["id"])), "pid": pid})
    else:
        err.print(say("sweeps.detached", pid=pid, sweep=row["id"], log=Path(row["folder"]) / sweeps.DRIVER_LOG),
                  soft_wrap=True)
    return True


def _drive_sweep(sweep_id: str, *, resume: bool, as_json: bool) -> None:
    from playground import sweeps

    row = sweeps.get(sweep_id)
    metric = row["config"]["metric"]
    record = sweeps.drive(sweep_id, resume=resume, on_report=None if as_json else (
        lambda report: _sweep_report({**report, "metric": metric})))
    if as_json:
        _print_json(sweeps.record(sweeps.get(sweep_id), detail=True))
        return
    _sweep_ended(record)


@sweep_app.command("start")
def sweep_start(
    algo: Annotated[str, typer.Argument(help="ppo, a2c, dqn, sb3-dqn, …")],
    env: Annotated[Optional[str], typer.Argument(help="a Gymnasium id: CartPole-v1, ALE/Pong-v5, …")] = None,
    trials: Annotated[int, typer.Option(help="settings to try, one trial each")] = 8,
    seeds: Annotated[int, typer.Option(help="runs per trial (seeds SEED, SEED+1, …), reported as their mean")] = 1,
    space: Annotated[list[str], typer.Option("--space", metavar="KEY=RANGE", help="a searched setting: uniform(a,b), loguniform(a,b), int(a,b) or choice(x,y,…) (repeatable); default: the space for ENV in agents/presets/spaces/ALGO.yaml")] = [],  # noqa: B006
    metric: Annotated[str, typer.Option(metavar="eval|score", help="what to maximise: the last evaluation's mean, or the training games' mean score")] = "eval",
    budget_steps: Annotated[Optional[str], typer.Option(metavar="N", help="environment steps of one trial (default: the space's, else the preset's)")] = None,
    on: Annotated[Optional[str], typer.Option(metavar="WHERE", help="Ray: ray (RAY_ADDRESS, else a Ray on this machine; the default), ray://HOST:PORT or HOST:PORT")] = None,
    cpus: Annotated[float, typer.Option(metavar="N", help="CPUs Ray reserves for each trial")] = 1.0,
    gpus: Annotated[float, typer.Option(metavar="N", help="GPUs Ray reserves for each trial (fractions share a card)")] = 0.0,
    preset: Annotated[Optional[str], typer.Option(help="the preset every trial starts from (default: the space's, else the one made for ENV)")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="fix one hyperparameter for every trial (repeatable)")] = [],  # noqa: B006
    seed: Annotated[int, typer.Option(help="the sampler's seed and each trial's first run seed")] = 0,
    eval_every: Annotated[Optional[str], typer.Option(help="evaluate every N steps (the results Tune and ASHA see)")] = None,
    eval_episodes: Annotated[Optional[int], typer.Option(help="whole games per evaluation")] = None,
    envs: Annotated[Optional[int], typer.Option("--envs", help="parallel environments of each run")] = None,
    grace_steps: Annotated[Optional[str], typer.Option(metavar="N", help="ASHA stops no trial before this many steps (default: one evaluation)")] = None,
    reduction_factor: Annotated[float, typer.Option(metavar="N", help="ASHA keeps 1 trial in N at each rung")] = 3.0,
    detach: Annotated[bool, typer.Option("--detach", help="drive the sweep in the background; print its id and return")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the sweep as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Start a sweep: Optuna's TPE proposes settings, ASHA stops the poor trials early, every trial is a real run."""
    import agents
    from playground import cluster, sweeps
    from playground.errors import UnknownAlgorithm

    if env is None:  # the old habit: `playground sweep FrozenLake-v1` was value iteration's stepper
        try:
            agents.get(algo)
        except UnknownAlgorithm:
            raise PlaygroundError("sweeps.use_bellman", env=algo) from None
        raise PlaygroundError("sweeps.needs_env", algo=algo)
    where = cluster.check_on(on)
    config = sweeps.plan(algo, env, trials=trials, seeds=seeds, space=space, metric=metric,
                         budget_steps=parse_steps(budget_steps, "--budget-steps"), preset=preset, sets=set_, seed=seed,
                         cpus=cpus, gpus=gpus, eval_every=parse_steps(eval_every, "--eval-every"),
                         eval_episodes=eval_episodes, n_envs=envs, grace_steps=parse_steps(grace_steps, "--grace-steps"),
                         reduction_factor=reduction_factor, on=where)
    cluster.check_reachable(where)  # a cluster that does not answer: one sentence, and no sweep created
    row = sweeps.create(config, player=_player())
    if _sweep_announced(row, detach, as_json, resume=False):
        return
    if not as_json:
        err.print(say("sweeps.started", sweep=row["id"], trials=config.trials, algo=config.algo, env=config.env,
                      budget=f"{config.budget_steps:,}", metric=config.metric, keys="; ".join(config.space)),
                  soft_wrap=True)
    _drive_sweep(row["id"], resume=False, as_json=as_json)


@sweep_app.command("_drive", hidden=True)
def sweep_drive(sweep_id: Annotated[str, typer.Argument(metavar="SWEEP")],
                resume: bool = typer.Option(False, "--resume")) -> None:
    """Drive an already created sweep (what `--detach` starts in the background)."""
    from playground import sweeps

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    metric = sweeps.get(sweep_id)["config"]["metric"]
    record = sweeps.drive(sweep_id, resume=resume, on_report=lambda report: _sweep_report({**report, "metric": metric}))
    _sweep_ended(record)


def _settings_text(settings_: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in settings_.items())


@sweep_app.command("show")
def sweep_show(
    sweep_id: Annotated[str, typer.Argument(metavar="SWEEP", help="a sweep id (playground sweep list)")],
    top: Annotated[Optional[int], typer.Option(metavar="N", help="only the N best trials")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False,
) -> None:
    """A sweep's best trials first: run, node, steps, metric and settings."""
    from rich import box

    from playground import sweeps

    row = sweeps.get(sweep_id)
    record = sweeps.record(row, detail=True)
    views = sweeps.best_trials(row["id"])
    views += [v for v in sweeps.trials(row["id"]) if v.value is None]
    if top is not None:
        views = views[:max(0, top)]
    if as_json:
        _print_json({**record, "trial_list": [v.as_dict() for v in views]})
        return
    config = row["config"]
    out.print(say("sweeps.show_head", sweep=row["id"], status=_status(row["status"]), algo=row["algo"], env=row["env"],
                  started=record["trials_started"], trials=config["trials"], metric=config["metric"],
                  budget=f"{config['budget_steps']:,}"), soft_wrap=True)
    out.print(say("sweeps.show_space", space="; ".join(config["space"])), soft_wrap=True)
    if row["error"]:
        out.print(say("sweeps.show_error", error=row["error"]), soft_wrap=True)
    if views:
        table = Table(box=box.SIMPLE_HEAD)
        for key, column in (("sweeps.col_trial", {}), ("sweeps.col_runs", {"no_wrap": True}),
                            ("sweeps.col_node", {}), ("sweeps.col_status", {}),
                            ("sweeps.col_steps", {"justify": "right"}), ("sweeps.col_value", {"justify": "right"}),
                            ("sweeps.col_settings", {"overflow": "fold"})):  # ids are never cut; settings wrap
            table.add_column(say(key, metric=config["metric"]) if key == "sweeps.col_value" else say(key), **column)
        for v in views:
            status = say("sweeps.early") if v.status == "early" else _status(v.status)
            table.add_row(str(v.trial), ", ".join(v.runs), v.node, status, f"{v.steps:,}",
                          f"{v.value:.1f}" if v.value is not None else "—", _settings_text(v.settings))
        out.print(table)
    if record["importances"]:
        out.print(say("sweeps.show_importances", importances=", ".join(
            f"{k} {v:.2f}" for k, v in sorted(record["importances"].items(), key=lambda kv: -kv[1]))), soft_wrap=True)


@sweep_app.command("list")
def sweep_list(as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (docs/cli-json.md)")] = False) -> None:
    """Every sweep, oldest first."""
    from playground import sweeps
    from playground.store import get_store

    records = [sweeps.record(sweeps.refresh(row)) for row in get_store().sweeps()]
    if as_json:
        _print_json(records)
        return
    if not records:
        out.print(say("sweeps.no_sweeps_yet"), soft_wrap=True)
        return
    from rich import box

    table = Table(say("sweeps.col_sweep"), say("sweeps.col_status"), say("cli.col_env_or_data"),
                  say("sweeps.col_trial"), say("sweeps.col_best"), say("sweeps.col_runs"), box=box.SIMPLE_HEAD)
    for r in records:
        best = f"{r['metric']} {r['best_value']:.1f}" if r["best_value"] is not None else "—"
        table.add_row(r["id"], _status(r["status"]), f"{r['algo']} · {r['env']}",
                      f"{r['trials_done']}/{r['trials_started']}/{r['trials']}", best, r["best_run"] or "—")
    out.print(table)


@sweep_app.command("stop")
def sweep_stop(sweep_id: Annotated[str, typer.Argument(metavar="SWEEP")]) -> None:
    """Stop a sweep: each running trial stops its runs with a checkpoint; `sweep resume` goes on later."""
    from playground import sweeps

    row = sweeps.request_stop(sweep_id)
    out.print(say("sweeps.stop_asked", sweep=row["id"]), soft_wrap=True)


@sweep_app.command("resume")
def sweep_resume(
    sweep_id: Annotated[str, typer.Argument(metavar="SWEEP")],
    detach: Annotated[bool, typer.Option("--detach", help="drive it in the background")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the sweep as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Go on with a stopped sweep from its Tune experiment: stopped trials resume from their runs' checkpoints."""
    from playground import cluster, sweeps

    row = sweeps.prepare_resume(sweep_id)
    cluster.check_reachable(row["config"].get("on"))
    if _sweep_announced(row, detach, as_json, resume=True):
        return
    _drive_sweep(row["id"], resume=True, as_json=as_json)


@sweep_app.command("export")
def sweep_export(
    sweep_id: Annotated[str, typer.Argument(metavar="SWEEP")],
    preset: Annotated[str, typer.Option(metavar="NAME", help="the name of your new preset")],
    force: Annotated[bool, typer.Option("--force", help="replace a preset of yours with that name")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print what was written as JSON (docs/cli-json.md)")] = False,
) -> None:
    """Save the best trial's settings as a preset of your own, which `--preset NAME` then finds."""
    from playground import sweeps

    written = sweeps.export_preset(sweep_id, preset, force=force)
    if as_json:
        _print_json(written)
        return
    out.print(say("sweeps.exported", name=written["preset"], sweep=written["sweep"], metric=written["metric"],
                  value=written["value"], path=written["path"], algo=written["algo"], env=written["env"]),
              soft_wrap=True)


@app.command("play")
def play(
    env: Annotated[str, typer.Argument(help="an Atari game, e.g. ALE/Pong-v5")],
    zoom: Annotated[Optional[int], typer.Option(help="scale the game picture by this whole number")] = None,
    name: Annotated[Optional[str], typer.Option(help="player name for the leaderboards (default: your login)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed of the first game (default: random)")] = None,
    games: Annotated[Optional[int], typer.Option(help="stop after this many games (default: until you quit)")] = None,
    max_frames: Annotated[Optional[int], typer.Option(hidden=True)] = None,
) -> None:
    """Play a game yourself with the keyboard; every finished game's score is stored."""
    from playground.viewer.play import play as run_play

    summary = run_play(env, zoom=zoom, player=name, seed=seed, games=games, max_frames=max_frames)
    for i, game in enumerate(summary.games, 1):
        out.print(say("cli.played_game", i=i, player=summary.player, score=game.score, env=summary.env))
    _announce_awards()


@app.command("duel")
def duel(
    run: Annotated[str, typer.Argument(help="run id, name or 'latest'")],
    checkpoint: Annotated[Optional[str], typer.Option(help="best, latest or a step number (default best)")] = None,
    zoom: Annotated[Optional[int], typer.Option(help="scale each game picture by this whole number")] = None,
    name: Annotated[Optional[str], typer.Option(help="player name (default: your login)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed of the game both play (default: random)")] = None,
    max_frames: Annotated[Optional[int], typer.Option(hidden=True)] = None,
) -> None:
    """Play against a run's agent: the same game with the same seed, side by side; the result is stored."""
    from playground.viewer.duel import duel as run_duel

    summary = run_duel(run, checkpoint=checkpoint, zoom=zoom, player=name, seed=seed, max_frames=max_frames)
    if summary.winner is None:
        out.print(say("cli.duel_unfinished"))
    else:
        winner = {"human": say("cli.winner_human"), "agent": say("cli.winner_agent"),
                  "draw": say("cli.winner_draw")}.get(summary.winner, summary.winner)
        out.print(say("cli.duel_result", player=summary.player, human=summary.human_score, agent=summary.agent_score,
                      run=summary.run_id, seed=summary.seed, winner=winner))
        _announce_awards()


@app.command("bench")
def bench(
    suite: Annotated[str, typer.Argument(help="rl, env, a3c, gan, cartpole, or all of them")],
    quick: Annotated[bool, typer.Option("--quick", help="fewer, shorter rounds")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="also write the figures (.md or .json)")] = None,
) -> None:
    """Ours against a plain peer, alternating in one process tree; prints each figure and the ratio (ours ÷ peer)."""
    import time

    from playground import bench as bench_mod
    from playground.atomic import atomic_write_text
    from playground.settings import resolve_device

    if out_file is not None and out_file.suffix.lower() not in (".md", ".json"):
        raise PlaygroundError("cli.bench_bad_out", name=out_file.name)
    bench_mod.suite_names(suite)  # an unknown suite fails before anything runs
    started, load = time.monotonic(), bench_mod.load_average()
    err.print(bench_mod.kernels_line())

    def measured(figure: bench_mod.Figure) -> None:
        ratio = say("cli.bench_void") if figure.void else f"{figure.ratio:.2f}x"
        err.print(say("cli.bench_figure", suite=figure.suite, name=figure.name, ratio=ratio,
                      seconds=time.monotonic() - started))

    figures = bench_mod.run(suite, quick=quick, device=resolve_device(device), on_figure=measured)
    command = "playground bench " + " ".join(sys.argv[2:])
    data = {"machine": bench_mod.machine(), "kernels": bench_mod.kernels(), "command": command,
            "wall_s": round(time.monotonic() - started, 1),
            "load_average": load, "figures": [f.as_dict() for f in figures]}
    text = bench_mod.markdown(figures, command) + f"\nWall time: {data['wall_s']:.0f} s; load average at the start: {load}\n"
    if out_file is not None:
        atomic_write_text(out_file, json.dumps(data, indent=2) if out_file.suffix.lower() == ".json" else text)
    if as_json:
        _print_json(data)
    else:
        sys.stdout.write(text)  # markdown as is: a table must not be wrapped to the terminal


@app.command("envs")
def envs_list(atari: Annotated[bool, typer.Option("--atari", help="only Atari games")] = False) -> None:
    """Environment ids you can train on."""
    from playground import envs

    for env_id in envs.list_ids(atari_only=atari):
        sys.stdout.write(env_id + "\n")


# -- the web app's questions (hidden) ---------------------------------------------------------
@ui_app.command("form")
def ui_form() -> None:
    """What the training forms offer and prefill: algorithms, GAN models, presets, built-in data, games."""
    from playground.config import form_choices

    _print_json(form_choices())


@ui_app.command("thumbnail")
def ui_thumbnail(env: Annotated[str, typer.Argument(help="an environment id")]) -> None:
    """Render ``env``'s first screen into the thumbnail cache; prints its path (nothing when it has none)."""
    from playground.ui import thumbnails

    path = thumbnails.render(env)
    sys.stdout.write(f"{path or ''}\n")


@ui_app.command("dataset")
def ui_dataset(
    data: Annotated[str, typer.Argument(help="a built-in set or a folder")],
    kind: Annotated[str, typer.Argument(help="images, paired or unpaired")],
) -> None:
    """Check a dataset as a GAN of this data kind would read it; prints what it holds."""
    import dataclasses

    from gans import data as gan_data

    if kind not in ("images", "paired", "unpaired"):
        raise PlaygroundError("cli.bad_data_kind", kind=kind)
    _print_json(dataclasses.asdict(gan_data.describe(data, kind)))  # type: ignore[arg-type]


@ui_app.command("unpack")
def ui_unpack(upload_id: Annotated[int, typer.Argument(help="the upload's id in the store")]) -> None:
    """The web app's unpack job: check an uploaded zip, unpack it and check its layout; its row says how it went."""
    from playground import uploads

    logging.basicConfig(level=logging.WARNING)
    uploads.unpack(upload_id)


@ui_app.command("sweep-importances")
def ui_sweep_importances(sweep_id: Annotated[str, typer.Argument(metavar="SWEEP")]) -> None:
    """Optuna's importance of each searched setting of a sweep (fANOVA over its trials so far), as JSON."""
    from playground import sweeps

    _print_json(sweeps.importances(sweep_id))


@ui_app.command("steer")
def ui_steer() -> None:
    """The warm sampler: one JSON request per line on stdin, one answer per line (playground.gan_steering.serve)."""
    from playground.gan_steering import serve

    logging.basicConfig(level=logging.WARNING)
    serve()


@app.callback()
def _every_command(
    lang: Annotated[Optional[str], typer.Option("--lang", metavar="LANG", help="en or zh: the language of everything printed "
                                                "(default: $PLAYGROUND_LANG, else en); also after the command")] = None,
) -> None:
    if lang is not None:
        _speak(lang)


def _speak(lang: str) -> None:
    """Print in ``lang`` from now on, and start every child (a background job) speaking it too."""
    set_language(lang)
    os.environ[ENV_VAR] = lang


def _language_from(argv: list[str]) -> list[str]:
    """``--lang X`` (or ``--lang=X``) taken out of ``argv`` wherever it stands before ``--``: set for the
    whole process, so that it works after any command (``playground runs list --lang zh``)."""
    rest: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest += argv[i:]
            break
        if word == "--lang" and i + 1 < len(argv):
            _speak(argv[i + 1])
            i += 2
            continue
        if word.startswith("--lang="):
            _speak(word.removeprefix("--lang="))
            i += 1
            continue
        rest.append(word)
        i += 1
    return rest


@functools.cache
def _command() -> Any:
    """``app`` as the click command that runs, built once per process: typer builds it from every command's
    signature (0.1 s each time), and a process that runs several commands (the tests, in-process) reuses it."""
    return typer.main.get_command(app)


def main() -> None:
    threads.settle_openmp()  # before any command loads torch
    threads.note_start()  # a training's first look at the other programs' load spans the command's start
    try:
        if os.environ.get(ENV_VAR):
            check_language(os.environ[ENV_VAR])
        args = _language_from(sys.argv[1:])
        _command()(args=args, prog_name="playground")
    except PlaygroundError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:  # training handles its own Ctrl-C; elsewhere there is nothing to save
        err.print(say("cli.interrupted"))
        sys.exit(130)
