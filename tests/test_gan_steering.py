"""Steering a generator by hand (playground/gan_steering.py), the warm sampler the web app talks to, and the
Watch page's Steer tab: pictures that must change when a control moves and stay put when it does not,
interpolation ends that are the tiles themselves, and every wrong request one sentence.

The runs are tiny (8-channel networks, one or two iterations on digits) from one module-scoped home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from gans import grid, latent
from playground import gan_training
from playground.config import build_gan_config
from playground.errors import PlaygroundError
from playground.gan_steering import PAD, Steerer
from playground.jobs import ChildFailed
from playground.ui.sampler import WarmSampler

PAGE = str(Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages" / "watch.py")
TINY = ["ngf=8", "ndf=8"]
SIZE = 32


@dataclass
class Lab:
    home: Path
    dcgan: str
    cdcgan: str
    infogan: str  # the paper's MNIST networks (one 10-way categorical code, two continuous), 2 iterations
    wgan: str


def _train(model: str, iters: int) -> str:
    sets = TINY if model != "infogan" else []  # InfoGAN keeps the paper's fixed widths
    cfg = build_gan_config(model, "digits", iters=iters, batch_size=4, sets=sets, device="cpu")
    run = gan_training.create_run(cfg)
    assert gan_training.execute(run.id).status == "finished"
    return run.id


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("steering") / "home"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        mp.delenv("PLAYGROUND_DB", raising=False)
        yield Lab(home, dcgan=_train("dcgan", 2), cdcgan=_train("cdcgan", 2), infogan=_train("infogan", 2),
                  wgan=_train("wgan", 2))
    torch.set_num_threads(previous)


@pytest.fixture
def in_lab(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    return lab


def _tile(picture: np.ndarray, index: int, columns: int, size: int = SIZE) -> np.ndarray:
    row, column = divmod(index, columns)
    y, x = PAD + row * (size + PAD), PAD + column * (size + PAD)
    return picture[y:y + size, x:x + size]


# -- the math --------------------------------------------------------------------------------------------
def test_a_path_starts_and_ends_on_its_tiles_and_keeps_to_the_sphere() -> None:
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, generator=generator), torch.randn(100, generator=generator)
    points = latent.path(a, b, 9)
    assert points.shape == (9, 100)
    torch.testing.assert_close(points[0], a)
    torch.testing.assert_close(points[-1], b)
    # Between two vectors of about the same length, the arc keeps that length; the straight line's middle is shorter.
    norms = points.norm(dim=1)
    assert norms.min() > 0.9 * min(a.norm(), b.norm())
    assert ((a + b) / 2).norm() < 0.8 * norms[4]
    with pytest.raises(ValueError):
        latent.path(a, b, 1)


def test_arithmetic_is_a_minus_b_plus_c() -> None:
    a, b, c = torch.tensor([3.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([0.0, 2.0])
    torch.testing.assert_close(latent.arithmetic(a, b, c), torch.tensor([2.0, 2.0]))


# -- the steerer -----------------------------------------------------------------------------------------
def test_what_each_run_offers(in_lab: Lab) -> None:
    dcgan = Steerer.open(in_lab.dcgan).controls()
    assert dcgan.ops == ("grid", "interpolate", "arithmetic") and dcgan.tiles == 64 and dcgan.columns == 8
    cdcgan = Steerer.open(in_lab.cdcgan).controls()
    assert cdcgan.ops == ("grid", "class", "interpolate", "arithmetic")
    assert cdcgan.classes == tuple(str(d) for d in range(10)) and cdcgan.columns == 10


def test_an_infogan_offers_its_codes_and_a_wgan_the_moves_of_any_generator(in_lab: Lab) -> None:
    infogan = Steerer.open(in_lab.infogan).controls()
    assert infogan.ops == ("grid", "codes", "interpolate", "arithmetic")
    assert infogan.categorical == (10,) and infogan.continuous == 2 and infogan.columns == 10
    wgan = Steerer.open(in_lab.wgan).controls()
    assert wgan.ops == ("grid", "interpolate", "arithmetic") and wgan.classes == () and wgan.continuous == 0


def test_infogan_sliders_redraw_the_grid_and_the_same_codes_give_the_same_grid(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.infogan)
    three = steerer.with_codes([3], [0.0, 0.0])
    assert three.shape == steerer.grid(numbered=False).shape
    assert np.array_equal(steerer.with_codes([3], [0.0, 0.0]), three)
    assert np.array_equal(Steerer.open(in_lab.infogan).with_codes([3], [0.0, 0.0]), three)  # a new process alike
    slid = steerer.with_codes([3], [1.5, 0.0])
    other = steerer.with_codes([7], [0.0, 0.0])
    assert not np.array_equal(slid, three) and not np.array_equal(other, three)
    # Every tile has a noise of its own (the grid shares one per row): no two tiles of a row are the same picture.
    size = steerer.loaded.config.image_size  # the paper's 28 pixels
    assert not np.array_equal(_tile(three, 0, 10, size), _tile(three, 1, 10, size))
    # The second continuous code moves the picture on its own too.
    assert not np.array_equal(steerer.with_codes([3], [0.0, -1.5]), three)


@pytest.mark.parametrize(("values", "words"), [
    ({"categorical": [10], "continuous": [0.0, 0.0]}, "from 0 to 9, not 10"),
    ({"categorical": [3], "continuous": [0.0, 5.0]}, "between -3.0 and 3.0, not 5.0"),
    ({"categorical": [3], "continuous": [float("nan"), 0.0]}, "not nan"),
    ({"categorical": [3], "continuous": [0.0]}, "1 categorical and 2 continuous codes, but 1 and 1"),
    ({"categorical": [], "continuous": [0.0, 0.0]}, "but 0 and 2"),
])
def test_a_slider_request_the_run_cannot_take_is_one_sentence(in_lab: Lab, values: dict[str, Any], words: str) -> None:
    with pytest.raises(PlaygroundError, match=words):
        Steerer.open(in_lab.infogan).draw("codes", **values)


def test_an_infogan_walk_needs_tiles_of_two_rows(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.infogan)
    with pytest.raises(PlaygroundError, match="share their noise"):
        steerer.interpolate(1, 2)  # one row: the same noise, codes 0 and 1
    path = steerer.interpolate(1, 11, steps=4)  # tile 1 of rows 1 and 2: the noise moves, tile 1's codes stay
    plain, size = steerer.grid(numbered=False), steerer.loaded.config.image_size
    assert np.array_equal(_tile(path, 0, 4, size), _tile(plain, 0, 10, size))
    codes = steerer.fixed["codes"][[0]]
    last = grid.grid(steerer.model.generate(steerer.z[10:11], codes), 1, pad=PAD)  # type: ignore[attr-defined]
    assert np.array_equal(_tile(path, 3, 4, size), _tile(last, 0, 1, size))


def test_an_interpolation_begins_and_ends_on_the_picked_tiles(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.dcgan)
    plain = steerer.grid(numbered=False)
    path = steerer.interpolate(3, 10, steps=5)
    assert path.shape == (SIZE + 2 * PAD, 5 * (SIZE + PAD) + PAD, 3)
    assert np.array_equal(_tile(path, 0, 5), _tile(plain, 2, 8))
    assert np.array_equal(_tile(path, 4, 5), _tile(plain, 9, 8))
    assert not np.array_equal(_tile(path, 2, 5), _tile(path, 0, 5))  # the middle is somewhere else
    assert np.array_equal(steerer.interpolate(3, 10, steps=5), path)  # the same request, the same picture


def test_arithmetic_shows_its_three_tiles_then_their_sum(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.dcgan)
    plain = steerer.grid(numbered=False)
    picture = steerer.arithmetic(1, 2, 3)
    for i in range(3):
        assert np.array_equal(_tile(picture, i, 4), _tile(plain, i, 8))
    z = steerer.z
    expected = grid.grid(steerer.model.generate((z[0] - z[1] + z[2]).unsqueeze(0)), 1, pad=PAD)  # type: ignore[attr-defined]
    assert np.array_equal(_tile(picture, 3, 4), _tile(expected, 0, 1))


def test_a_conditional_grid_follows_the_picked_class(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.cdcgan)
    threes, sevens = steerer.with_class("3"), steerer.with_class("7")
    assert threes.shape == sevens.shape and not np.array_equal(threes, sevens)
    labels = torch.full((64,), 3, dtype=torch.long)
    expected = grid.grid(steerer.model.generate(steerer.z, labels), 10, pad=PAD)  # the grid's own columns  # type: ignore[attr-defined]
    assert np.array_equal(threes, expected)
    # An interpolation keeps the first tile's class all the way: only the noise moves.
    path = steerer.interpolate(1, 2, steps=2)
    first = grid.grid(steerer.model.generate(steerer.z[:1], torch.tensor([0])), 1, pad=PAD)  # type: ignore[attr-defined]
    assert np.array_equal(_tile(path, 0, 2), _tile(first, 0, 1))


def test_the_numbered_grid_is_the_grid_scaled_up(in_lab: Lab) -> None:
    steerer = Steerer.open(in_lab.dcgan)
    plain, numbered = steerer.grid(numbered=False), steerer.grid()
    assert numbered.shape[0] == plain.shape[0] * 3 and numbered.shape[1] == plain.shape[1] * 3
    # Away from the corner numbers, a tile's pixels are the plain tile's, each three times over.
    scaled = np.repeat(np.repeat(plain, 3, axis=0), 3, axis=1)
    assert np.array_equal(numbered[-40:, -40:], scaled[-40:, -40:])
    assert not np.array_equal(numbered, scaled)  # the numbers are drawn


@pytest.mark.parametrize(("op", "values", "words"), [
    ("interpolate", {"first": 4, "last": 4}, "two different tiles"),
    ("interpolate", {"first": 0, "last": 4}, "no tile 0"),
    ("interpolate", {"first": 1, "last": 65}, "tiles 1 to 64"),
    ("interpolate", {"first": 1, "last": 2, "steps": 40}, "2 to 16"),
    ("arithmetic", {"a": 1, "b": 2, "c": 99}, "no tile 99"),
    ("class", {"label": "3"}, "only a conditional DCGAN"),
    ("codes", {"categorical": [1], "continuous": [0.5]}, "only an InfoGAN"),
    ("paint", {}, "grid, interpolate, arithmetic"),
])
def test_a_wrong_request_is_one_sentence(in_lab: Lab, op: str, values: dict[str, Any], words: str) -> None:
    with pytest.raises(PlaygroundError, match=words) as caught:
        Steerer.open(in_lab.dcgan).draw(op, **values)
    assert "\n" not in str(caught.value)


# -- the warm sampler and the page -----------------------------------------------------------------------
def test_the_warm_sampler_answers_draws_refuses_in_the_pages_language_and_stops(in_lab: Lab, tmp_path: Path) -> None:
    sampler = WarmSampler()
    try:
        controls = sampler.controls(in_lab.cdcgan, "latest", "en")
        assert controls["classes"][3] == "3" and "class" in controls["ops"]
        pid = sampler.pid
        out = sampler.draw(in_lab.cdcgan, "latest", "class", tmp_path / "threes.png", "en", label="3")
        assert out.is_file() and sampler.pid == pid  # the same warm child answered
        from PIL import Image

        expected = Steerer.open(in_lab.cdcgan).with_class("3")
        assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), expected)
        with pytest.raises(ChildFailed, match="没有第 0 格"):
            sampler.draw(in_lab.cdcgan, "latest", "interpolate", tmp_path / "x.png", "zh", first=0, last=2)
        assert sampler.pid == pid  # a refusal does not end it
    finally:
        sampler.close()
    assert sampler.pid is None and not Path(f"/proc/{pid}").exists()


def _captions(app: AppTest) -> list[str]:
    return [image.proto.imgs[0].caption for image in app.get("image")]


def test_the_steer_tab_draws_what_its_controls_say(in_lab: Lab) -> None:
    from playground.ui import sampler as sampler_module

    app = AppTest.from_file(PAGE, default_timeout=180)
    app.query_params["run"] = in_lab.cdcgan
    try:
        app.run()
        assert not app.exception, app.exception
        toggle = next(w for w in app.toggle if w.key == f"steer.on.{in_lab.cdcgan}")
        assert len(_captions(app)) == 2  # the training grid and its time-lapse: steering waits for the toggle
        toggle.set_value(True).run()
        assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
        radio = next(w for w in app.radio if w.key == f"steer.op.{in_lab.cdcgan}")
        assert list(radio.options) == ["Class", "Walk between two tiles", "a − b + c"]
        key = f"steer.{in_lab.cdcgan}.class.label"
        next(w for w in app.selectbox if w.key == key).set_value("7").run()
        assert any("class 7" in c for c in _captions(app)), _captions(app)
        radio = next(w for w in app.radio if w.key == f"steer.op.{in_lab.cdcgan}")
        radio.set_value("interpolate").run()
        first = next(w for w in app.number_input if w.key == f"steer.{in_lab.cdcgan}.interpolate.first")
        assert any("from tile 1 to tile 11 in 8 pictures" in c for c in _captions(app)), _captions(app)  # two rows
        first.set_value(5).run()
        assert not app.error, [e.value for e in app.error]
        assert any("from tile 5 to tile 11 in 8 pictures" in c for c in _captions(app)), _captions(app)
        last = next(w for w in app.number_input if w.key == f"steer.{in_lab.cdcgan}.interpolate.last")
        last.set_value(5).run()  # the same tile twice: one sentence in the page
        assert any("two different tiles" in e.value for e in app.error)
    finally:
        sampler_module.sampler().close()


# -- the viewer's keys and clicks ------------------------------------------------------------------------
def test_window_keys_and_clicks_steer_a_conditional_grid(in_lab: Lab) -> None:
    import pygame

    from playground.viewer.gan_watch import HEADER
    from tests.test_gan_viewer import _app, _session, _shown

    session = _session(in_lab.cdcgan)
    app = _app(session, window=True)  # a window, on SDL's dummy driver
    steerer = Steerer.open(in_lab.cdcgan)

    def press(*keys: int) -> bool:
        for key in keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=""))
        return app.tick()

    def click(tile: int) -> bool:
        row, column = divmod(tile - 1, 10)
        x = (PAD + column * (SIZE + PAD) + SIZE / 2) * app.scale
        y = HEADER + (PAD + row * (SIZE + PAD) + SIZE / 2) * app.scale
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(int(x), int(y))))
        return app.tick()

    try:
        assert press()
        grid_shown = _shown(app).copy()
        assert np.array_equal(grid_shown, steerer.grid(numbered=False))
        assert press(pygame.K_7) and np.array_equal(_shown(app), steerer.with_class("7"))
        assert "class 7" in session.hud.showing and app.drawn["captions"] == []
        assert press(pygame.K_a) and np.array_equal(_shown(app), grid_shown)  # each column its own class again
        assert click(3) and click(12) and session.steering is not None and session.steering.picks == [3, 12]
        outlined = _shown(app)
        assert not np.array_equal(outlined, grid_shown)
        assert np.array_equal(_tile(outlined, 4, 10), _tile(grid_shown, 4, 10))  # only the picks are framed
        assert press(pygame.K_m) and "click 3 tiles" in session.hud.message
        assert press(pygame.K_i) and np.array_equal(_shown(app), steerer.interpolate(3, 12, 8))
        assert press(pygame.K_g) and session.steering.picks == [] and np.array_equal(_shown(app), grid_shown)
        assert click(1) and click(2) and click(3) and click(4) and session.steering.picks == [2, 3, 4]
        assert press(pygame.K_m), session.hud.message
        assert session.steering.mode == "arithmetic", (session.steering.mode, session.hud.message)
        assert np.array_equal(_shown(app), steerer.arithmetic(2, 3, 4))
        assert press(pygame.K_UP) and "no continuous code" in session.hud.message
        assert press(pygame.K_g)
    finally:
        app.screen.close()


def test_the_steer_tab_gives_an_infogan_a_picker_and_sliders(in_lab: Lab) -> None:
    from playground.ui import sampler as sampler_module

    app = AppTest.from_file(PAGE, default_timeout=180)
    app.query_params["run"] = in_lab.infogan
    try:
        app.run()
        next(w for w in app.toggle if w.key == f"steer.on.{in_lab.infogan}").set_value(True).run()
        assert not app.exception and not app.error, (app.exception, [e.value for e in app.error])
        key = f"steer.{in_lab.infogan}.codes"
        picker = next(w for w in app.select_slider if w.key == f"{key}.cat0")
        assert list(picker.options) == [str(v) for v in range(10)]
        sliders = [w for w in app.slider if w.key.startswith(f"{key}.cont")]
        assert len(sliders) == 2 and sliders[0].label == "Continuous code 1"
        before = [c for c in _captions(app) if "categorical [0]" in c]
        assert before, _captions(app)
        picker.set_value(4).run()
        next(w for w in app.slider if w.key == f"{key}.cont1").set_value(1.5).run()
        assert not app.error, [e.value for e in app.error]
        assert any("categorical [4] and continuous [0.0, 1.5]" in c for c in _captions(app)), _captions(app)
        drawn = Path(app.session_state["steer.session"])  # the picture this session drew for the codes
        shown = in_lab.home / "steering" / str(drawn) / f"{in_lab.infogan}-codes.png"
        from PIL import Image

        expected = Steerer.open(in_lab.infogan).with_codes([4], [0.0, 1.5])
        scaled = np.repeat(np.repeat(expected, 3, axis=0), 3, axis=1)  # the page shows it 3 times larger
        assert np.array_equal(np.asarray(Image.open(shown).convert("RGB")), scaled)
    finally:
        sampler_module.sampler().close()
