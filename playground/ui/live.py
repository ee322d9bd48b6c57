"""The live panel of a training run, shared by the agent and GAN pages.

It reads only the store and the run folder: status, progress, the trainer's own speed and ETA (its
session stores them with each heartbeat), the curve (episode returns for agents, D/G losses for GANs),
the latest evaluation or sample grid, a tabular run's table (``playground.ui.tables``), and Stop / Resume.
A finished run offers its next steps: watch it, evaluate it (``playground rl|gan eval`` in a child
process) and the challenge to try next.
A job is a separate process, so the panel finds it again after a browser refresh: with no run in
this session it shows the newest running run of its kind (else the newest one).

The panel is two fragments that rerun while its run is alive (or being evaluated): its numbers every
``REFRESH_S`` seconds and its chart every ``CURVE_REFRESH_S``; a tabular run's table is a third, redrawn
every ``REFRESH_S`` from its newest checkpoint (plain arrays: numpy and pygame, never torch). When the
run's status changes it reruns the page, so the run picker above it says the new status, and once the
run has ended it stops polling.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from playground import access, runs
from playground.errors import PlaygroundError
from playground.game.catalogue import algorithm_of
from playground.store import Evaluation, Run, Store, get_store
from playground.ui import auth, engine
from playground.ui.tables import render_table, tabular
from playground.ui.common import lang, shown_errors, t
from playground.ui.game_views import LANDED, announce, challenge_card, load_game
from playground.i18n import table

# Every redraw costs the browser CPU beside the training it shows (a chart about half a second on a 2-core
# laptop). Measured with scripts/page_open_speed.py (PPO CartPole from Home, page open against the CLI alone,
# median of 5): numbers every 3 s and the chart every 15 s trained 1.15x slower; every 5 s and 30 s, 0.98x.
REFRESH_S = 5.0  # the numbers: status, speed, ETA, the bar
CURVE_REFRESH_S = 30.0  # the chart
LOG_TAIL_LINES = 30
ALIVE = ("created", "running")
WATCH_PAGE = "playground/ui/pages/watch.py"
EVALS = "live.evals"  # session state: run id -> the `rl|gan eval` child this session started for it
RESUME_GRACE_S = 60.0  # a resumed run stays "stopped" until its new job claims it; keep polling that long
# What each kind draws as its curve: metric key -> translation key of its legend.
CURVES = {
    "rl": {runs.GAME_SCORE: "live.curve.return"},
    "gan": {"loss/d": "live.curve.loss_d", "loss/g": "live.curve.loss_g"},
}


def learn_more(name: str) -> None:
    """A model's idea in one line (``learn.<name>.idea``) and a link to its card on the Learn page.

    The card opens in a new tab (the Learn page reads ``?card=``), so the form keeps what was typed."""
    name = algorithm_of(name)  # stable-baselines3's DQN has DQN's card
    idea = f"learn.{name}.idea"
    if idea in table():
        st.caption(t(idea))
    st.link_button(t("train_agent.learn_more"), f"learn?card={name}", help=t("train_agent.learn_more_help"))


def pick_run(kind: str, session_key: str) -> Run | None:
    """The run to show: this session's, else the newest running one of ``kind``, else the newest. On a served app
    the panel of a training page follows the person's own runs (everyone's are on the Runs and Watch pages)."""
    found = list(reversed(runs.list_runs(kind=kind)))  # newest first
    if auth.served():
        me = auth.player()
        found = [r for r in found if access.owner(r) == me]
    if not found:
        return None
    by_id = {r.id: r for r in found}
    current = st.session_state.get(session_key)
    if current not in by_id:
        running = [r for r in found if r.status == "running"]
        current = (running or found)[0].id
    ids = list(by_id)
    chosen = st.selectbox(
        t("live.pick"),
        ids,
        index=ids.index(current),
        format_func=lambda rid: f"{rid} · {t('live.status.' + by_id[rid].status)}"
        + (f" · {by_id[rid].label}" if by_id[rid].label else ""),
    )
    before = st.session_state.get(session_key)
    st.session_state[_drawn_key(chosen)] = by_id[chosen].status  # what the picker says; the panel compares
    if chosen != before:
        st.session_state[session_key] = chosen
        if before is not None:
            st.rerun()  # the page's layout above (a run just started on top) follows the run now chosen
    return by_id[chosen]


def _drawn_key(run_id: str) -> str:
    return f"live.drawn.{run_id}"


# -- landing on a run that a one-click start began -----------------------------------------------------
def landed_run(kind: str, session_key: str) -> Run | None:
    """The run a one-click start (Home's first steps, a challenge's start button) opened this page on,
    while it is still the run the panel follows: the page then shows it on top and folds its form."""
    run_id = st.session_state.get(LANDED, {}).get(kind)
    if not run_id or st.session_state.get(session_key) != run_id:
        return None
    try:
        return runs.get(run_id)
    except PlaygroundError:
        return None


def leave_landing(kind: str) -> None:
    """The form started another run: the page goes back to the form first, the panel below it."""
    st.session_state.get(LANDED, {}).pop(kind, None)


def run_on_label(on_ray: bool) -> str:
    """``this machine``, or ``Ray (ADDRESS)``: the cluster the app was started with (RAY_ADDRESS, which its
    children inherit), else a Ray started here."""
    if not on_ray:
        return t("ray.ui_here")
    return t("ray.ui_ray", address=os.environ.get("RAY_ADDRESS") or t("ray.ui_ray_local"))


def seeds_and_place(form: str) -> tuple[int, bool]:
    """A training form's last two fields: how many seeds (one run each, as a group) and where they train."""
    from playground.jobs import MAX_SEEDS

    s1, s2 = st.columns(2)
    count = s1.number_input(t("ray.ui_seeds"), min_value=1, max_value=MAX_SEEDS, value=1, step=1,
                            help=t("ray.ui_seeds_help"), key=f"{form}.seeds")
    # The labels themselves are the options: a format function would be called again outside this session (by
    # Streamlit's test harness, for one), where the session's language is not known.
    places = [run_on_label(False), run_on_label(True)]
    on_ray = s2.radio(t("ray.ui_run_on"), places, horizontal=True, key=f"{form}.on",
                      help=t("ray.ui_run_on_help")) == places[1]
    return int(count), on_ray


