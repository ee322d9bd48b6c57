"""Statistics over seeds at every door that compares runs: `playground runs compare` (the table, the second
picture, the HTML page, `--json`), the Runs page's compare section (through AppTest), and the Learn page's card on
why a band over two seeds proves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground import runs, stats
from playground.i18n import translate
from playground.store import Run, get_store

PAGES = Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages"


def _rl(seed: int, final: float, *, lr: float = 3e-4, env: str = "CartPole-v1") -> Run:
    """A finished run with a curve and two evaluations; ``final`` is its last evaluation's mean."""
    config = {"kind": "rl", "algo": "ppo", "env": env, "steps": 3000, "seed": seed,
              "hyperparameters": {"learning_rate": lr}}
    run = runs.create(kind="rl", algo="ppo", env=env, game=env.split("-")[0], config=config, seed=seed,
                      total_steps=3000)
    store = get_store()
    store.add_metrics(run.id, [(1000 * i, 0.0, "eval/mean", final * i / 3) for i in range(1, 4)])
    store.add_evaluation(run.id, step=2000, scores=[final * 2], mean=final * 2, std=0.0, checkpoint=None, seed=0)
    store.add_evaluation(run.id, step=3000, scores=[final - 1, final + 1], mean=final, std=1.0, checkpoint=None,
                         seed=0)
    runs.end(run.id, "finished", 3000)
    return run


def _two_variants() -> tuple[list[Run], list[Run]]:
    slow = [_rl(s, final) for s, final in enumerate([100.0, 120.0, 110.0])]
    fast = [_rl(s, final, lr=1e-3) for s, final in enumerate([300.0, 280.0, 310.0])]
    return slow, fast


# -- the CLI ----------------------------------------------------------------------------------------------
def test_runs_compare_prints_the_statistics_after_the_curves_and_draws_them(cli, home: Path) -> None:
    slow, fast = _two_variants()
    out = home / "cmp.png"
    result = cli("runs", "compare", *(r.id for r in slow + fast), "--out", str(out))
    assert result.code == 0, result.err
    text = " ".join(result.out.split())  # the console wraps long lines
    second = home / "cmp-stats.png"
    assert text.startswith(f"wrote {out} wrote {second} (IQM intervals and the performance profile)")
    with Image.open(out) as curves, Image.open(second) as picture:  # both pictures load, the second is wider
        assert picture.size[0] > curves.size[0] and picture.size[1] >= 400
    assert "Statistics over seeds (rliable: 2,000 stratified bootstrap repetitions, 95% intervals)" in text
    expected = stats.compare_runs(slow + fast)
    slow_stats, fast_stats = expected["variants"]
    # three runs: a quarter of three is no whole run, so rliable's IQM (scipy's trim_mean) trims none
    assert slow_stats["iqm"] == pytest.approx(110.0) and fast_stats["iqm"] == pytest.approx(890 / 3)
    for variant in expected["variants"]:
        row = f"{variant['name']} │ 3 │ raw │ {stats.interval_text(variant['iqm'], variant['ci'], '')}"
        assert row in text
    [pair] = expected["pairs"]
    assert pair["probability"] == pytest.approx(0.0)  # no slow run beats a fast one
    assert f"{slow[0].id} │ {fast[0].id} │ {stats.interval_text(0.0, pair['ci'], '')}" in text
    assert "fewer than" not in text  # three runs each: intervals, no warning


