"""`playground bench`: every suite runs in its tiny level, for real, ours beside the peer; the
figures have the right shape and the peers are what they claim to be (published parameter counts,
the RL Zoo's hyperparameters). Speed itself is never asserted here: that is the benchmark's job."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from playground import bench
from playground.bench import Figure, alternate, arithmetic, onednn


def _check_shape(figure: Figure, suite: str, rounds: int = 1) -> None:
    assert figure.suite == suite
    assert len(figure.ours) == len(figure.peer) == rounds
    assert all(v > 0 and math.isfinite(v) for v in figure.ours + figure.peer), figure
    assert figure.ratio == pytest.approx(figure.ours_median / figure.peer_median)
    data = figure.as_dict()
    assert data["ratio"] == figure.ratio and data["peer_name"] == figure.peer_name


def _count(*nets: nn.Module) -> int:
    return sum(p.numel() for net in nets for p in net.parameters())


# -- the framework ---------------------------------------------------------------------------------
def test_alternate_warms_up_then_alternates_and_the_ratio_is_ours_over_peer() -> None:
    calls: list[str] = []

    def side(name: str, value: float):  # type: ignore[no-untyped-def]
        def measure() -> float:
            calls.append(name)
            return value

        return measure

    figure = alternate(Figure("x", "f", "steps/s", "peer"), side("ours", 30.0), side("peer", 20.0), rounds=2)
    assert calls == ["ours", "peer"] * 3  # one warm-up pair, then two rounds
    assert figure.ours == [30.0, 30.0] and figure.peer == [20.0, 20.0]
    assert figure.ratio == pytest.approx(1.5)
    text = bench.markdown([figure], "playground bench x")
    assert "| x | f | 30.0 steps/s | 20.0 steps/s | peer | 1.50x |" in text
    slow = Figure("x", "t", "s", "peer", ours=[1.0], peer=[4.0], higher_is_better=False)
    assert slow.ratio == pytest.approx(0.25) and "(lower is better)" in bench.markdown([slow], "c")


def test_a_figure_whose_rounds_disagree_is_void_and_says_why() -> None:
    steady = Figure("rl", "PPO Pong", "steps/s", "SB3", ours=[100.0, 104.0, 98.0], peer=[50.0, 51.0, 49.0])
    assert steady.void is None and steady.as_dict()["void"] is None
    assert "| 2.00x |" in bench.markdown([steady], "c")
    # a second run started beside the benchmark in its second round: the peer's rounds range over 83%
    swung = Figure("rl", "PPO Pong", "steps/s", "SB3", ours=[100.0, 98.0, 101.0], peer=[50.0, 10.0, 48.0])
    assert swung.void is not None and "SB3's rounds range over 83%" in swung.void and "quiet machine" in swung.void
    text = bench.markdown([steady, swung], "c")
    assert "| void (1) |" in text and "(1) rl: PPO Pong: SB3's rounds range over 83%" in text
    assert swung.as_dict()["void"] == swung.void
    assert bench.spread_of([5.0]) is None  # one round cannot disagree with itself
    shaky = Figure("rl", "A2C Pong", "steps/s", "SB3", ours=[100.0, 60.0, 101.0], peer=[50.0, 51.0, 49.0])
    assert shaky.void is not None and shaky.void.startswith("our rounds range over 41%")


def test_a_ceiling_says_how_close_each_side_came_in_the_precision_it_was_measured_in() -> None:
    def learner(**notes: object) -> Figure:
        return Figure("rl", "PPO learner alone", "steps/s", "SB3", ours=[200.0], peer=[160.0],
                      notes={"ceiling": {"ours": 0.75, "peer": 0.6}, **notes})

    text = bench.markdown([learner(precision="bfloat16", float32=[100.0, 110.0])], "c")
    assert ("PPO learner alone: 200.0 steps/s in bfloat16 (105.0 steps/s in float32) is the most training reaches when "
            "the games cost nothing; ours trains at 75% of it, the peer at 60%.") in text
    text = bench.markdown([learner(precision="float32")], "c")  # a CPU without bfloat16: measured once
    assert ("PPO learner alone: 200.0 steps/s in float32 is the most training reaches when the games cost nothing; "
            "ours trains at 75% of it, the peer at 60%.") in text
    # with the games measured too: the learner's time and the games' added up, on each side
    with_games = {"ours": 150.0, "peer": 120.0, "over_peer": 1.5, "over_bound": 1.25,
                  "trained": {"ours": 0.9, "peer": 0.95}}
    text = bench.markdown([learner(precision="float32", with_games=with_games)], "c")
    assert ("PPO learner alone, then its games alone, in turn (acting needs what the games return, the games what "
            "acting chose, and each uses every core): 150.0 steps/s is the most ours can reach with the games, 1.50x "
            "the peer's training and 1.25x the most the peer can reach with its own (120.0 steps/s); ours trains at "
            "90% of its bound, the peer at 95% of its own.") in text


def test_arithmetic_counts_a_known_layers_flops_forward_and_backward() -> None:
    layer = nn.Linear(10, 20, bias=False)
    forward = 2 * 3 * 10 * 20  # a batch of 3

    def work(x: torch.Tensor) -> int:  # one forward and its backward, as 3 units
        layer(x).sum().backward()
        return 3

    # the backward computes the weight's gradient (as much again as the forward), and the input's when it needs one
    assert arithmetic.flops_per_unit(lambda: work(torch.randn(3, 10))) == 2 * forward / 3
    assert arithmetic.flops_per_unit(lambda: work(torch.randn(3, 10, requires_grad=True))) == 3 * forward / 3
    assert arithmetic.matmul_peak(torch.float32, "cpu") > 1e8  # any CPU multiplies faster than 0.1 GFLOP/s
    assert arithmetic.dtype_named("bfloat16") is torch.bfloat16
    with pytest.raises(ValueError):
        arithmetic.dtype_named("ones")


def test_arithmetic_says_what_share_of_the_machine_each_side_uses_and_how_far_ours_could_go() -> None:
    # 100 steps/s at 600 MFLOP a step is 60 GFLOP/s of a 75 GFLOP/s machine: 80%; at 75, ours would make
    # 125 steps/s, 2.5x the peer's 50
    counted = {"ours": 600e6, "peer": 600e6, "precision": "float32", "peak": {"ours": 75e9, "peer": 75e9}}
    figure = Figure("rl", "DQN learner alone", "steps/s", "SB3", ours=[100.0], peer=[50.0],
                    notes={"arithmetic": counted})
    assert ("DQN learner alone: a step costs 600 MFLOP of matrix products and convolutions on our side and 600 on "
            "the peer's; ours computes them at 80% of this machine's matrix-product speed in float32 (75 GFLOP/s), "
            "the peer at 40% of it in float32 (75 GFLOP/s). At that speed ours would reach at most 2.50x the peer's "
            "figure.") in bench.markdown([figure], "c")
    figure.ours = [100.0, 40.0, 101.0]  # void: nothing to say of it
    assert "MFLOP" not in bench.markdown([figure], "c")


# Lines as oneDNN 3's verbose log writes them (a PPO update on a Zen 4 EPYC), one in the older format, and lines
# the summary skips: a reorder, a primitive's creation, and a CPU-less one.
V3, OLD = "onednn_verbose,v1,primitive,exec,cpu", "onednn_verbose,exec,cpu"
CONV1 = "mb256_ic64oc32_ih21oh20kh2sh1dh0ph0_iw21ow20kw2sw1dw0pw0"
CONV2 = "mb256_ic32oc64_ih20oh9kh4sh2dh0ph0_iw20ow9kw4sw2dw0pw0"
GROUPED = "g2mb8_ic4oc4_ih10oh8kh3sh1dh0ph0_iw10ow8kw3sw1dw0pw0"
ONEDNN_LOG = "\n".join([
    "onednn_verbose,v1,info,oneDNN v3.7.1 (commit 8d263e6)",
    "onednn_verbose,v1,primitive,create:cache_miss,cpu,convolution,jit_bf16:avx512_core_bf16,backward_weights,x,,,"
    f"{CONV2},0.1",
    f"{V3},reorder,jit:uni,undef,src:bf16::blocked:acdb::f0 dst:bf16::blocked:AcdB32a2b::f0,attr-scratchpad:user,,"
    "32x64x2x2,0.017",
    f"{V3},convolution,brg_conv_fwd:avx512_core_bf16,forward_training,src:bf16 wei:bf16,attr-scratchpad:user,"
    f"alg:convolution_direct,{CONV1},4.0",
    f"{V3},convolution,jit_bf16:avx512_core_bf16,backward_weights,src:bf16 wei:bf16,attr-scratchpad:user,"
    f"alg:convolution_direct,{CONV2},10.0",
    f"{OLD},convolution,jit:avx2,backward_weights,src:f32 wei:f32,,alg:convolution_direct,{GROUPED},1.0",
    f"{V3},matmul,brg_matmul:avx512_core_bf16,undef,src:bf16 wei:bf16,,,256x3136:3136x512,2.0",
    f"{V3},matmul,brg_matmul:avx512_core_bf16,undef,src:bf16 wei:bf16,,,4x256x64:4x64x32,1.0",
    "onednn_verbose,v1,primitive,exec,gpu,convolution,ocl:gen9,forward_training,x,,,"
    "mb1_ic1oc1_ih1oh1kh1sh1dh0ph0_iw1ow1kw1sw1dw0pw0,9.0",
]) + "\n"


def test_the_onednn_summary_sums_each_pass_from_its_problem_sizes() -> None:
    passes = onednn.parse(ONEDNN_LOG)
    assert list(passes) == ["forward", "backward_weights", "matmul"]
    forward = 2 * 256 * 32 * 64 * (20 * 2) * (20 * 2)  # mb x oc x ic x (oh kh) x (ow kw), multiply and add
    assert passes["forward"].flops == forward and passes["forward"].ms == 4.0
    assert passes["forward"].gflops == pytest.approx(forward / 4.0e-3 / 1e9)
    # two implementations in one pass, the older log's grouped convolution counting its channels per group
    weights = passes["backward_weights"]
    assert weights.implementations == ["jit_bf16:avx512_core_bf16", "jit:avx2"]
    assert weights.flops == 2 * 256 * 64 * 32 * 9 * 4 * 9 * 4 + 2 * 8 * 4 * 2 * 8 * 3 * 8 * 3 and weights.ms == 11.0
    # a matrix product M x K : K x N, batched ones counting every batch
    assert passes["matmul"].flops == 2 * 256 * 3136 * 512 + 2 * 4 * 256 * 64 * 32
    assert onednn.flops_of("inner_product", "mb32ic64ih7iw7oc512") == 2 * 32 * 512 * 64 * 49
    assert onednn.flops_of("convolution", "what") is None and onednn.flops_of("softmax", "mb8") is None
    assert onednn.parse("nothing of oneDNN here\n") == {}


def test_onednn_kernels_of_real_work_are_caught_and_never_reach_the_output(capfd: pytest.CaptureFixture[str]) -> None:
    conv = nn.Conv2d(4, 8, 3).to(memory_format=torch.channels_last)
    x = torch.randn(16, 4, 12, 12).contiguous(memory_format=torch.channels_last)
    print("before", flush=True)
    passes = onednn.kernels_of(lambda: conv(x).sum().backward())
    print("after", flush=True)
    assert capfd.readouterr().out == "before\nafter\n"  # oneDNN's log went to the summary, not to the terminal

    def failing() -> None:
        conv(x).sum().backward()
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):  # its error comes through, its log still caught
        onednn.kernels_of(failing)
    print("later", flush=True)
    assert capfd.readouterr().out == "later\n"
    if not torch.backends.mkldnn.is_available():
        assert passes == {}
        return
    assert {"forward", "backward_weights"} <= passes.keys()  # channels-last convolutions are oneDNN's on any CPU
    assert list(passes) == [name for name in onednn.ORDER if name in passes]
    assert all(p["gflops"] > 0 and p["ms"] > 0 and p["implementations"] for p in passes.values())


def test_the_report_names_each_passs_kernels_and_their_share_of_the_time() -> None:
    kernels = {"forward": {"implementations": ["brg_conv_fwd:avx512_core_bf16"], "gflops": 386.3, "ms": 30.0},
               "backward_weights": {"implementations": ["jit_bf16:avx512_core_bf16"], "gflops": 253.0, "ms": 70.0}}
    figure = Figure("rl", "PPO learner alone", "steps/s", "SB3", ours=[100.0], peer=[50.0], notes={"kernels": kernels})
    assert ("PPO learner alone: oneDNN ran the forward convolutions on brg_conv_fwd:avx512_core_bf16 at 386 GFLOP/s "
            "(30% of its kernels' time); the convolutions' weight gradients on jit_bf16:avx512_core_bf16 at 253 GFLOP/s "
            "(70% of its kernels' time).") in bench.markdown([figure], "c")
    figure.notes["kernels"] = {}  # nothing caught (a GPU): nothing said
    assert "oneDNN ran" not in bench.markdown([figure], "c")


def test_replayed_games_hand_back_what_was_recorded_to_sb3s_own_rollouts() -> None:
    """The actor-critics' learner figures collect rollouts on recorded games: what the buffer holds is what the games
    gave, in a loop, and the model gets its own observations back afterwards."""
    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from playground.bench import replayed

    env = DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2)
    model = PPO("MlpPolicy", env, n_steps=4, batch_size=8, n_epochs=1, seed=0, device="cpu")
    model._setup_learn(8, None)
    games = replayed.record(env, 3)
    assert len(games.steps) == 3 and games.num_envs == 2 and games.get_attr("render_mode") == [None, None]
    before = model._last_obs.copy()
    with replayed.playing(model, games) as callback:
        assert model.collect_rollouts(games, callback, model.rollout_buffer, model.n_steps)
        # the rollout: the first observations, then each recorded step's; the fourth step's reward is the first's
        # again (the games loop)
        expected = [games.first, games.steps[0][0], games.steps[1][0], games.steps[2][0]]
        np.testing.assert_array_equal(model.rollout_buffer.observations, np.stack(expected))
        rewards = [games.steps[i][1] for i in (0, 1, 2, 0)]
        np.testing.assert_array_equal(model.rollout_buffer.rewards, np.stack(rewards))
        model.train()
    np.testing.assert_array_equal(model._last_obs, before)
    with pytest.raises(AttributeError):
        games.get_attr("spec")
    with pytest.raises(ValueError):
        replayed.ReplayedGames(env, games.first, [])
    env.close()


def test_all_names_every_suite_and_an_unknown_one_is_one_sentence(cli) -> None:  # type: ignore[no-untyped-def]
    assert bench.suite_names("all") == ["rl", "env", "a3c", "gan", "cartpole"]
    result = cli("bench", "speed")
    assert result.code == 2
    assert "unknown benchmark suite 'speed'" in result.err and "all" in result.err
    assert cli("bench", "env", "--out", "figures.txt").code == 2


# -- the peers are what they claim ------------------------------------------------------------------
def test_gan_peers_have_the_published_parameter_counts() -> None:
    from playground.peers.plain_cyclegan import resnet9
    from playground.peers.plain_dcgan import PlainDCGAN
    from playground.peers.plain_pix2pix import UNet256, patchgan70

    # pix2pix / CycleGAN reference code prints 54.414 M (unet_256), 2.769 M (PatchGAN on A|B),
    # 11.378 M (resnet_9blocks) and 2.765 M (PatchGAN on 3 channels, InstanceNorm).
    assert _count(UNet256(3, 3)) == 54_413_955
    assert _count(patchgan70(6)) == 2_768_705
    assert _count(resnet9(3, 3)) == 11_378_179
    assert _count(patchgan70(3, nn.InstanceNorm2d)) == 2_764_737
    dcgan = PlainDCGAN(torch.zeros(64, 3, 64, 64))
    assert (_count(dcgan.G), _count(dcgan.D)) == (3_576_704, 2_765_568)  # the PyTorch example's, nc = 3
    # The U-Net really is an encoder-decoder to 1x1 and back.
    assert UNet256(3, 3)(torch.zeros(1, 3, 256, 256)).shape == (1, 3, 256, 256)


def test_the_plain_wgan_clips_its_critic_and_moves_its_generator_every_fifth_step() -> None:
    from playground.peers.plain_wgan import PlainWGAN

    torch.manual_seed(0)
    peer = PlainWGAN(torch.rand(16, 1, 64, 64) * 2 - 1, batch_size=8, ngf=8, ndf=8)
    g_before = [p.detach().clone() for p in peer.G.parameters()]
    for step in range(1, 6):
        assert peer.train_step() == 8
        assert all(p.abs().max() <= 0.01 for p in peer.D.parameters())
        moved = any(not torch.equal(a, b) for a, b in zip(g_before, peer.G.parameters()))
        assert moved == (step == 5), step
    assert not isinstance(list(peer.D)[-1], nn.Sigmoid)  # a critic's raw score


def test_the_plain_infogan_trains_d_q_and_g_on_its_codes() -> None:
    from playground.peers.plain_infogan import PlainInfoGAN

    torch.manual_seed(0)
    peer = PlainInfoGAN(torch.rand(16, 1, 28, 28) * 2 - 1, batch_size=8)
    q_before = [p.detach().clone() for p in peer.q_head.parameters()]
    g_before = [p.detach().clone() for p in peer.G.parameters()]
    assert peer.train_step() == 8
    assert all(not torch.equal(a, b) for a, b in zip(q_before, peer.q_head.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, peer.G.parameters()))
    logits = torch.full((4, 12), -20.0)
    logits[torch.arange(4), torch.tensor([1, 2, 3, 4])] = 20.0  # Q sure of the right digits, and mu = c
    cont = torch.zeros(4, 2)
    logits[:, 10:] = cont
    assert peer._information(logits, torch.tensor([1, 2, 3, 4]), cont).item() == pytest.approx(0.0, abs=1e-6)


def _plain(kwargs: dict) -> dict:
    """Constructor keywords compared by value: schedules at the start and half-way."""
    out = {}
    for key, value in kwargs.items():
        out[key] = (value(1.0), value(0.5)) if callable(value) and not isinstance(value, type) else value
    return out


@pytest.mark.parametrize("algo", ["ppo", "a2c", "sb3-dqn"])
def test_the_zoo_peer_trains_with_our_atari_presets_numbers(algo: str) -> None:
    from agents import presets
    from agents.sb3 import sb3_kwargs
    from playground import envs
    from playground.peers import sb3_zoo

    preset = presets.pick(algo, envs.resolve("ALE/Pong-v5"), None)
    n_envs, peer = sb3_zoo.zoo_hyperparameters(sb3_zoo.ATARI[algo.removeprefix("sb3-")])
    assert n_envs == preset.n_envs
    assert _plain(peer) == _plain(sb3_kwargs(preset.hyperparameters))


def test_the_cartpole_peer_has_the_zoo_settings_of_our_zoo_preset() -> None:
    from agents import presets
    from agents.sb3 import sb3_kwargs
    from playground import envs
    from playground.peers import sb3_zoo

    preset = presets.pick("ppo", envs.resolve("CartPole-v1"), "cartpole-zoo")  # ours by default is our own
    n_envs, peer = sb3_zoo.zoo_hyperparameters(sb3_zoo.CARTPOLE_PPO)
    assert (n_envs, _plain(peer)) == (preset.n_envs, _plain(sb3_kwargs(preset.hyperparameters)))


# -- every suite, tiny and for real -----------------------------------------------------------------
def test_rl_suite_trains_ours_and_the_zoo_peer(home: Path) -> None:
    figures = bench.run("rl", level="tiny")
    assert [f.name.split()[0] for f in figures] == ["PPO", "PPO", "PPO's", "A2C", "A2C", "A2C's", "DQN", "DQN",
                                                    "Rainbow", "Rainbow"]
    for f in figures:
        _check_shape(f, "rl")
    ppo, ppo_learner, ppo_games, a2c, a2c_learner, a2c_games, dqn, learner, rainbow, rainbow_learner = figures
    # PPO and A2C play as many envs as the Zoo; our DQN family acts in 8 at once against SB3's one, at the
    # Zoo's replay ratio (its train_freq counts transitions)
    training = [ppo, a2c, dqn, rainbow]
    assert [(f.notes["n_envs"]["ours"], f.notes["n_envs"]["peer"]) for f in training] == [(8, 8), (16, 16), (8, 1),
                                                                                           (8, 1)]
    for bound in (learner, rainbow_learner):  # gradient steps alone, ours against SB3's DQN
        assert "learner alone" in bound.name and bound.notes["precision"] in ("bfloat16", "float32")
    assert learner.notes["improvements"] == []  # the Nature network with the Zoo's settings
    assert rainbow_learner.notes["improvements"] == ["double", "dueling", "prioritized", "n_step", "noisy",
                                                     "distributional"]
    # the actor-critics' ceilings: the learner's own speed, and the training speeds as fractions of it
    for trained, ceiling in ((ppo, ppo_learner), (a2c, a2c_learner)):
        assert "learner alone" in ceiling.name and ceiling.notes["precision"] in ("bfloat16", "float32")
        assert ceiling.notes["ceiling"]["ours"] == pytest.approx(trained.ours_median / ceiling.ours_median)
        assert ceiling.notes["ceiling"]["peer"] == pytest.approx(trained.peer_median / ceiling.ours_median)
        if ceiling.notes["precision"] == "bfloat16":
            assert len(ceiling.notes["float32"]) == 1 and ceiling.notes["float32"][0] > 0
    # and with the games: each side's learner and its own games alone, one after the other
    for trained, ceiling, games in ((ppo, ppo_learner, ppo_games), (a2c, a2c_learner, a2c_games)):
        assert "games alone" in games.name and games.ours_median > 0 and games.peer_median > 0
        with_games = ceiling.notes["with_games"]
        for side in ("ours", "peer"):
            step = 1 / getattr(ceiling, f"{side}_median") + 1 / getattr(games, f"{side}_median")
            assert with_games[side] == pytest.approx(1 / step)
            assert with_games["trained"][side] == pytest.approx(getattr(trained, f"{side}_median") / with_games[side])
        assert with_games["ours"] < min(ceiling.ours_median, games.ours_median)
        assert with_games["over_peer"] == pytest.approx(with_games["ours"] / trained.peer_median)
        assert with_games["over_bound"] == pytest.approx(with_games["ours"] / with_games["peer"])
    # every learner figure counts its arithmetic: the same networks cost the same on both sides, Rainbow's more;
    # our A2C's update takes acting's outputs instead of its own forward pass, a quarter of a step's arithmetic
    for bound in (ppo_learner, learner):
        assert bound.notes["arithmetic"]["ours"] == pytest.approx(bound.notes["arithmetic"]["peer"], rel=0.01)
    assert 0.65 < a2c_learner.notes["arithmetic"]["ours"] / a2c_learner.notes["arithmetic"]["peer"] < 0.8
    assert rainbow_learner.notes["arithmetic"]["ours"] > 1.3 * rainbow_learner.notes["arithmetic"]["peer"]
    assert rainbow_learner.notes["arithmetic"]["peer"] == pytest.approx(learner.notes["arithmetic"]["peer"])
    assert all(f.notes["arithmetic"]["peak"]["peer"] > 0 for f in (ppo_learner, a2c_learner, learner))
    if torch.backends.mkldnn.is_available():  # and names the oneDNN kernels of ours, pass by pass
        for bound in (ppo_learner, a2c_learner, learner, rainbow_learner):
            assert {"forward", "backward_data", "backward_weights"} <= bound.notes["kernels"].keys()
    text = bench.markdown(figures, "playground bench rl")
    assert "is the most training reaches when the games cost nothing; ours trains at" in text
    assert "MFLOP of matrix products and convolutions on our side" in text
    assert "Kernels: torch dispatches to" in text


def test_the_cli_hears_of_each_rl_figure_as_soon_as_it_is_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rl suite takes minutes: ``on_figure`` (the CLI's progress line) hears of each algorithm's figures before
    the next algorithm is measured."""
    from playground.bench import rl

    measured: list[str] = []

    def figures(algo: str, level: object, device: str) -> list[Figure]:
        measured.append(algo)
        return [Figure("rl", algo, "steps/s", "peer", ours=[1.0], peer=[1.0])]

    monkeypatch.setattr(rl, "figures", figures)
    heard: list[tuple[str, int]] = []
    bench.run("rl", level="tiny", on_figure=lambda f: heard.append((f.name, len(measured))))
    assert heard == [(algo, i + 1) for i, algo in enumerate(rl.LEVELS["tiny"].algos)]


