"""Real windows: `watch`, `gan watch`, `play` and `duel` open under an X server (Xvfb) with the driver
a desktop uses (SDL's x11, not the dummy driver), show their picture, play some frames and close
cleanly.

This is where a crash hid that the headless tests could not see: a window drawn through Mesa
(llvmpipe) and triton, loaded later by torch's first optimizer step, each bring their own LLVM, and
the process died with SIGSEGV as soon as `watch` or `gan watch` opened. `.ci/run` installs Xvfb;
without it these tests skip here and fail in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import gan_training, training
from playground.config import build_gan_config, build_rl_config
from tests.conftest import ROOT
from tests.test_viewer import TINY_PPO, _run_with_checkpoint

SCREEN = (1280, 1024)
ARTIFACTS = Path(os.environ.get("PLAYGROUND_TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """An X server of our own on a free display number, stopped at the end."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        if os.environ.get("PLAYGROUND_XVFB_REQUIRED"):
            pytest.fail("Xvfb is not installed; .ci/run installs Debian's `xvfb` package for these tests.")
        pytest.skip("Xvfb is not installed (apt-get install xvfb); .ci/run installs it")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(  # Xvfb picks a free display and writes its number to write_fd
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp", "-br", "-nocursor"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as numbers:
            number = numbers.readline().strip()
        assert number.isdigit(), "Xvfb did not report its display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Lab:
    home: Path
    cartpole: str  # a real PPO run on CartPole (256 steps)
    pong: str  # an untrained PPO on ALE/Pong-v5 with a checkpoint
    dcgan: str  # 2 iterations on digits


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home = tmp_path_factory.mktemp("windows") / "home"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        mp.delenv("PLAYGROUND_DB", raising=False)
        cfg = build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1, sets=TINY_PPO, eval_every=256,
                              eval_episodes=1)
        cartpole = training.create_run(cfg)
        assert training.execute(cartpole.id).status == "finished"
        pong = _run_with_checkpoint(build_rl_config("ppo", "ALE/Pong-v5", steps=1000, n_envs=1, sets=TINY_PPO,
                                                    env_backend="fast"))
        gan = gan_training.create_run(build_gan_config("dcgan", "digits", iters=2, batch_size=4,
                                                       sets=["ngf=8", "ndf=8"], device="cpu"))
        assert gan_training.execute(gan.id).status == "finished"
        yield Lab(home, cartpole.id, pong, gan.id)
    torch.set_num_threads(previous)


def grab(display: str) -> np.ndarray | None:
    """The X screen as an RGB array, taken by the ffmpeg inside imageio-ffmpeg (x11grab)."""
    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "x11grab", "-video_size",
         f"{SCREEN[0]}x{SCREEN[1]}", "-i", display, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=30,
    )
    if done.returncode != 0 or len(done.stdout) != SCREEN[0] * SCREEN[1] * 3:
        return None
    return np.frombuffer(done.stdout, dtype=np.uint8).reshape(SCREEN[1], SCREEN[0], 3)


def drawn_size(picture: np.ndarray) -> tuple[int, int]:
    """Width and height of what is drawn on the black screen (0, 0 when nothing is)."""
    lit = np.argwhere(picture.max(axis=2) > 0)
    if not len(lit):
        return 0, 0
    height, width = lit.max(axis=0) - lit.min(axis=0) + 1
    return int(width), int(height)


def open_window(lab: Lab, display: str, name: str, *args: str) -> str:
    """Run ``playground ARGS`` in a window on ``display``; while it shows, keep a screenshot of the screen.
    Returns what it printed; fails unless a picture was on screen and the process ended with status 0."""
    env = {**os.environ, "PLAYGROUND_HOME": str(lab.home), "DISPLAY": display, "SDL_VIDEODRIVER": "x11"}
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "playground", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shot = None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        picture = grab(display)
        if picture is not None and min(drawn_size(picture)) >= 150:  # the window is up, with its picture
            shot = picture
            break
        time.sleep(0.2)
    out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    assert proc.returncode == 0, f"`playground {' '.join(args)}` ended with status {proc.returncode}:\n{err[-3000:]}"
    assert shot is not None, f"no window was seen on the screen for `playground {' '.join(args)}`"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.fromarray(shot).save(ARTIFACTS / f"window-{name}.png")
    return out


def test_watch_opens_a_window_plays_and_closes(lab: Lab, display: str) -> None:
    out = open_window(lab, display, "watch", "watch", lab.cartpole, "--max-frames", "90", "--seed", "1")
    assert "game" in out or "no game finished" in out


def test_watch_an_atari_game_in_a_window(lab: Lab, display: str) -> None:
    open_window(lab, display, "watch-pong", "watch", lab.pong, "--max-frames", "90", "--seed", "1")


def test_gan_watch_opens_a_window_and_closes(lab: Lab, display: str) -> None:
    open_window(lab, display, "gan-watch", "gan", "watch", lab.dcgan, "--max-frames", "60")


def test_play_opens_a_window_and_closes(lab: Lab, display: str) -> None:
    open_window(lab, display, "play", "play", "ALE/Pong-v5", "--max-frames", "90", "--seed", "1", "--name", "tester")


def test_duel_opens_a_window_and_closes(lab: Lab, display: str) -> None:
    out = open_window(lab, display, "duel", "duel", lab.pong, "--max-frames", "90", "--seed", "1", "--name", "tester")
    assert "ended before both games did" in out  # 90 frames is no whole game of Pong: nothing is stored