def placement_options(seed: int, count: int, on_ray: bool) -> list[str]:
    """The CLI options of those fields: ``--seed`` or ``--seeds`` (``count`` seeds from ``seed`` on), and ``--on``."""
    seeds = [f"--seeds={','.join(str(seed + i) for i in range(count))}"] if count > 1 else [f"--seed={seed}"]
    return seeds + (["--on=ray"] if on_ray else [])


def _check_without_engine(owner: str, options: list[str]) -> None:
    """The checks of the CLI child that need no engine, here first: a bad name or an infinite setting is its
    sentence at once, not after a child process has loaded torch (the child checks everything again)."""
    from playground import checks, config

    for option in options:
        flag, _, value = option.partition("=")
        if flag == "--name":
            checks.check_name(value)
        elif flag == "--set":
            checks.check_hyperparameter_values(owner, config.parse_sets([value]))


def start_from_form(kind: str, form: str, landed: Run | None, target: tuple[str, str], options: list[str]) -> None:
    """Start a run from a training form through the CLI child (``kind`` rl or gan, ``target`` its name and
    environment or data); when the page had landed on another run, draw the page anew around the new one."""
    from playground import jobs

    run_id = None
    with shown_errors(), st.spinner(t("train_agent.starting")):
        _check_without_engine(target[0], options)
        if any(option.startswith("--seeds=") for option in options):  # a seeds group: the page follows its first run
            group, ids, pid = jobs.launch_group_detached(kind, target[0], target[1], options, lang=lang(),
                                                         env=auth.child_env())
            run_id = ids[0]
            st.session_state[f"{form}.run"] = run_id
            st.success(t("ray.ui_group_started", group=group, runs=", ".join(ids), pid=pid))
        else:
            run_id, pid = jobs.launch_detached(kind, target[0], target[1], options, lang=lang(),
                                               env=auth.child_env())
            st.session_state[f"{form}.run"] = run_id
            st.success(t(f"{form}.started", run=run_id, pid=pid))
    if run_id is not None and landed is not None:  # the panel on top shows the old run: draw anew
        leave_landing(kind)
        st.session_state[f"{form}.notice"] = t(f"{form}.started", run=run_id, pid=pid)
        st.rerun()


def training_page(kind: str, form: str, draw_form: Any, prefill: Any) -> None:
    """A training page: after a one-click start its run on top and the form folded below it (set to that run);
    otherwise the form, then the live panel."""
    run_key = f"{form}.run"
    landed = landed_run(kind, run_key)
    if landed is not None:
        landed_banner(landed)
        prefill(landed)
        live_panel(kind, run_key)
        with st.expander(t(f"{form}.folded"), expanded=False):
            draw_form(landed)
        return
    st.caption(t(f"{form}.intro"))
    notice = st.session_state.pop(f"{form}.notice", None)
    if notice:
        st.success(notice)
    draw_form(None)
    st.divider()
    live_panel(kind, run_key)


