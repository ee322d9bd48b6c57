"""``playground gan watch``, headless (SDL's dummy driver), on GANs trained for real but tiny: the
picture is the run's own sample grid, recordings decode to the right frames, the latent walk moves
smoothly, follow mode picks up newer checkpoints and says when the run ends, pix2pix and CycleGAN
show their triples, the keys work, and every mistake is one sentence with exit status 2.

The runs come from one module-scoped home; each trains for one or two iterations with 8-channel
networks, so the whole file stays well under a minute on two cores.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pytest
import torch
from PIL import Image

from gans import grid
from gans.pix2pix import as_rgb
from playground import gan_training, runs, training
from playground.config import GanConfig, build_gan_config, build_rl_config
from playground.store import get_store
from playground.viewer.display import Screen, canvas_array
from playground.viewer.gan_watch import (
    GRID_PAD,
    HEADER,
    GanFollower,
    GanSession,
    GanWatchApp,
    LatentWalk,
    fit_scale,
    gan_size,
    gan_watch,
    slerp,
)
from playground.viewer.hud import PANEL_WIDTH
from tests.test_viewer import _gif_frames, _mp4_frames, assert_one_sentence

TINY = ["ngf=8", "ndf=8"]
DIGITS_GRID = 8 * (32 + GRID_PAD) + GRID_PAD  # 64 fixed noise vectors, 8 by 8 tiles of 32 pixels


@dataclass
class Lab:
    home: Path
    dcgan: str  # 2 iterations on digits
    cdcgan: str  # 1 iteration on digits, 10 classes
    pix2pix: str  # 1 iteration on 4 aligned pairs
    cyclegan: str  # 1 iteration on the built-in textures
    rl: str  # an RL run (no checkpoint needed)


def _train(model: str, data: str, iters: int, **kwargs: Any) -> str:
    sets = TINY + kwargs.pop("sets", [])
    cfg = build_gan_config(model, data, iters=iters, batch_size=4, sets=sets, device="cpu", **kwargs)
    run = gan_training.create_run(cfg)
    assert gan_training.execute(run.id).status == "finished"
    return run.id


def _aligned(root: Path) -> Path:
    """Four A|B pairs: a dark square on the left, an orange one on the right."""
    rng = np.random.default_rng(0)
    folder = root / "aligned" / "train"
    folder.mkdir(parents=True)
    for i in range(4):
        pair = np.zeros((32, 64, 3), dtype=np.uint8)
        pair[:, :32] = rng.integers(0, 80, (32, 32, 1))
        pair[:, 32:] = np.clip(np.array([200, 120, 40]) + rng.integers(-30, 30, (32, 32, 3)), 0, 255)
        Image.fromarray(pair).save(folder / f"p{i}.png")
    return root / "aligned"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("gan-viewer")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a thread pool only spins on a busy 2-core machine
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(root / "home"))
        mp.delenv("PLAYGROUND_DB", raising=False)
        rl = training.create_run(build_rl_config("ppo", "CartPole-v1", steps=1000, n_envs=1))
        yield Lab(
            home=root / "home",
            dcgan=_train("dcgan", "digits", 2),
            cdcgan=_train("cdcgan", "digits", 1),
            pix2pix=_train("pix2pix", str(_aligned(root)), 1, image_size=32),
            cyclegan=_train("cyclegan", "textures", 1, image_size=32, sets=["n_blocks=1"]),
            rl=rl.id,
        )
    torch.set_num_threads(previous)


@pytest.fixture
def in_lab(lab: Lab, cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    return cli


def _json(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    return json.loads(result.out)


def _session(run_id: str, *, follow: bool = False) -> GanSession:
    run = runs.get(run_id)
    session = GanSession(run, GanConfig.model_validate(run.config), get_store(), use_sample_grids=follow)
    session.load(*runs.pick_checkpoint(run, "latest"))
    session.refresh()
    return session


def _app(session: GanSession, *, window: bool = False, follower: GanFollower | None = None) -> GanWatchApp:
    picture = session.picture()
    scale = fit_scale(picture.shape)
    screen = Screen(gan_size(picture.shape, scale), title="t", headless=not window, fps=1000)
    return GanWatchApp(session, screen, scale=scale, fps=30, follower=follower,
                       screenshot_dir=Path(session.run.folder) / "screenshots")


def _shown(app: GanWatchApp) -> np.ndarray:
    """The picture on the canvas, at 1x (the default zoom is a whole number: every zoom-th pixel)."""
    zoom = int(app.scale)
    width, height = app.drawn["picture_size"]
    return canvas_array(app.screen.canvas)[HEADER:HEADER + height:zoom, :width:zoom]


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


# -- recording ---------------------------------------------------------------------------------------------
def test_headless_gan_watch_records_mp4_and_gif_of_the_grid_and_panel(lab: Lab, in_lab: Any, tmp_path: Path) -> None:
    zoom = 2  # the 274-pixel grid fits the 840x720 box twice
    width, height = DIGITS_GRID * zoom + PANEL_WIDTH, HEADER + DIGITS_GRID * zoom
    mp4 = tmp_path / "grid.mp4"
    done = _json(in_lab("gan", "watch", lab.dcgan, "--headless", "--record", str(mp4), "--max-frames", "6", "--json"))
    assert (done["width"], done["height"], done["frames"]) == (width, height, 6) and done["checkpoint_steps"] == [2]
    frames = _mp4_frames(mp4)
    assert len(frames) == 6 and frames[0].shape == (height, width, 3)
    picture = frames[-1][HEADER:, :DIGITS_GRID * zoom].astype(float)
    assert picture.std() > 5, "the grid is drawn, not an empty canvas"
    [video] = get_store().artifacts(lab.dcgan, "video")
    assert video.path == str(mp4) and video.step == 2 and video.meta["frames"] == 6

    gif = tmp_path / "walk.gif"
    done = _json(in_lab("gan", "watch", lab.cdcgan, "--headless", "--walk", "--fps", "10", "--max-frames", "4",
                        "--record", str(gif), "--json"))
    assert done["walk"] is True
    gif_frames = _gif_frames(gif)
    assert len(gif_frames) == 4 and gif_frames[0].shape == (done["height"], done["width"], 3)
    columns = 10 * (32 + GRID_PAD) + GRID_PAD  # a cDCGAN's grid: a column per class, 7 rows for 64 cells
    assert (done["width"], done["height"]) == (columns * 2 + PANEL_WIDTH, HEADER + (7 * 34 + GRID_PAD) * 2)

    # Headless with neither --record nor --max-frames: ten seconds of video in the run's videos/ folder.
    result = in_lab("gan", "watch", lab.dcgan, "--headless", "--fps", "3")
    assert result.code == 0, result.err
    path = Path(result.out.strip().splitlines()[-1].split(" to ", 1)[1])
    assert path.parent == Path(runs.get(lab.dcgan).folder) / "videos" and path.suffix == ".mp4"
    assert len(_mp4_frames(path)) == 30
    assert str(path) in [a.path for a in get_store().artifacts(lab.dcgan, "video")]


# -- what is shown -------------------------------------------------------------------------------------------
def test_the_picture_is_the_runs_own_sample_grid_and_the_panel_its_numbers(lab: Lab, in_lab: Any) -> None:
    store = get_store()
    store.add_quality(lab.dcgan, {"metric": "FD-test", "fd": 12.5, "kid": 0.0123, "kid_std": 0.001, "n": 50,
                                  "step": 2, "model": "dcgan"})
    session = _session(lab.dcgan)
    app = _app(session)
    assert app.tick()
    # Training drew iteration 2's sample grid from the same fixed noise with the same weights.
    samples = Path(runs.get(lab.dcgan).folder) / "samples"
    trained = np.asarray(Image.open(samples / "iter-0000000002.png").convert("RGB"))
    assert session.picture().shape == trained.shape == (DIGITS_GRID, DIGITS_GRID, 3)
    np.testing.assert_array_equal(session.picture(), trained)
    np.testing.assert_array_equal(_shown(app), trained)
    lines = app.drawn["lines"]
    loss_d = store.metrics(lab.dcgan, "loss/d")[-1][3]
    assert lines[0] == lab.dcgan and "checkpoint iteration 2 of 2" in lines
    assert f"D loss  {loss_d:.3f}" in lines and "newest sample grid: iteration 2" in lines
    assert "FD-test 12.50, KID-test 0.0123" in lines


def test_pix2pix_and_cyclegan_show_input_output_target_rows(lab: Lab, in_lab: Any, tmp_path: Path) -> None:
    session = _session(lab.pix2pix)
    model, fixed = session.model, session.fixed
    assert model is not None and fixed["a"].shape[0] == 4  # the four pairs of the folder
    app = _app(session)
    assert app.tick()
    assert app.drawn["captions"] == ["input", "output", "target"]
    tiles = grid.to_uint8(torch.stack([as_rgb(fixed["a"]), as_rgb(model.translate(fixed["a"])), as_rgb(fixed["b"])], 1)
                          .flatten(0, 1))
    picture = session.picture()
    assert picture.shape == (4 * 34 + 2, 3 * 34 + 2, 3)
    for row in range(4):
        for column in range(3):
            y, x = GRID_PAD + row * 34, GRID_PAD + column * 34
            np.testing.assert_array_equal(picture[y:y + 32, x:x + 32], tiles[row * 3 + column])
    assert _diff(tiles[0], tiles[1]) > 1 and _diff(tiles[1], tiles[2]) > 1, "the output is the model's, not a copy"
    app.controls.key(pygame.K_l)
    assert app.tick() and session.walk is None and "no latent walk" in session.hud.message

    session = _session(lab.cyclegan)
    app = _app(session)
    assert app.tick()
    assert app.drawn["captions"] == ["A", "A -> B", "back to A", "B", "B -> A", "back to B"]
    assert session.picture().shape[1] == 6 * 34 + 2 and session.picture().shape[0] == 8 * 34 + 2  # 8 rows fit
    gif = tmp_path / "cyclegan.gif"
    done = _json(in_lab("gan", "watch", lab.cyclegan, "--headless", "--max-frames", "2", "--record", str(gif),
                        "--json"))
    assert len(_gif_frames(gif)) == 1 and done["frames"] == 2  # 30 fps: a GIF keeps every other frame


# -- the latent walk ------------------------------------------------------------------------------------------
def test_slerp_stays_on_the_sphere_between_its_ends() -> None:
    a, b = torch.randn(5, 100, generator=torch.Generator().manual_seed(0)), torch.randn(5, 100)
    a, b = a / a.norm(dim=1, keepdim=True) * 10, b / b.norm(dim=1, keepdim=True) * 10  # on one sphere
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    middle = slerp(a, b, 0.5)
    cosine = torch.nn.functional.cosine_similarity
    torch.testing.assert_close(cosine(middle, a), cosine(middle, b))  # halfway round, not at one end
    assert (cosine(middle, a) > cosine(a, b) + 0.1).all()
    torch.testing.assert_close(middle.norm(dim=1), torch.full((5,), 10.0))  # not the chord through the middle
    torch.testing.assert_close(slerp(a, a, 0.3), a)


def test_the_latent_walk_is_smooth_starts_at_the_fixed_noise_and_loops(lab: Lab, in_lab: Any) -> None:
    session = _session(lab.dcgan)
    still = session.picture().copy()
    session.start_walk()
    walk = session.walk
    assert walk is not None and walk.legs == 4
    np.testing.assert_array_equal(session.walk_picture(), still)  # leg 1 starts at the fixed noise
    frames = [session.walk_picture()]
    for _ in range(30):  # one leg at 15 frames a second for two seconds
        walk.advance(1 / 30)
        frames.append(session.walk_picture().copy())
    steps = [_diff(a, b) for a, b in itertools.pairwise(frames)]
    ends = _diff(frames[0], frames[-1])
    assert ends > 0 and max(steps) < ends / 3, (max(steps), ends)
    walk.advance(3)
    assert walk.position == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_array_equal(session.walk_picture(), still)

    conditional = _session(lab.cdcgan)
    conditional.start_walk()
    assert conditional.walk is not None
    z = conditional.walk.z(0.5)
    assert torch.equal(z[0], z[9]) and not torch.equal(z[0], z[10]), "one noise vector per row, across the classes"
    assert conditional.fixed["labels"][:10].tolist() == list(range(10))
    assert LatentWalk(torch.randn(4, 3), seed=1).z().shape == (4, 3)


def test_keys_walk_pause_step_speed_screenshot_help_and_quit(lab: Lab, in_lab: Any) -> None:
    session = _session(lab.dcgan)
    app = _app(session, window=True)  # a window, on SDL's dummy driver

    def press(*keys: int) -> bool:
        for key in keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=""))
        return app.tick()

    try:
        assert press() and session.walk is None
        still = _shown(app).copy()
        assert press(pygame.K_l) and session.walk is not None and app.walked
        assert session.walk.position == pytest.approx(1 / 60)  # one frame of a two-second leg at 30 fps
        assert press() and _diff(_shown(app), still) > 0, "the walk moves"
        assert press(pygame.K_SPACE) and app.controls.view.paused
        position = session.walk.position
        assert press() and session.walk.position == position, "paused: the walk stands still"
        assert press(pygame.K_RIGHT) and session.walk.position == pytest.approx(position + 1 / 60)
        assert press(pygame.K_SPACE, pygame.K_PLUS) and app.controls.view.speed == 2
        position = session.walk.position
        assert press() and session.walk.position == pytest.approx(position + 2 / 60)
        assert press(pygame.K_MINUS) and app.controls.view.speed == 1
        first_walk = session.walk.points[1].clone()
        assert press(pygame.K_r) and not torch.equal(session.walk.points[1], first_walk), "r: a new walk"
        assert press(pygame.K_h) and app.drawn.get("help") is True
        assert press(pygame.K_s) and len(app.screenshots) == 1
        assert pygame.image.load(str(app.screenshots[0])).get_size() == app.screen.size
        assert press(pygame.K_h, pygame.K_l) and session.walk is None
        np.testing.assert_array_equal(_shown(app), still)  # back to the fixed noise
        assert not press(pygame.K_q)
        app.controls.quit = False
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert not app.tick(), "closing the window quits"
    finally:
        app.screen.close()


# -- follow ----------------------------------------------------------------------------------------------------
def test_follow_picks_up_newer_checkpoints_and_sample_grids_and_says_when_the_run_ends(lab: Lab, in_lab: Any,
                                                                                    tmp_path: Path) -> None:
    store = get_store()
    run_id = _train("dcgan", "digits", 1)
    follower = GanFollower(run_id, store)
    first = follower.choose()
    assert first is not None and first[0] == 1 and first[2] == "finished"
    follower.status = first[2]
    session = _session(run_id, follow=True)
    app = _app(session, follower=follower)
    app.poll_s = app.refresh_s = 0.0
    said: list[str] = []
    app.notify = said.append
    assert app.tick() and session.step == 1
    before = _shown(app).copy()

    resumed = in_lab("gan", "resume", run_id, "--iters", "12", "--json")  # training, between two frames
    assert resumed.code == 0, resumed.err
    assert app.tick()
    assert session.step == 12 and app.checkpoint_steps == [1, 12]
    assert said[-1] == "new checkpoint: iteration 12" and session.hud.message == said[-1]
    assert _diff(_shown(app), before) > 0, "the new weights draw the grid"  # 11 iterations: visibly
    assert session.hud.samples_step == 12

    runs.mark_running(run_id, store)  # the run trains on (this process plays the trainer)
    assert app.tick() and said[-1] == "run running again; following its newest checkpoint"
    newer = tmp_path / "iter-15.png"
    grid.save_png(np.full_like(session.picture(), 200), newer)  # training's next sample grid
    store.add_artifact(run_id, "samples", str(newer), step=15)
    assert app.tick() and session.hud.samples_step == 15
    assert (_shown(app) == 200).all() and "sample grid of iteration 15" in session.hud.showing
    runs.end(run_id, "finished", 15, store=store)
    assert app.tick() and said[-1] == "run finished; showing its last checkpoint (iteration 12)"
    assert session.step == 12 and app.tick() and session.hud.run_status == "finished"


def test_follow_waits_for_the_first_checkpoint_and_says_so(lab: Lab, in_lab: Any, tmp_path: Path) -> None:
    cfg = build_gan_config("dcgan", "digits", iters=1, batch_size=4, sets=TINY, device="cpu")
    run = gan_training.create_run(cfg)
    said: list[str] = []

    def notify(message: str) -> None:  # the first message is the wait; the training starts then
        said.append(message)
        if len(said) == 1:
            gan_training.execute(run.id)

    out = tmp_path / "followed.mp4"
    summary = gan_watch(run.id, follow=True, headless=True, record=out, max_frames=3, notify=notify)
    assert said[0] == f"waiting for the first checkpoint of {run.id} (the run is created); Ctrl-C stops."
    assert summary.checkpoint_steps == [1] and summary.frames == 3 and not summary.interrupted
    assert len(_mp4_frames(out)) == 3


# -- bad input ---------------------------------------------------------------------------------------------------
def test_gan_watch_bad_input_is_one_sentence(lab: Lab, in_lab: Any, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cli = in_lab
    assert_one_sentence(cli("gan", "watch", "no-such-run", "--headless"), "no-such-run", "runs list")
    assert_one_sentence(cli("gan", "watch", lab.rl, "--headless"), lab.rl, "RL run", f"playground watch {lab.rl}")
    assert_one_sentence(cli("watch", lab.dcgan, "--headless"), "GAN run", f"playground gan watch {lab.dcgan}")
    empty = gan_training.create_run(build_gan_config("dcgan", "digits", iters=1, batch_size=4, sets=TINY))
    assert_one_sentence(cli("gan", "watch", empty.id, "--headless"), "no checkpoint yet", "--follow")
    get_store().update_run(empty.id, status="stopped")
    assert_one_sentence(cli("gan", "watch", empty.id, "--headless", "--follow"), "stopped", "gan train")
    assert_one_sentence(cli("gan", "watch", lab.pix2pix, "--headless", "--walk"), "--walk", "pix2pix")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--headless", "--checkpoint", "best"), "--checkpoint")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--headless", "--checkpoint", "99"), "no checkpoint at step 99")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--follow", "--checkpoint", "latest"), "--follow")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--headless", "--record", str(tmp_path / "x.avi")),
                        ".mp4 or .gif")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--headless", "--record", str(blocker / "x.mp4")),
                        "cannot write")
    assert_one_sentence(cli("gan", "watch", lab.dcgan, "--record", str(tmp_path)), "folder")
    for flag in ("--zoom", "--fps", "--max-frames"):
        assert_one_sentence(cli("gan", "watch", lab.dcgan, "--headless", flag, "0"), flag)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert_one_sentence(cli("gan", "watch", lab.dcgan), "no display", "--headless")
    assert not list(lab.home.rglob("*.avi")) and not list(tmp_path.rglob("*.mp4")), "nothing was recorded"