def test_the_kernel_line_names_this_cpus_flags_and_torchs_choices() -> None:
    kernels = bench.kernels()
    assert kernels["onednn"] in (True, False) and kernels["capability"]
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    assert all(flag in flags for flag in kernels["flags"])
    assert ("avx2" in flags) == ("avx2" in kernels["flags"])
    from agents.precision import cpu_has_bfloat16

    assert kernels["bfloat16"] == cpu_has_bfloat16()
    assert bench.cpu_model() in bench.machine()


def test_env_suite_steps_ours_the_sb3_wrappers_and_bare_emulators(home: Path) -> None:
    wrappers, ceiling = bench.run("env", level="tiny")
    _check_shape(wrappers, "env")
    _check_shape(ceiling, "env")
    assert ceiling.notes["workers"] == bench.cores()
    assert "SB3" in wrappers.peer_name and "bare ALE" in ceiling.peer_name


def test_a3c_suite_measures_more_workers_against_one(home: Path) -> None:
    (figure,) = bench.run("a3c", level="tiny")
    _check_shape(figure, "a3c")
    assert "2 workers" in figure.name and "1 worker" in figure.peer_name


def test_gan_suite_trains_every_model_beside_its_peer(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_ATARI_FRAMES", "64")
    dcgan, wgan, infogan, pix2pix, cyclegan = bench.run("gan", level="tiny")
    for f in (dcgan, wgan, infogan, pix2pix, cyclegan):
        _check_shape(f, "gan")
    assert dcgan.unit == wgan.unit == infogan.unit == "images/s" and pix2pix.unit == cyclegan.unit == "iterations/s"
    assert "WGAN (weight clipping)" in wgan.name and "InfoGAN 28x28" in infogan.name
    # The peers build the same networks as ours: the example's DCGAN (a critic without its sigmoid has the same
    # weights) and InfoGAN's table 1 with its Q head.
    assert dcgan.notes["parameters"] == wgan.notes["parameters"] == {"ours": 3_576_704 + 2_765_568,
                                                                     "peer": 3_576_704 + 2_765_568}
    assert infogan.notes["parameters"]["ours"] == infogan.notes["parameters"]["peer"] > 7_000_000
    assert "256x256" in pix2pix.name
    # Ours and the peer build the same published networks: G + D, and G_A + G_B + D_A + D_B.
    assert pix2pix.notes["parameters"] == {"ours": 54_413_955 + 2_768_705, "peer": 54_413_955 + 2_768_705}
    both = 2 * (11_378_179 + 2_764_737)
    assert cyclegan.notes["parameters"] == {"ours": both, "peer": both}


def test_cartpole_suite_times_both_to_the_target(home: Path) -> None:
    (figure,) = bench.run("cartpole", level="tiny")
    _check_shape(figure, "cartpole")
    assert figure.unit == "s" and not figure.higher_is_better
    reached = figure.notes["steps_reached"]
    assert len(reached["ours"]) == len(reached["peer"]) == 1
    steps = reached["ours"] + reached["peer"]
    assert all(step is not None and step % figure.notes["eval_every"] == 0 for step in steps)


# -- the speed choices of our path keep checkpoints and settings as they were ------------------------
def test_our_dqn_in_the_bench_has_the_zoos_atari_settings() -> None:
    """The rl suite's ``dqn`` figure gives our DQN the numbers of the Zoo's Atari entry, as the peer has them."""
    from playground.bench.rl import ZOO_DQN
    from playground.peers import sb3_zoo

    zoo = dict(sb3_zoo.ATARI["dqn"])
    assert {k: zoo[k] for k in ZOO_DQN} == ZOO_DQN
    assert set(zoo) - set(ZOO_DQN) == {"n_envs", "learning_starts", "optimize_memory_usage"}


def test_the_frame_path_saves_a_zip_plain_sb3_loads_with_the_same_weights(home: Path, tmp_path: Path) -> None:
    """PPO on frames runs FramePolicy (bytes into the CNN, channels last, bfloat16 where native, a fused Adam), yet
    its zip names only SB3's own classes and plain SB3 loads it into its CnnPolicy, weight for weight."""
    import zipfile

    from stable_baselines3 import PPO

    from agents.sb3 import FrameFeatures, FramePolicy, cpu_has_bfloat16
    from playground.bench.ours import our_agent

    _config, fast = our_agent("ppo", "ALE/Pong-v5", sets=["n_steps=16", "batch_size=64"])
    try:
        policy = fast.model.policy
        assert isinstance(policy, FramePolicy) and isinstance(policy.features_extractor, FrameFeatures)
        assert policy.features_extractor.bfloat16 == cpu_has_bfloat16() == fast._use_bfloat16()
        assert policy.optimizer.defaults["fused"] is True
        conv = policy.features_extractor.cnn[0].weight
        assert conv.is_contiguous(memory_format=torch.channels_last)
        frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
        features = policy.extract_features(frames)
        assert features.dtype == torch.float32 and features.shape == (2, 512)
        fast.save(tmp_path / "fast.zip")
        state = {k: v.clone() for k, v in policy.state_dict().items()}
    finally:
        fast.close()
    data = zipfile.ZipFile(tmp_path / "fast.zip").read("data").decode()
    assert "FramePolicy" not in data and "FrameFeatures" not in data and "fused" not in data
    assert "FrameRolloutBuffer" not in data and "RolloutBuffer" in data
    plain = PPO.load(tmp_path / "fast.zip", device="cpu")  # SB3 alone, as RL Baselines3 Zoo would
    assert type(plain.policy).__name__ == "ActorCriticCnnPolicy"
    loaded = plain.policy.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    # and the same weights give the same policy there: float32 here against SB3's own float32 path
    policy.features_extractor.bfloat16 = False
    with torch.no_grad():
        ours_logits = policy.action_net(policy.extract_features(frames))
        theirs_logits = plain.policy.action_net(plain.policy.extract_features(frames))  # SB3 scales them
    assert torch.allclose(ours_logits, theirs_logits, atol=1e-5)


def test_acting_in_bfloat16_uses_a_copy_that_follows_every_weight_change(home: Path) -> None:
    """No-gradient passes run on a bfloat16 copy of the weights: the numbers autocast gives, made again after the
    policy's own optimizer (a fused Adam, which bumps no version counter) or a load changes the weights. Acting and
    predict() both take the frames as bytes, and acting draws what SB3's own forward draws; the frames SB3 scales
    itself (predict_values, the bootstrap value) give through the copy what autocast gives them."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from agents.sb3 import FrameFeatures, cpu_has_bfloat16
    from playground.bench.ours import our_agent

    _config, agent = our_agent("ppo", "ALE/Pong-v5", sets=["n_steps=16", "batch_size=64"])
    try:
        policy = agent.model.policy
        extractor = policy.features_extractor
        assert isinstance(extractor, FrameFeatures)
        extractor.bfloat16 = True  # the copy exists for bfloat16 only; on a CPU without it, emulated here
        frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)

        scaled = frames.float() / 255.0  # SB3's own preprocessing, on the paths FramePolicy leaves to it

        def autocast_features(frames: torch.Tensor = frames) -> torch.Tensor:
            with torch.enable_grad():  # with gradients the extractor runs under autocast on its float32 weights
                return extractor(frames).detach()

        with torch.no_grad():
            assert torch.equal(extractor(frames), autocast_features())
            assert torch.equal(extractor(scaled), autocast_features(scaled))
            assert torch.equal(policy.predict_values(frames), policy.value_net(autocast_features(scaled)))
            # predict() takes the bytes too, not SB3's float32 frames: acting's own numbers
            logits = policy.action_net(extractor(frames))
            assert torch.equal(policy.get_distribution(frames).distribution.logits, logits - logits.logsumexp(-1, True))
            for deterministic in (False, True):  # acting without torch's Categorical: SB3's numbers and draws
                torch.manual_seed(0)
                ours = policy(frames, deterministic)
                torch.manual_seed(0)
                theirs = ActorCriticPolicy.forward(policy, frames, deterministic)
                assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
        for _ in range(2):  # the policy's own optimizer: a fused Adam where torch has one for the CPU
            policy.optimizer.zero_grad()
            policy.evaluate_actions(frames, torch.zeros(3))[1].sum().backward()
            policy.optimizer.step()
            with torch.no_grad():
                assert torch.equal(extractor(frames), autocast_features())
                assert torch.equal(extractor(scaled), autocast_features(scaled))
        assert policy.optimizer.defaults.get("fused") is True
        with torch.no_grad():
            policy.load_state_dict({k: torch.zeros_like(v) for k, v in policy.state_dict().items()})
            assert extractor(frames).abs().sum() == 0 and extractor(scaled).abs().sum() == 0
        assert all(not name.startswith("_acting") for name in extractor.state_dict())
        assert cpu_has_bfloat16() in (True, False)
    finally:
        agent.close()


def test_frames_go_through_the_first_convolution_as_bytes_with_the_scale_in_its_weights() -> None:
    """``through``: uint8 frames, converted once into channels-last order, give what the same layers give on the
    frames scaled to [0, 1] in float32; floats are taken as scaled already; a folded copy takes bytes only."""
    from agents.frames import SCALE, bytes_in, nature_cnn, through

    torch.manual_seed(0)
    layers = nn.Sequential(nature_cnn(4), nn.Linear(3136, 16))
    for batch in (2, 70):  # both conversions: reorder after, and copy straight into channels-last
        frames = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)
        x = bytes_in(frames, torch.bfloat16)
        assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(x.float(), frames.float())  # 0..255 are exact in bfloat16
        with torch.no_grad():
            expected = layers(frames.float() / 255.0)
            assert torch.allclose(through(layers, frames), expected, atol=1e-5, rtol=1e-4)
            assert torch.equal(through(layers, frames.float() / 255.0), expected)
            folded = layers
            folded[0][0].weight.mul_(SCALE)
            assert torch.allclose(through(folded, frames, folded=True), expected, atol=1e-5, rtol=1e-4)
            with pytest.raises(ValueError):
                through(folded, frames.float(), folded=True)
            folded[0][0].weight.mul_(255.0)


def test_packed_frames_are_the_same_bytes_and_give_the_first_convolution_the_same_sums() -> None:
    """``pack`` folds each 4x4 tile of pixels into the channels (channel (i·4 + j)·4 + c is channel c of pixel
    (i, j)); through it the 8x8, stride-4 convolution becomes a 2x2, stride-1 one with the same sums, in its output
    and in its weights' gradient, and plain frames still take the plain convolution."""
    from agents.frames import nature_cnn, pack, pack_rows, packing, rows_of, through

    torch.manual_seed(0)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    packed = pack(frames, 4)
    assert packed.shape == (3, 64, 21, 21) and packed.is_contiguous(memory_format=torch.channels_last)
    for n, c, y, x in ((0, 0, 0, 0), (1, 3, 83, 83), (2, 2, 41, 6), (0, 1, 5, 77)):
        assert packed[n, ((y % 4) * 4 + x % 4) * 4 + c, y // 4, x // 4] == frames[n, c, y, x]
    assert torch.equal(pack(frames, 1), frames)  # tiles of one pixel: channels last only
    with pytest.raises(ValueError):
        pack(frames, 5)
    # every byte, whichever width the tiles' rows move at: 16 bytes here, 12 (3 channels), 4 (1 channel), one at a time
    # from memory no wider number may start at, and floats, whose bits a move must not change
    many = torch.randint(0, 256, (64, 84, 84, 4), dtype=torch.uint8)  # 112,896 rows of 16 bytes: NaN patterns too
    shifted = torch.randint(0, 256, (2 * 84 * 84 * 4 + 1,), dtype=torch.uint8)[1:].reshape(2, 84, 84, 4)
    for rows in (many, many[:, :, :, :3], many[:, :, :, :1], shifted, many.view(torch.float32)):
        n, h, w, c = rows.shape
        one_by_one = rows.reshape(n, h // 4, 4, w // 4, 4 * c).transpose(2, 3).reshape(n, h // 4, w // 4, 16 * c)
        assert torch.equal(pack_rows(rows, 4).view(torch.uint8), one_by_one.contiguous().view(torch.uint8))
    assert torch.equal(rows_of(frames), frames.permute(0, 2, 3, 1))
    layers = nature_cnn(4)
    assert packing(layers[0], (84, 84)) == 4
    assert packing(layers[0], (84, 82)) == 1 and packing(layers[2]) == 2 and packing(layers[4]) == 1
    plain = through(layers, frames)
    (plain_grad,) = torch.autograd.grad(plain.sum(), layers[0].weight)
    tiled = through(layers, packed)
    (tiled_grad,) = torch.autograd.grad(tiled.sum(), layers[0].weight)
    assert torch.allclose(tiled, plain, atol=1e-5, rtol=1e-4)
    assert torch.allclose(tiled_grad, plain_grad, atol=1e-3, rtol=1e-4)
    assert tiled_grad.shape == layers[0].weight.shape


def test_through_known_computes_no_layer_and_gives_autograds_own_gradients() -> None:
    """Given the ReLU outputs ``through(keep=...)`` recorded, ``through_known`` hands them back with a graph whose
    backward pass gives the gradients autograd gives through the layers themselves, bit for bit (plain and packed
    frames, bfloat16 and float32); layers it cannot stand in for are refused."""
    from agents.frames import nature_cnn, pack, through, through_known

    torch.manual_seed(0)
    layers = (nature_cnn(4), nn.Sequential(nn.Linear(3136, 32), nn.ReLU()))
    weights = [w for layer in layers for w in layer.parameters()]
    frames = torch.randint(0, 256, (5, 4, 84, 84), dtype=torch.uint8)
    upstream = torch.randn(5, 32)
    for tiles in (1, 4):
        for dtype in (torch.bfloat16, torch.float32):
            keep: list[torch.Tensor] = []
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                computed = through(layers, pack(frames, tiles), keep=keep)
            assert len(keep) == 4 and keep[-1] is computed
            expected = torch.autograd.grad((computed.float() * upstream).sum(), weights)
            known = through_known(layers, pack(frames, tiles), [k.detach() for k in keep], dtype)
            assert known.dtype == dtype and torch.equal(known, computed)
            got = torch.autograd.grad((known.float() * upstream).sum(), weights)
            assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    with pytest.raises(ValueError):
        through_known((nature_cnn(4), nn.Linear(3136, 32)), frames, keep, torch.float32)


def test_a2c_learns_from_what_acting_computed_while_the_weights_are_those_that_acted(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A2C's buffer keeps each step's layer outputs from acting and its update takes them instead of a forward pass
    of the CNN: the same values and gradients as computing them again, sample for sample in SB3's shuffled order.
    Outputs computed on other frames, or with weights that changed since, are not taken; PPO keeps no outputs, nor
    does an A2C rollout too big to keep."""
    import numpy as np

    import agents.sb3 as sb3
    from agents import frames as frame_path
    from playground.bench.ours import our_agent, train_steps

    replayed = []
    monkeypatch.setattr(sb3, "through_known", lambda *a: replayed.append(1) or frame_path.through_known(*a))
    _config, agent = our_agent("a2c", "ALE/Pong-v5", sets=["n_steps=3"])
    try:
        model = agent.model
        buffer, policy, extractor = model.rollout_buffer, model.policy, model.policy.features_extractor
        assert buffer.acting is extractor and extractor.keeps_acting
        model.train = lambda: None  # keep the rollout unread
        train_steps(agent, model.n_steps * model.n_envs)
        np.random.seed(0)
        (data,) = list(buffer.get(None))
        weights = list(policy.parameters())

        def values_and_gradients() -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
            values, log_prob, entropy = policy.evaluate_actions(data.observations, data.actions.long().flatten())
            loss = values.square().mean() - (log_prob * data.advantages).mean() - entropy.mean()
            return values.detach(), torch.autograd.grad(loss, weights)

        values, gradients = values_and_gradients()
        assert replayed == [1]
        again, expected = values_and_gradients()  # the replay is used once; this computes the layers
        assert replayed == [1]
        assert torch.allclose(values, again, rtol=1e-2, atol=1e-3)
        for got, want in zip(gradients, expected, strict=True):
            assert torch.allclose(got, want, rtol=1e-2, atol=1e-2 * float(want.abs().max()))

        assert extractor.__dict__["_replay"] is None  # offered once, taken once

        frames = model._last_obs
        with torch.no_grad():
            policy(torch.from_numpy(frames))
        assert extractor.acted_on(frames.copy()) is None  # kept for the frames acting saw, no others
        with torch.no_grad():
            policy(torch.from_numpy(frames))
        acted = extractor.acted_on(frames)
        assert acted is not None and acted.outputs is not None and extractor.acted_on(frames) is None
        for weight, gradient in zip(weights, gradients, strict=True):
            weight.grad = gradient.clone()
        policy.optimizer.step()
        (stale,) = list(buffer.get(None))  # the rollout's outputs offered again, from the weights before the step
        policy.evaluate_actions(stale.observations, stale.actions.long().flatten())
        assert replayed == [1]
    finally:
        agent.close()
    for algo, sets in (("ppo", ["n_steps=16", "batch_size=32"]), ("a2c", ["n_steps=257"])):  # A2C: too big to keep
        _config, agent = our_agent(algo, "ALE/Pong-v5", sets=sets)
        try:
            extractor = agent.model.policy.features_extractor
            assert agent.model.rollout_buffer.acting is extractor and not extractor.keeps_acting
        finally:
            agent.close()


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_the_frame_rollout_buffer_hands_out_sb3s_minibatches_packed(home: Path, algo: str) -> None:
    """PPO's and A2C's buffer packs a rollout's frames once, from the rows acting made of each step's frames; each
    minibatch holds, sample for sample, the frames and numbers SB3's own buffer gives for the same shuffle, and the
    saved zip still names SB3's buffer."""
    import numpy as np
    from stable_baselines3.common.buffers import RolloutBuffer

    from agents.frames import pack
    from agents.sb3 import FrameRolloutBuffer, _as_plain_sb3
    from playground.bench.ours import our_agent, train_steps

    sets = ["n_steps=16", "batch_size=32"] if algo == "ppo" else ["n_steps=3"]
    _config, agent = our_agent(algo, "ALE/Pong-v5", sets=sets)
    try:
        model = agent.model
        ours = model.rollout_buffer
        assert isinstance(ours, FrameRolloutBuffer) and ours.block == 4
        original, add, acted_on = model.train, ours.add, ours.acting.acted_on
        seen, from_acting = [], []

        def recording_add(obs: np.ndarray, *args: object, **kwargs: object) -> None:
            seen.append(obs.copy())
            add(obs, *args, **kwargs)

        def recording_acted_on(frames: np.ndarray) -> object:
            acted = acted_on(frames)
            from_acting.append(acted is not None and acted.rows is not None)
            return acted

        ours.add, ours.acting.acted_on = recording_add, recording_acted_on
        model.train = lambda: None  # keep the rollout unread
        train_steps(agent, model.n_steps * model.n_envs)
        model.train = original
        assert from_acting == [True] * model.n_steps  # the buffer reordered no frames itself
        theirs = RolloutBuffer(ours.buffer_size, ours.observation_space, ours.action_space, n_envs=ours.n_envs,
                               gamma=ours.gamma, gae_lambda=ours.gae_lambda)
        theirs.observations = np.stack(seen)  # the frames as the env gave them
        for name in ("actions", "rewards", "returns", "episode_starts", "values", "log_probs", "advantages"):
            setattr(theirs, name, getattr(ours, name).copy())
        theirs.full = True
        assert ours.observations.any()  # real frames, not zeros
        batch = 32 if algo == "ppo" else None
        for seed in (0, 1):
            np.random.seed(seed)
            mine = list(ours.get(batch))
            np.random.seed(seed)
            sb3 = list(theirs.get(batch))
            assert len(mine) == len(sb3) >= 1
            for a, b in zip(mine, sb3, strict=True):
                assert torch.equal(a.observations, pack(b.observations, 4))
                for field in ("actions", "old_values", "old_log_prob", "advantages", "returns"):
                    assert torch.equal(getattr(a, field), getattr(b, field))
        model.train()  # SB3's update takes the packed minibatches
        with _as_plain_sb3(model):
            assert model.rollout_buffer_class is RolloutBuffer and model.rollout_buffer_kwargs == {}
        assert model.rollout_buffer_class is FrameRolloutBuffer
    finally:
        agent.close()


def test_one_thread_for_mlps_only_while_learning(home: Path) -> None:
    from playground.bench.ours import our_agent, train_steps

    before = torch.get_num_threads()
    _config, agent = our_agent("ppo", "CartPole-v1")
    try:
        assert agent._train_threads() == 1
        train_steps(agent, 256)
    finally:
        agent.close()
    assert torch.get_num_threads() == before