def test_runs_compare_json_has_the_statistics_and_they_repeat(cli, home: Path) -> None:
    slow, fast = _two_variants()
    args = ("runs", "compare", *(r.id for r in slow + fast), "--out", str(home / "cmp.svg"), "--json")
    result = cli(*args)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["runs"] == [r.id for r in slow + fast]
    assert data["metric"] == "eval/mean"
    assert data["out"] == str(home / "cmp.svg") and Path(data["statistics_out"]) == home / "cmp-stats.svg"
    assert Path(data["statistics_out"]).read_text().lstrip().startswith("<?xml")
    statistics = data["statistics"]
    assert set(statistics) == {"score", "reps", "seed", "confidence", "min_runs", "variants", "pairs", "profile",
                               "left_out", "too_few", "mixed_units", "all_pairs"}
    assert [v["runs"] for v in statistics["variants"]] == [[r.id for r in slow], [r.id for r in fast]]
    slow_stats = statistics["variants"][0]
    assert set(slow_stats) == {"name", "runs", "env", "normalisation", "scores", "raw_scores", "iqm", "ci",
                               "enough_runs"}
    assert slow_stats["scores"] == [100.0, 120.0, 110.0]  # the last evaluation of each run, not the best
    low, high = slow_stats["ci"]
    assert 100.0 <= low <= slow_stats["iqm"] <= high <= 120.0
    assert [(p["x"], p["y"]) for p in statistics["pairs"]] == [(slow[0].id, fast[0].id)]
    assert len(statistics["profile"]["taus"]) == stats.TAUS
    assert [len(c["fraction"]) for c in statistics["profile"]["curves"]] == [stats.TAUS, stats.TAUS]
    assert statistics["too_few"] == [] and statistics["left_out"] == [] and result.err.strip() == ""
    assert json.loads(cli(*args).out)["statistics"] == statistics  # the same runs, the same intervals


def test_runs_compare_says_when_two_seeds_are_too_few(cli, home: Path) -> None:
    a = [_rl(s, final) for s, final in enumerate([100.0, 140.0])]
    b = [_rl(s, final, lr=1e-3) for s, final in enumerate([150.0, 160.0])]
    result = cli("runs", "compare", *(r.id for r in a + b), "--out", str(home / "cmp.png"))
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert (f"{a[0].id}, {b[0].id}: fewer than 3 runs, so no confidence interval is given, because one or two "
            "seeds cannot tell luck from a real difference") in text
    assert f"{a[0].id} │ 2 │ raw │ 120.00 (too few runs for an interval)" in text
    assert f"{a[0].id} │ {b[0].id} │ 0.00 (too few runs for an interval)" in text  # no interval for the pair
    data = json.loads(cli("runs", "compare", *(r.id for r in a + b), "--out", str(home / "c.png"), "--json").out)
    assert [v["ci"] for v in data["statistics"]["variants"]] == [None, None]
    assert data["statistics"]["pairs"][0]["ci"] is None


def test_runs_compare_html_holds_the_statistics_and_runs_without_scores_are_named(cli, home: Path) -> None:
    slow, fast = _two_variants()
    unevaluated = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole",
                              config={"kind": "rl", "algo": "ppo", "env": "CartPole-v1", "seed": 9}, seed=9)
    get_store().add_metrics(unevaluated.id, [(1000, 0.0, "eval/mean", 1.0)])
    page = home / "cmp.html"
    result = cli("runs", "compare", *(r.id for r in slow + fast), unevaluated.id, "--out", str(page))
    assert result.code == 0, result.err
    assert "cmp-stats" not in result.out and not (home / "cmp-stats.html").exists()  # in the page instead
    body = page.read_text(encoding="utf-8")
    assert body.count("<svg") == 2
    assert "Statistics over seeds" in body and "P(X &gt; Y)" in body
    assert f"Left out of the statistics, for having no evaluation of whole games: {unevaluated.id}." in body
    assert f"Left out of the statistics, for having no evaluation of whole games: {unevaluated.id}." in " ".join(
        result.out.split())


