"""The DQN family's settings, networks and learning math (agents/dqn.py), against numbers worked out by hand.

The target examples use two next states and three actions, where the two networks disagree::

    next state      online Q          target Q        online argmax   target argmax
    0               [1, 3, 2]         [4, 1, 2]       1               0
    1               [5, 0, 1]         [0, 6, 3]       0               1

    returns [1, 2], discounts [0.9, 0.5]
    double:      1 + 0.9 * Q_target(0, 1) = 1 + 0.9 * 1 = 1.9     2 + 0.5 * Q_target(1, 0) = 2 + 0.5 * 0 = 2.0
    not double:  1 + 0.9 * max = 1 + 0.9 * 4 = 4.6                2 + 0.5 * max = 2 + 0.5 * 6 = 5.0

The C51 examples use the support [-1, 0, 1] (spacing 1).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from agents.dqn import (
    DQNSettings,
    NoisyLinear,
    QNetwork,
    as_batch,
    beta,
    clip_gradients,
    dqn_loss,
    epsilon,
    greedy_next_actions,
    project_distribution,
    td_target,
    update_target,
)
from agents.replay import ReplayBatch
from playground.errors import BadConfig

CJK = re.compile(r"[\u3400-\u9fff]")
ONLINE = torch.tensor([[1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
TARGET = torch.tensor([[4.0, 1.0, 2.0], [0.0, 6.0, 3.0]])
RETURNS = torch.tensor([1.0, 2.0])
DISCOUNTS = torch.tensor([0.9, 0.5])
SUPPORT = torch.tensor([-1.0, 0.0, 1.0])


def f(x: torch.Tensor) -> torch.Tensor:
    return x.sign() * x.abs().sqrt()


# -- targets -------------------------------------------------------------------------------------------------------


def test_double_q_picks_the_online_argmax_and_takes_the_target_networks_value() -> None:
    assert greedy_next_actions(TARGET, ONLINE).tolist() == [1, 0]
    target = td_target(TARGET, RETURNS, DISCOUNTS, torch.tensor([True, True]), next_q_online=ONLINE)
    assert torch.allclose(target, torch.tensor([1.9, 2.0]))


def test_without_double_the_target_network_picks_and_values() -> None:
    assert greedy_next_actions(TARGET).tolist() == [0, 1]
    target = td_target(TARGET, RETURNS, DISCOUNTS, torch.tensor([True, True]))
    assert torch.allclose(target, torch.tensor([4.6, 5.0]))


def test_the_n_step_discount_is_used_as_given_and_a_terminated_sample_does_not_bootstrap() -> None:
    # sample 0: a 3-step return with gamma 0.9 (discount 0.729); sample 1 terminated within its steps
    target = td_target(TARGET, torch.tensor([5.23, 2.0]), torch.tensor([0.729, 0.81]), torch.tensor([True, False]))
    assert torch.allclose(target, torch.tensor([5.23 + 0.729 * 4.0, 2.0]))
    double = td_target(TARGET, torch.tensor([5.23, 2.0]), torch.tensor([0.729, 0.81]), torch.tensor([True, False]),
                       next_q_online=ONLINE)
    assert torch.allclose(double, torch.tensor([5.23 + 0.729 * 1.0, 2.0]))


# -- the C51 projection --------------------------------------------------------------------------------------------


def project(probs: list[float], ret: float, discount: float, boot: bool = True) -> list[float]:
    out = project_distribution(torch.tensor([probs]), torch.tensor([ret]), torch.tensor([discount]),
                               torch.tensor([boot]), SUPPORT)
    return out[0].tolist()


def test_the_projection_splits_each_atom_between_its_two_neighbours_by_hand() -> None:
    # all mass on z = 0, return 0.5: Tz = 0.5, half on 0, half on 1
    assert project([0.0, 1.0, 0.0], 0.5, 0.9) == pytest.approx([0.0, 0.5, 0.5])
    # p = [0.2, 0.5, 0.3], return 0.5, discount 0.5: Tz = [0, 0.5, 1]
    # -> 0.2 stays on 0; 0.5 splits 0.25 / 0.25 between 0 and 1; 0.3 stays on 1 -> [0, 0.45, 0.55]
    assert project([0.2, 0.5, 0.3], 0.5, 0.5) == pytest.approx([0.0, 0.45, 0.55])
    # a target exactly on an atom stays there: return 0, discount 1 moves nothing
    assert project([0.2, 0.5, 0.3], 0.0, 1.0) == pytest.approx([0.2, 0.5, 0.3])
    # return 1, discount 0.5 on a mass at -1: Tz = 0.5 -> half on 0 and half on 1
    assert project([1.0, 0.0, 0.0], 1.0, 0.5) == pytest.approx([0.0, 0.5, 0.5])


def test_targets_outside_the_support_are_clipped_to_its_ends() -> None:
    assert project([0.2, 0.5, 0.3], 5.0, 0.9) == pytest.approx([0.0, 0.0, 1.0])
    assert project([0.2, 0.5, 0.3], -5.0, 0.9) == pytest.approx([1.0, 0.0, 0.0])
    # only the atom that lands above v_max is clipped: Tz = [0.5, 1.5, 2.5] -> [0, 0.1, 0.9]
    assert project([0.2, 0.5, 0.3], 1.5, 1.0) == pytest.approx([0.0, 0.1, 0.9])


def test_a_terminated_sample_collapses_to_its_return() -> None:
    assert project([0.2, 0.5, 0.3], 1.0, 0.9, boot=False) == pytest.approx([0.0, 0.0, 1.0])
    assert project([0.2, 0.5, 0.3], -0.25, 0.9, boot=False) == pytest.approx([0.25, 0.75, 0.0])


def test_the_projection_preserves_mass_on_a_real_support() -> None:
    generator = torch.Generator().manual_seed(0)
    support = torch.linspace(-10, 10, 51)
    probs = torch.rand(64, 51, generator=generator).softmax(dim=1)
    returns = (torch.rand(64, generator=generator) - 0.5) * 40  # many land outside [-10, 10]
    discounts = torch.rand(64, generator=generator)
    bootstrap = torch.rand(64, generator=generator) > 0.3
    out = project_distribution(probs, returns, discounts, bootstrap, support)
    assert out.shape == (64, 51) and (out >= 0).all()
    assert torch.allclose(out.sum(dim=1), torch.ones(64), atol=1e-5)
    # the projected mean equals the clipped target mean wherever nothing was clipped
    inside = ((returns.unsqueeze(1) + (bootstrap * discounts).unsqueeze(1) * support).abs() <= 10).all(dim=1)
    assert inside.any()
    wanted = returns + bootstrap * discounts * (probs * support).sum(dim=1)
    assert torch.allclose((out * support).sum(dim=1)[inside], wanted[inside], atol=1e-4)


# -- networks ------------------------------------------------------------------------------------------------------


def test_the_dueling_head_is_value_plus_advantage_minus_its_mean_on_fixed_weights() -> None:
    net = QNetwork((2,), "float32", 3, DQNSettings(dueling=True, net_arch=[]))
    value, advantage = net.value[-1], net.advantage[-1]
    with torch.no_grad():
        value.weight.copy_(torch.tensor([[1.0, 0.0]]))
        value.bias.zero_()
        advantage.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        advantage.bias.copy_(torch.tensor([0.5, 0.0, -0.5]))
    # x = [1, 2]:  V = 1, A = [1.5, 2, 2.5], mean 2 -> Q = [0.5, 1, 1.5]
    # x = [0, -3]: V = 0, A = [0.5, -3, -3.5], mean -2 -> Q = [2.5, -1, -1.5]
    q = net(torch.tensor([[1.0, 2.0], [0.0, -3.0]]))
    assert torch.allclose(q, torch.tensor([[0.5, 1.0, 1.5], [2.5, -1.0, -1.5]]))


def test_the_nature_cnn_scales_bytes_inside_and_has_the_papers_layers() -> None:
    torch.manual_seed(0)
    net = QNetwork((4, 84, 84), np.uint8, 6, DQNSettings())
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [(32, (8, 8), (4, 4)), (64, (4, 4), (2, 2)),
                                                                          (64, (3, 3), (1, 1))]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3136, 512), (512, 6)]
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    by_hand = net.q(net.torso(frames.float() / 255.0))
    assert torch.allclose(net(frames), by_hand, atol=1e-6)
    # flat observations get the MLP: 4 -> 64 -> 64 -> actions, as SB3's MlpPolicy
    flat = QNetwork((4,), "float32", 2, DQNSettings())
    assert [(m.in_features, m.out_features) for m in flat.modules() if isinstance(m, nn.Linear)] == [
        (4, 64), (64, 64), (64, 2)]


def test_the_distributional_head_gives_a_softmax_per_action_and_its_mean_as_q() -> None:
    settings = DQNSettings(distributional=True, dueling=True, atoms=5, v_min=-2, v_max=2, net_arch=[8])
    net = QNetwork((3,), "float32", 4, settings)
    obs = torch.randn(6, 3)
    probs = net.distribution(obs)
    assert probs.shape == (6, 4, 5) and (probs >= 0).all()
    assert torch.allclose(probs.sum(dim=-1), torch.ones(6, 4), atol=1e-6)
    assert torch.allclose(net(obs), (probs * torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])).sum(dim=-1), atol=1e-6)
    with pytest.raises(ValueError, match="distributional"):
        QNetwork((3,), "float32", 4, DQNSettings()).distribution(obs)


# -- noisy layers --------------------------------------------------------------------------------------------------


def test_factorised_noise_is_the_outer_product_of_f_of_the_input_and_output_noise() -> None:
    layer = NoisyLinear(16, 3, sigma0=0.5)
    torch.manual_seed(7)
    layer.reset_noise()
    torch.manual_seed(7)
    e_in, e_out = torch.randn(16), torch.randn(3)
    assert torch.allclose(layer.noise_in, f(e_in)) and torch.allclose(layer.noise_out, f(e_out))
    assert layer.weight_epsilon.shape == (3, 16) and layer.bias_epsilon.shape == (3,)
    assert torch.allclose(layer.weight_epsilon, f(e_out)[:, None] * f(e_in)[None, :])
    assert torch.allclose(layer.bias_epsilon, f(e_out))
    before = layer.weight_epsilon.clone()
    layer.reset_noise()
    assert not torch.allclose(before, layer.weight_epsilon)


def test_noisy_layers_start_as_the_paper_says_and_use_mu_only_in_eval_mode() -> None:
    layer = NoisyLinear(16, 3, sigma0=0.5)
    bound = 1 / math.sqrt(16)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    assert layer.weight_mu.std() > 0.3 * bound  # drawn, not constant
    assert torch.all(layer.weight_sigma == 0.5 / 4) and torch.all(layer.bias_sigma == 0.5 / 4)
    x = torch.randn(5, 16)
    noisy = layer(x)
    by_hand = F.linear(x, layer.weight_mu + layer.weight_sigma * layer.weight_epsilon,
                       layer.bias_mu + layer.bias_sigma * layer.bias_epsilon)
    assert torch.allclose(noisy, by_hand, atol=1e-6)
    layer.eval()
    plain = layer(x)
    assert torch.allclose(plain, F.linear(x, layer.weight_mu, layer.bias_mu))
    assert not torch.allclose(noisy, plain)
    layer.reset_noise()
    assert torch.equal(layer(x), plain)


def test_gradient_clipping_gives_clip_grad_norms_result_and_leaves_small_gradients_alone() -> None:
    torch.manual_seed(3)
    for scale, clipped in ((10.0, True), (0.01, False)):
        ours, theirs = nn.Linear(6, 4), nn.Linear(6, 4)
        theirs.load_state_dict(ours.state_dict())
        for net in (ours, theirs):
            (net(torch.randn(8, 6, generator=torch.Generator().manual_seed(0))) * scale).pow(2).sum().backward()
        before = [p.grad.clone() for p in ours.parameters()]  # type: ignore[union-attr]
        total = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in before])))
        assert (total > 1.0) is clipped
        clip_gradients(list(ours.parameters()), 1.0)
        nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        for mine, reference, old in zip(ours.parameters(), theirs.parameters(), before, strict=True):
            torch.testing.assert_close(mine.grad, reference.grad)
            if not clipped:
                assert torch.equal(mine.grad, old)  # untouched, not multiplied by 1
        if clipped:
            after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in ours.parameters()]))  # type: ignore[union-attr]
            assert float(after) == pytest.approx(1.0, rel=1e-5)


def test_a_noisy_network_changes_with_its_noise_in_training_and_not_in_eval() -> None:
    settings = DQNSettings(noisy=True, exploration_initial_eps=0.0, exploration_final_eps=0.0, net_arch=[8, 8])
    net = QNetwork((3,), "float32", 2, settings)
    assert sum(isinstance(m, NoisyLinear) for m in net.modules()) == 3  # every linear layer
    obs = torch.randn(4, 3)
    first = net(obs)
    net.reset_noise()
    assert not torch.allclose(first, net(obs))
    net.eval()
    calm = net(obs)
    net.reset_noise()
    assert torch.equal(calm, net(obs))


# -- the loss ------------------------------------------------------------------------------------------------------


class Table(nn.Module):
    """A Q-network whose Q-values are a learnable table, one row per state id (the observation)."""

    def __init__(self, rows: list[list[float]]) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(rows))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.table[obs.long()]


def batch(weights: list[float]) -> ReplayBatch:
    return ReplayBatch(
        observations=np.array([0, 1]), actions=np.array([2, 0]), returns=np.array([1.0, 2.0], dtype=np.float32),
        next_observations=np.array([2, 3]), discounts=np.array([0.9, 0.5], dtype=np.float32),
        bootstrap=np.array([True, False]), indices=np.array([10, 11]), weights=np.array(weights, dtype=np.float32))


def test_the_huber_loss_is_weighted_per_sample_by_the_importance_weights() -> None:
    # states 0, 1 are where the agent acted; 2, 3 are the next states (rows of the target example)
    online = Table([[0.0, 0.0, 0.9], [-1.0, 0.0, 0.0], [1.0, 3.0, 2.0], [5.0, 0.0, 1.0]])
    target = Table([[0.0] * 3, [0.0] * 3, [4.0, 1.0, 2.0], [0.0, 6.0, 3.0]])
    settings = DQNSettings()
    # targets: 1 + 0.9 * 4 = 4.6 (max of target row 2) and 2 (terminated); Q taken 0.9 and -1
    # TD errors 3.7 and 3.0; Huber: 3.7 - 0.5 = 3.2 and 3.0 - 0.5 = 2.5
    loss, errors = dqn_loss(online, target, batch([1.0, 1.0]), settings)
    assert torch.allclose(errors, torch.tensor([3.7, 3.0]))
    assert loss.item() == pytest.approx((3.2 + 2.5) / 2)
    doubled, _ = dqn_loss(online, target, batch([2.0, 1.0]), settings)
    assert doubled.item() == pytest.approx((2 * 3.2 + 2.5) / 2)
    doubled.backward()
    grads = online.table.grad
    assert grads[0, 2].item() == pytest.approx(-2 * 1 / 2) and grads[1, 0].item() == pytest.approx(-1 / 2)
    # double: the online network picks action 1 in state 2, the target values it at 1 -> 1 + 0.9 * 1 = 1.9
    _, errors = dqn_loss(online, target, batch([1.0, 1.0]), DQNSettings(double=True))
    assert torch.allclose(errors, torch.tensor([1.9 - 0.9, 3.0]))


def test_the_c51_loss_is_the_weighted_cross_entropy_to_the_projected_target() -> None:
    settings = DQNSettings(distributional=True, atoms=3, v_min=-1, v_max=1, net_arch=[8])
    torch.manual_seed(1)
    online, target = QNetwork((2,), "float32", 2, settings), QNetwork((2,), "float32", 2, settings)
    data = ReplayBatch(observations=np.array([[0.1, 0.2], [0.3, -0.4]], dtype=np.float32), actions=np.array([1, 0]),
                       returns=np.array([0.5, -0.25], dtype=np.float32),
                       next_observations=np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32),
                       discounts=np.array([0.9, 0.9], dtype=np.float32), bootstrap=np.array([True, False]),
                       indices=np.array([0, 1]), weights=np.array([1.0, 3.0], dtype=np.float32))
    loss, errors = dqn_loss(online, target, data, settings)
    b = as_batch(data, "cpu")
    with torch.no_grad():
        next_probs = target.distribution(b.next_observations)
        chosen = target(b.next_observations).argmax(dim=1)
        wanted = project_distribution(next_probs[[0, 1], chosen], b.returns, b.discounts, b.bootstrap, SUPPORT)
        log_p = online.distribution(b.observations)[[0, 1], b.actions].log()
    cross_entropy = -(wanted * log_p).sum(dim=1)
    assert wanted[1].tolist() == pytest.approx([0.25, 0.75, 0.0])  # terminated: the return -0.25 alone
    assert torch.allclose(errors, cross_entropy, atol=1e-6)
    assert loss.item() == pytest.approx(((cross_entropy * torch.tensor([1.0, 3.0])).mean()).item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is not None for p in online.parameters()) and all(p.grad is None for p in target.parameters())


def test_the_target_network_follows_by_tau() -> None:
    online, target = Table([[1.0, 2.0]]), Table([[3.0, 6.0]])
    update_target(target, online, 0.25)
    assert target.table.tolist() == [[2.5, 5.0]]
    update_target(target, online, 1.0)
    assert target.table.tolist() == [[1.0, 2.0]]


# -- schedules -----------------------------------------------------------------------------------------------------


def test_epsilon_falls_linearly_over_the_exploration_fraction_then_stays() -> None:
    settings = DQNSettings(exploration_fraction=0.1, exploration_initial_eps=1.0, exploration_final_eps=0.05)
    assert epsilon(0, settings, 1000) == 1.0
    assert epsilon(50, settings, 1000) == pytest.approx(0.525)
    assert epsilon(100, settings, 1000) == pytest.approx(0.05)
    assert epsilon(500, settings, 1000) == pytest.approx(0.05)
    assert epsilon(5000, settings, 1000) == pytest.approx(0.05)


def test_beta_is_annealed_from_beta0_to_one() -> None:
    settings = DQNSettings(prioritized=True, beta0=0.4)
    assert [beta(s, settings, 100) for s in (0, 50, 100, 200)] == pytest.approx([0.4, 0.7, 1.0, 1.0])


# -- settings ------------------------------------------------------------------------------------------------------


def test_the_defaults_are_sb3s_dqn_with_every_improvement_off() -> None:
    s = DQNSettings()
    assert (s.learning_rate, s.buffer_size, s.learning_starts, s.batch_size, s.tau, s.gamma, s.train_freq,
            s.gradient_steps, s.target_update_interval, s.exploration_fraction, s.exploration_initial_eps,
            s.exploration_final_eps, s.max_grad_norm) == (1e-4, 1_000_000, 100, 32, 1.0, 0.99, 4, 1, 10_000, 0.1,
                                                          1.0, 0.05, 10.0)
    assert not (s.double or s.dueling or s.prioritized or s.noisy or s.distributional) and s.n_step == 1
    assert (s.alpha, s.beta0, s.noisy_sigma0, s.atoms, s.v_min, s.v_max) == (0.5, 0.4, 0.5, 51, -10.0, 10.0)
    assert DQNSettings.model_fields["double"].description.startswith("Double DQN")  # what the UI shows
    rainbow = DQNSettings.model_validate({"double": True, "dueling": True, "prioritized": True, "n_step": 3,
                                          "noisy": True, "distributional": True, "exploration_initial_eps": 0,
                                          "exploration_final_eps": 0, "v_min": -10, "learning_rate": "lin_6.25e-5"})
    assert rainbow.v_min == -10.0 and rainbow.n_step == 3


@pytest.mark.parametrize(("values", "sentence"), [
    ({"distributional": True, "v_min": 5, "v_max": 5},
     "the return distribution's support needs v_min below v_max, but v_min=5.0 and v_max=5.0; "
     "C51 and Rainbow use v_min=-10 and v_max=10."),
    ({"distributional": True, "atoms": 1},
     "the return distribution needs at least 2 atoms, not atoms=1; C51 and Rainbow use 51."),
    ({"n_step": 0},
     "n_step must be a whole number of 1 or more, not 0; n_step=1 is plain one-step DQN, Rainbow uses 3."),
    ({"prioritized": True, "alpha": 1.5},
     "the priority exponent alpha must lie between 0 and 1, not 1.5; 0 replays uniformly, Rainbow uses 0.5."),
    ({"prioritized": True, "alpha": -0.1},
     "the priority exponent alpha must lie between 0 and 1, not -0.1; 0 replays uniformly, Rainbow uses 0.5."),
    ({"noisy": True, "exploration_initial_eps": 0.0},
     "noisy networks explore by themselves, so noisy=true takes no epsilon-greedy exploration; "
     "set exploration_initial_eps=0 and exploration_final_eps=0 (now 0.0 and 0.05)."),
    ({"noisy": True},
     "noisy networks explore by themselves, so noisy=true takes no epsilon-greedy exploration; "
     "set exploration_initial_eps=0 and exploration_final_eps=0 (now 1.0 and 0.05)."),
])
def test_each_bad_setting_is_one_sentence_in_english_and_in_chinese(values: dict, sentence: str) -> None:
    with pytest.raises(BadConfig) as caught:
        DQNSettings.model_validate(values)  # as playground.config validates hyperparameters
    assert str(caught.value) == sentence
    assert CJK.search(caught.value.sentence("zh"))


def test_a_training_process_computes_denormal_numbers_as_zero_on_every_thread() -> None:
    """Importing the agents flushes denormals (agents/precision.py) before torch's threads start, so each of them
    inherits it: a product and sum over two threads of numbers below float32's normal range give zero, and so
    does a square that would land in that range."""
    import subprocess
    import sys

    code = (
        "import agents.dqn, torch\n"
        "torch.set_num_threads(2)\n"
        "x = torch.full((4_000_000,), 1e-39)\n"
        "print(float((x * 1.0).sum()), float(torch.tensor(1e-20).pow(2)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout
    assert out.split() == ["0.0", "0.0"], out
    assert float(torch.tensor(1e-39, dtype=torch.float32)) == 0.0, "this test process imported agents.dqn too"