def landed_banner(run: Run) -> None:
    """The line at the top of a page a one-click start opened: which run started, and where it stands."""
    if run.kind == "gan":  # the GAN page has asked for its choices already: no second child
        name = engine.gan_models().get(run.algo, {}).get("title", run.algo)
    else:
        name = run.algo.upper()
    what = t("live.landed.what", algo=name, env=run.env)
    if run.status in ALIVE or resuming(run):
        st.success(t("live.landed.started", run=run.id, what=what), icon="▶️")
    elif run.status == "finished":
        st.success(t("live.landed.finished", run=run.id, what=what), icon="🏁")


def _resumed_key(run_id: str) -> str:
    return f"live.resumed.{run_id}"


def resuming(run: Run) -> bool:
    """Whether this session resumed ``run`` moments ago and its job has not claimed it yet."""
    since = st.session_state.get(_resumed_key(run.id))
    if since is None or run.status in ALIVE:
        return False
    if run.ended_at is not None and run.ended_at > since:  # the resumed job has come and gone
        return False
    return time.time() - since < RESUME_GRACE_S


def _alive(run: Run) -> bool:
    return run.status in ALIVE or resuming(run)


def _polling(run: Run) -> bool:
    """Whether the panel has something to follow: the run trains, or this session evaluates it."""
    return _alive(run) or evaluating(run.id)


def best_checkpoint(run: Run, store: Store | None = None) -> tuple[int, Evaluation] | None:
    """The run's best checkpoint still on disk and the evaluation that makes it best: the highest mean, and
    of equal means the one with the fewest steps (the game ranks equal results so, and a later one may be
    past a challenge's step budget, such as CartPole's final 100,352 against 100,000). None before any
    evaluation. Watch's "best", its recordings and the panel's "Evaluate it" all use this one checkpoint."""
    store = store or get_store()
    on_disk = {str(path): step for step, path in runs.checkpoints(run, store)}
    measured = [e for e in store.evaluations(run.id, played=True) if e.checkpoint in on_disk]
    if not measured:
        return None
    best = max(measured, key=runs.best_first)  # the one rule `rl eval` and `watch` use for "best"
    return on_disk[best.checkpoint], best  # type: ignore[index]


def speed_text(run: Run) -> str:
    """The trainer's own speed, as its session stored it with the last heartbeat (steps or iterations per second)."""
    return f"{run.steps_per_s:,.1f}" if run.steps_per_s else "—"


def eta_text(run: Run) -> str:
    """The trainer's own estimate of the time left, while it runs."""
    if run.status != "running" or run.eta_s is None:
        return "—"
    return str(timedelta(seconds=int(round(run.eta_s))))


def _log_tail(run: Run) -> str:
    path = Path(run.folder) / "logs" / "job.log"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _curve(kind: str, run: Run) -> pd.DataFrame | None:
    store = get_store()
    frames = []
    for key, label_key in CURVES[kind].items():
        found = store.metrics(run.id, key)
        if found:
            series = pd.Series([v for _, _, _, v in found], index=[s for s, _, _, _ in found], name=t(label_key))
            frames.append(series.groupby(level=0).mean())
    if not frames:
        return None
    chart = pd.concat(frames, axis=1).sort_index()
    if kind == "rl" and len(chart) >= 5:
        column = chart.columns[0]
        chart[t("live.curve.mean")] = chart[column].rolling(min(20, len(chart)), min_periods=1).mean()
    chart.index.name = t("live.step")
    return chart


def newest_sample(run: Run) -> Path | None:
    """The newest sample grid of a GAN run: the store's ``samples`` artifacts, else the samples/ folder."""
    for art in reversed(get_store().artifacts(run.id, "samples")):
        if Path(art.path).is_file():
            return Path(art.path)
    found = sorted((Path(run.folder) / "samples").glob("iter-*.png"))
    return found[-1] if found else None


def _evaluation(run: Run) -> None:
    if run.kind == "gan":
        path = newest_sample(run)
        if path is None:
            st.caption(t("live.no_samples"))
        else:
            st.image(str(path), caption=t("live.samples_caption", name=path.stem), width=360)
        return
    evals = get_store().evaluations(run.id, played=True)
    if not evals:
        st.caption(t("live.no_eval"))
        return
    last = evals[-1]
    st.metric(
        t("live.last_eval"),
        f"{last.mean:.1f} ± {last.std:.1f}",
        help=t("live.last_eval_help", step=f"{last.step:,}", n=last.n_episodes),
    )