def test_runs_compare_of_gan_runs_says_there_is_nothing_to_bootstrap(cli, home: Path) -> None:
    made = []
    for _ in range(2):
        run = runs.create(kind="gan", algo="dcgan", env="digits", game="digits",
                          config={"kind": "gan", "model": "dcgan", "data": "digits", "seed": 0}, total_steps=10)
        get_store().add_metrics(run.id, [(i, 0.0, "loss/g", 1.0 / (i + 1)) for i in range(5)])
        made.append(run.id)
    result = cli("runs", "compare", *made, "--out", str(home / "gan.png"), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["statistics_out"] is None and data["statistics"]["variants"] == []
    assert data["statistics"]["left_out"] == made
    assert "None of these runs has an evaluation of whole games yet" in result.err


def test_a_wrong_picture_name_is_refused_before_any_bootstrap(cli, home: Path, monkeypatch) -> None:
    slow, fast = _two_variants()

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("statistics computed for a picture that cannot be written")

    monkeypatch.setattr(stats, "compare_runs", never)
    result = cli("runs", "compare", slow[0].id, fast[0].id, "--out", str(home / "cmp.gif"))
    assert result.code == 2 and "cmp.gif" in result.err


def test_the_statistics_load_no_engine() -> None:
    """The Runs page computes them in the Streamlit process, which never imports torch, SB3 or ale-py."""
    script = ("import json, sys\nfrom playground import stats\n"
              "v = stats.Variant('a', ['a1', 'a2', 'a3'], 'CartPole-v1', 'raw', [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])\n"
              "result = stats.analyse([v], reps=50)\n"
              "print(json.dumps([result['variants'][0]['iqm'], 'rliable' in sys.modules,\n"
              "                  [m for m in ('torch', 'stable_baselines3', 'ale_py') if m in sys.modules]]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == [2.0, True, []]


# -- the Runs page -----------------------------------------------------------------------------------------
def _runs_page(lang: str = "en") -> AppTest:
    app = AppTest.from_file(str(PAGES / "runs.py"), default_timeout=120)
    app.session_state["ui_lang"] = lang
    return app.run()


def _charts(app: AppTest) -> list[list[dict[str, Any]]]:
    """Each chart on the page as the rows of all its datasets."""
    import pyarrow as pa

    return [[row for d in c.proto.datasets for row in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]
            for c in app.get("arrow_vega_lite_chart") + app.get("vega_lite_chart")]


def test_the_compare_section_shows_the_statistics_when_asked(home: Path) -> None:
    slow, fast = _two_variants()
    few = [_rl(s, 200.0 + s, lr=3e-3) for s in range(2)]
    app = _runs_page()
    app.multiselect(key="compare_runs").set_value([r.id for r in slow + fast + few]).run()
    assert not app.exception
    link = next(c for c in app.caption.values if "learn?card=seeds" in c)
    assert link.startswith("A min–max band over two seeds proves nothing")
    assert "Statistics over seeds" not in [s.value for s in app.subheader]  # not until asked: rliable is slow
    assert len(_charts(app)) == 1

    app.toggle(key="compare_stats").set_value(True).run()
    assert not app.exception
    assert [s.value for s in app.subheader][0] == "Statistics over seeds"
    expected = stats.compare_runs(slow + fast + few)
    iqm_table = next(d.value for d in app.dataframe if "IQM [95% CI]" in d.value.columns)
    assert list(iqm_table["variant"]) == [slow[0].id, fast[0].id, few[0].id]
    assert list(iqm_table["runs"]) == [3, 3, 2]
    assert list(iqm_table["IQM [95% CI]"]) == [
        stats.interval_text(v["iqm"], v["ci"], "too few runs for an interval") for v in expected["variants"]]
    assert iqm_table["IQM [95% CI]"].iloc[2] == "200.50 (too few runs for an interval)"
    pairs = next(d.value for d in app.dataframe if "P(X > Y) [95% CI]" in d.value.columns)
    assert [(x, y) for x, y in zip(pairs["X"], pairs["Y"])] == [(slow[0].id, fast[0].id), (slow[0].id, few[0].id),
                                                               (fast[0].id, few[0].id)]
    assert pairs["P(X > Y) [95% CI]"].iloc[0] == stats.interval_text(0.0, expected["pairs"][0]["ci"], "")
    assert [w.value for w in app.warning] == [str(w) for w in stats.notes(expected)]
    assert "fewer than 3 runs" in app.warning[0].value
    curves, intervals, profile = _charts(app)  # the curves, then the IQM intervals and the performance profile
    assert {r["series"] for r in curves} == {f"{slow[0].id} +2 (3 seeds)", f"{fast[0].id} +2 (3 seeds)",
                                             f"{few[0].id} +1 (2 seeds)"}
    dots = {r["label"]: (r["iqm"], r["low"], r["high"]) for r in intervals if "label" in r}
    assert dots[f"{slow[0].id} (n=3)"] == (expected["variants"][0]["iqm"], *expected["variants"][0]["ci"])
    assert dots[f"{few[0].id} (n=2)"][1:] == (None, None)  # a hollow dot, no bar
    fast_profile = [r["fraction"] for r in profile if r["variant"] == fast[0].id and "fraction" in r]
    assert fast_profile[:len(expected["profile"]["taus"])] == expected["profile"]["curves"][1]["fraction"]
    assert any(c.startswith("IQM is the mean of the middle half") for c in app.caption.values)


def test_the_interval_and_profile_charts_keep_the_variants_order_and_colours() -> None:
    from playground.ui import charts

    found = [stats.Variant("a", ["a1", "a2", "a3"], "CartPole-v1", "raw", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
             stats.Variant("b", ["b1"], "CartPole-v1", "raw", [5.0], [5.0]),  # no interval: no bar in one layer
             stats.Variant("c", ["c1", "c2", "c3"], "CartPole-v1", "raw", [4.0, 6.0, 8.0], [4.0, 6.0, 8.0])]
    result = stats.analyse(found, reps=50)
    intervals = charts.iqm_chart(charts.iqm_rows(result), "score").to_dict()
    profile = charts.profile_chart(charts.profile_rows(result), "score", "share").to_dict()
    bars, dots = intervals["layer"]
    for layer in (bars, dots):
        assert layer["encoding"]["y"]["scale"]["domain"] == ["a (n=3)", "b (n=1)", "c (n=3)"]
        assert layer["encoding"]["color"]["scale"]["domain"] == ["a", "b", "c"]
    assert all(layer["encoding"]["color"]["scale"]["domain"] == ["a", "b", "c"] for layer in profile["layer"])


def test_the_statistics_speak_chinese(home: Path) -> None:
    slow, fast = _two_variants()
    app = AppTest.from_file(str(PAGES / "runs.py"), default_timeout=120)
    app.session_state["ui_lang"] = "zh"
    app.session_state["compare_stats"] = True  # turned on before the runs are picked: AppTest reads the band
    app.run()  # radio's labels outside the page's session, in English, and could not set the toggle after it
    app.multiselect(key="compare_runs").set_value([r.id for r in slow + fast]).run()
    assert not app.exception
    assert "跨种子的统计" in [s.value for s in app.subheader]
    assert any(c.startswith("IQM 是各次运行最终分数中间一半的平均值") for c in app.caption.values)
    assert any("IQM [95% 置信区间]" in d.value.columns for d in app.dataframe)


# -- the Learn page -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_learn_page_says_why_two_seeds_prove_nothing(home: Path, lang: str) -> None:
    app = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=120)
    app.session_state["ui_lang"] = lang
    app.query_params["card"] = "seeds"  # the Runs page's link
    app.run()
    assert not app.exception and not app.warning
    assert app.subheader[0].value == translate("learn.seeds.title", lang)
    shown = [m.value for m in app.markdown]
    assert translate("learn.seeds.what", lang) in shown
    opening = "只有两个种子时，最小–最大范围带" if lang == "zh" else "With two seeds, a min–max band"
    assert translate("learn.seeds.what", lang).startswith(opening)