def _buttons(run: Run, session_key: str) -> None:
    if not access.may_manage(auth.actor(), run):  # someone else's run, on a served app: no buttons to press
        st.caption(t("runs.someone_elses", owner=access.owner(run)))
        return
    if run.status == "running":
        if st.button(t("live.stop"), key=f"live.stop.{run.id}", disabled=bool(run.stop_requested)):
            with shown_errors():
                runs.request_stop(run.id, actor=auth.actor())
                st.info(t("live.stop_asked"))
        elif run.stop_requested:
            st.info(t("live.stop_asked"))
    elif resuming(run):
        st.info(t("live.resuming"))
    elif run.status in ("stopped", "failed"):
        if st.button(t("live.resume"), key=f"live.resume.{run.id}"):
            resumed = None
            with shown_errors(), st.spinner(t("train_agent.starting")):
                from playground import jobs

                # A child (no torch here), acting for this session's person: it checks ownership and the quota too.
                resumed, _pid = jobs.resume_detached(run.kind, run.id, lang=lang(), env=auth.child_env())
            if resumed is not None:
                st.session_state[session_key] = resumed
                st.session_state[_resumed_key(resumed)] = time.time()
                st.rerun()


def render_run(run: Run, session_key: str) -> None:
    """What the panel says about one run's progress (inside the fast fragment): status, speed, ETA, the
    bar, a failure's sentence, the buttons and a finished run's next steps."""
    try:
        run = runs.get(run.id)
    except PlaygroundError:  # deleted meanwhile: show the runs that are left
        st.session_state.pop(session_key, None)
        st.rerun()
    if st.session_state.get(_drawn_key(run.id), run.status) != run.status:
        st.rerun()  # the page: the run picker above names the status it had when it was drawn
    unit = t("live.unit." + run.kind)
    st.subheader(run.id + (f" · {run.label}" if run.label else ""))
    st.caption(f"{run.algo} · {run.env}")
    total = run.total_steps or 0
    cols = st.columns(3)
    cols[0].metric(t("live.status"), t("live.status." + run.status))
    cols[1].metric(t("live.speed", unit=unit), speed_text(run), help=t("live.speed_help"))
    cols[2].metric(t("live.eta"), eta_text(run))
    fraction = min(max(run.step / total, 0.0), 1.0) if total else 0.0
    shown_total = f"{total:,}" if total else "?"
    st.progress(fraction, text=t("live.progress", step=f"{run.step:,}", total=shown_total, unit=unit))
    if run.status == "failed":
        st.error(t("live.failed", error=run.error or t("live.no_error")))
        tail = _log_tail(run)
        if tail:
            st.code(tail, language=None)
    _buttons(run, session_key)
    if run.status == "finished":
        next_steps(run)
    seen_key = f"live.status_seen.{run.id}"
    before = st.session_state.get(seen_key)
    st.session_state[seen_key] = _polling(run)
    if before and not _polling(run):
        st.rerun()  # the whole page: the panel stops polling a run that has ended (or its evaluation)


def render_curves(run: Run) -> None:
    """The run's curve and its latest evaluation (inside the slow fragment)."""
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**" + t("live.curve." + run.kind) + "**")
        chart = _curve(run.kind, run)
        if chart is None:
            st.caption(t("live.no_curve"))
        else:
            st.line_chart(chart)
    with right:
        _evaluation(run)


def live_panel(kind: str, session_key: str) -> None:
    """The panel: pick a run of ``kind`` and follow it while it is alive: its numbers every ``REFRESH_S``
    seconds, its chart every ``CURVE_REFRESH_S`` (a chart costs the browser far more to draw)."""
    st.header(t("live.title"))
    run = pick_run(kind, session_key)
    if run is None:
        st.info(t("live.none_" + kind))
        return
    polling = _polling(run)

    @st.fragment(run_every=REFRESH_S if polling else None)
    def numbers() -> None:
        render_run(run, session_key)

    @st.fragment(run_every=CURVE_REFRESH_S if polling else None)
    def curves() -> None:
        render_curves(runs.get(run.id))

    numbers()
    curves()
    if tabular(run.algo):

        @st.fragment(run_every=REFRESH_S if polling else None)
        def table() -> None:
            render_table(runs.get(run.id))

        table()


# -- a finished run's next steps ---------------------------------------------------------------------
def next_steps(run: Run) -> None:
    """What a finished run leads to: watch it, evaluate it, and the challenge `playground profile` suggests."""
    st.markdown("**" + t("live.next.title") + "**")
    watch_col, eval_col = st.columns(2)
    if watch_col.button(t("live.next.watch." + run.kind), key=f"live.watch.{run.id}", type="primary",
                        width="stretch"):
        open_watch(run.id)
    busy = evaluating(run.id)
    if eval_col.button(t("live.next.evaluate"), key=f"live.evaluate.{run.id}", disabled=busy, width="stretch",
                       help=t("live.next.evaluate_help." + run.kind)):
        started = False
        with shown_errors():
            start_evaluation(run)
            started = True
        if started:
            st.rerun()  # the page: the panel polls while the evaluation runs
    evaluation_status(run)
    next_challenge()


def open_watch(run_id: str) -> None:
    """The Watch page on ``run_id``; run alone (outside the app's navigation) the page says where to go."""
    try:
        st.switch_page(WATCH_PAGE, query_params={"run": run_id})
    except StreamlitAPIException:
        st.info(t("live.next.watch_elsewhere", run=run_id, page=t("nav.watch")))


def start_evaluation(run: Run) -> None:
    """``playground rl|gan eval RUN`` in a child process of its own, like the pages' other children (the engine
    stays out of this process); its output goes to the run's ``logs/ui-eval.log`` and its result to the store."""
    logs = Path(run.folder) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "ui-eval.log"
    which = []
    if run.kind == "rl" and (best := best_checkpoint(run)) is not None:
        which = ["--checkpoint", str(best[0])]  # the checkpoint Watch calls best
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            [sys.executable, "-m", "playground", run.kind, "eval", *which, "--", run.id], stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **auth.child_env()},
        )
    st.session_state.setdefault(EVALS, {})[run.id] = {"proc": proc, "since": time.time(), "log": str(log_path)}


def _evaluation_job(run_id: str) -> dict[str, Any] | None:
    return st.session_state.get(EVALS, {}).get(run_id)


def evaluating(run_id: str) -> bool:
    """Whether this session's evaluation of ``run_id`` is still going."""
    job = _evaluation_job(run_id)
    return job is not None and job["proc"].poll() is None


def evaluation_result(run: Run, since: float) -> str | None:
    """The result an evaluation stored after ``since``, as one line; None while there is none."""
    store = get_store()
    found = [e for e in store.evaluations(run.id) if e.created_at >= since]
    if not found:
        return None
    e = max(found, key=lambda e: (e.created_at, e.id or 0))
    if e.played:
        return t("live.next.eval_rl", mean=f"{e.mean:.1f}", std=f"{e.std:.1f}", n=e.n_episodes, step=f"{e.step:,}")
    return t("live.next.eval_gan", metric=e.measure, fd=f"{e.mean:.2f}", kid=f"{e.details.get('kid', float('nan')):.4f}",
             n=e.n_episodes, step=f"{e.step:,}")


def _failure(log_path: str) -> str:
    """The CLI's one sentence (``error: …``) from the child's log, or the end of what it said."""
    try:
        lines = [ln for ln in Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    return " ".join(lines[-2:]) or t("live.no_error")


def evaluation_status(run: Run) -> None:
    """Where this session's evaluation of ``run`` stands: going, its stored result, or why it failed."""
    job = _evaluation_job(run.id)
    if job is None:
        return
    code = job["proc"].poll()
    result = evaluation_result(run, job["since"])
    if result is not None:
        st.success(result)
    elif code is None:
        st.info(t("live.next.evaluating", command=f"playground {run.kind} eval {run.id}"))
    elif code != 0:
        st.error(t("live.next.eval_failed", error=_failure(job["log"])))
    else:
        st.warning(t("live.next.eval_missing", log=job["log"]))


def next_challenge() -> None:
    """The one challenge to try next (as `playground profile` suggests it), with its start button when it is a
    plain training; reading the game here also records and announces what the finished run earned."""
    with shown_errors():
        game = load_game()
        player = auth.player()
        announce(game, player)
        nxt = game.profile(player).get("next_challenge")
        st.markdown("**" + t("live.next.challenge") + "**")
        if nxt is None:
            st.success(t("home.all_done"))
            return
        tiers = {tier.id: tier.name for tier in game.catalogue.tiers}
        challenge_card(nxt, key="live-next", tiers=tiers, start_button=True)

