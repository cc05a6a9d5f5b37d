"""Tests of the batched PPO learner (valint/ppo.py; PAPER.md §4)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from valint.config import PPOConfig
from valint.envs import N_ACTIONS, OBS_SHAPE
from valint.experiments import LearnerEnv, make_world
from valint.nets import ParamStack
from valint.ppo import (
    BatchedPPO,
    PolicyKernel,
    StepOutcome,
    compute_gae,
    init_policy,
    policy_forward,
    ppo_loss,
    ppo_loss_grads,
    sample_actions,
)

SMOKE = PPOConfig(n_steps=128, batch_size=32, n_epochs=2)


class ReferencePolicy(nn.Module):
    """PAPER.md §4's network as a plain channels-first module (SB3's CNN layout)."""

    def __init__(self, n_actions: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(4, 16, 2), nn.ReLU(), nn.Conv2d(16, 32, 2), nn.ReLU(), nn.Conv2d(32, 64, 2), nn.ReLU(), nn.Flatten()
        )
        self.fc = nn.Linear(2304, 128)
        self.pi = nn.Sequential(nn.Linear(128, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, n_actions))
        self.vf = nn.Sequential(nn.Linear(128, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = torch.relu(self.fc(self.body(obs.float().permute(0, 3, 1, 2) / 255.0)))
        return self.pi(latent), self.vf(latent).squeeze(-1)

    @torch.no_grad()
    def copy_from(self, params: dict[str, torch.Tensor], r: int) -> None:
        """Load run r's stacked weights (channels-last im2col matrices, (in, out) layout)."""
        for conv, name in zip(self.body[0::2], ("conv1", "conv2", "conv3")):
            w = params[f"{name}.w"][r]
            c_in = w.shape[0] // 4
            conv.weight.copy_(w.reshape(2, 2, c_in, -1).permute(3, 2, 0, 1))
            conv.bias.copy_(params[f"{name}.b"][r, 0])
        # channels-last flatten (position * 64 + channel) -> channels-first (channel * 36 + position)
        self.fc.weight.copy_(params["fc.w"][r].reshape(36, 64, 128).permute(1, 0, 2).reshape(2304, 128).T)
        self.fc.bias.copy_(params["fc.b"][r, 0])
        for head, prefix in ((self.pi, "pi"), (self.vf, "vf")):
            for layer, name in zip(head[0::2], (f"{prefix}1", f"{prefix}2", f"{prefix}_out")):
                layer.weight.copy_(params[f"{name}.w"][r].T)
                layer.bias.copy_(params[f"{name}.b"][r, 0])


def _random_obs(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 11, shape, generator=gen, dtype=torch.uint8)


def test_policy_forward_and_kernel_equal_a_plain_module_with_copied_weights() -> None:
    params = init_policy([11, 12], OBS_SHAPE, N_ACTIONS)
    with torch.no_grad():
        for k, v in params.items():
            if k.endswith(".b"):
                v.normal_(0.0, 0.1)
    obs = _random_obs((2, 6, *OBS_SHAPE), 0)
    logits, values = policy_forward(params, obs)
    stack = ParamStack.from_tensors(params)
    kernel = PolicyKernel(stack, OBS_SHAPE)
    k_logits, k_values = kernel.forward(kernel.scale(obs.reshape(12, -1)), 6)
    reference = ReferencePolicy(N_ACTIONS)
    for r in range(2):
        reference.copy_from(params, r)
        ref_logits, ref_values = reference(obs[r])
        torch.testing.assert_close(logits[r], ref_logits.detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(values[r], ref_values.detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(k_logits[r], ref_logits.detach(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(k_values[r, :, 0], ref_values.detach(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("ent_coef", [0.0, 0.01])
def test_hand_written_gradient_equals_autograd_of_the_sb3_loss(ent_coef: float) -> None:
    config = PPOConfig(ent_coef=ent_coef)
    n_runs, n = 3, 16
    gen = torch.Generator().manual_seed(5)
    params = init_policy([1, 2, 3], OBS_SHAPE, N_ACTIONS)
    obs = _random_obs((n_runs, n, *OBS_SHAPE), 1)
    actions = torch.randint(0, N_ACTIONS, (n_runs, n), generator=gen)
    # old log-probabilities far enough from the new ones that some ratios are clipped
    old_logprobs = math.log(1 / 3) + 0.3 * torch.randn(n_runs, n, generator=gen)
    advantages = torch.randn(n_runs, n, generator=gen)
    returns = torch.randn(n_runs, n, generator=gen)

    ref = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    logits, values = policy_forward(ref, obs)
    log_probs = torch.log_softmax(logits, dim=-1)
    ratio = (log_probs.gather(-1, actions[..., None])[..., 0] - old_logprobs).exp()
    adv = (advantages - advantages.mean(1, keepdim=True)) / (advantages.std(1, keepdim=True) + 1e-8)
    pg_loss = -torch.min(adv * ratio, adv * torch.clamp(ratio, 0.8, 1.2)).mean(1)
    v_loss = (returns - values).pow(2).mean(1)
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean(1)
    sb3_loss = pg_loss + 0.5 * v_loss - ent_coef * entropy
    sb3_loss.sum().backward()
    terms = ppo_loss(logits, values, actions, old_logprobs, advantages, returns, config)
    torch.testing.assert_close(terms.loss, sb3_loss)
    torch.testing.assert_close(terms.entropy, entropy)

    stack = ParamStack.from_tensors(params)
    kernel = PolicyKernel(stack, OBS_SHAPE)
    k_logits, k_values = kernel.forward(kernel.scale(obs.reshape(n_runs * n, -1)), n)
    dlogits, dvalues, stats = ppo_loss_grads(
        k_logits, k_values, actions, old_logprobs, advantages, returns, config, with_stats=True
    )
    kernel.backward(dlogits, dvalues)
    assert 0.0 < float(stats["clipfrac"].mean()) < 1.0
    torch.testing.assert_close(stats["pg_loss"], pg_loss.detach(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(stats["v_loss"], v_loss.detach(), atol=1e-6, rtol=1e-5)
    for name, value in ref.items():
        torch.testing.assert_close(stack.grads[name], value.grad, atol=1e-6, rtol=1e-4, msg=name)


def _reference_gae(rewards, values, dones, last_values, gamma, lam):
    """SB3's recursion, one run and one step at a time in Python floats."""
    n_steps, n_runs = rewards.shape
    advantages = np.zeros((n_steps, n_runs))
    for r in range(n_runs):
        gae = 0.0
        for t in reversed(range(n_steps)):
            next_value = last_values[r] if t == n_steps - 1 else values[t + 1, r]
            next_non_terminal = 0.0 if dones[t, r] else 1.0
            delta = rewards[t, r] + gamma * next_value * next_non_terminal - values[t, r]
            gae = delta + gamma * lam * next_non_terminal * gae
            advantages[t, r] = gae
    return advantages, advantages + values


def test_compute_gae_equals_a_slow_reference_loop() -> None:
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(50, 3)).astype(np.float32)
    values = rng.normal(size=(50, 3)).astype(np.float32)
    dones = rng.random((50, 3)) < 0.1
    dones[-1, 0] = True
    last_values = rng.normal(size=3).astype(np.float32)
    advantages, returns = compute_gae(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95)
    ref_adv, ref_ret = _reference_gae(rewards, values, dones, last_values, 0.99, 0.95)
    np.testing.assert_allclose(advantages, ref_adv, atol=1e-5)
    np.testing.assert_allclose(returns, ref_ret, atol=1e-5)
    assert advantages.dtype == returns.dtype == np.float32


class _ClockEnv:
    """Reward 0 everywhere; truncates every 5 steps, with a known final observation."""

    def __init__(self, n_runs: int) -> None:
        self.n_runs, self.t = n_runs, 0
        self.final = _random_obs((n_runs, *OBS_SHAPE), 7).numpy()
        self.start = _random_obs((n_runs, *OBS_SHAPE), 8).numpy()

    def reset(self) -> np.ndarray:
        return self.start

    def step(self, actions: np.ndarray) -> StepOutcome:
        self.t += 1
        truncated = np.full(self.n_runs, self.t % 5 == 0)
        return StepOutcome(self.start, np.zeros(self.n_runs, np.float32), truncated, self.final)


def test_truncation_bootstraps_gamma_times_the_final_value_into_the_reward() -> None:
    agent = BatchedPPO([0, 1], OBS_SHAPE, N_ACTIONS, PPOConfig(n_steps=10), device="cpu")
    env = _ClockEnv(2)
    rollout = agent.collect_rollout(env)
    final_value = agent.value(env.final)
    np.testing.assert_allclose(rollout.rewards[4], 0.99 * final_value, rtol=1e-6)
    np.testing.assert_allclose(rollout.rewards[9], 0.99 * final_value, rtol=1e-6)
    assert np.all(rollout.rewards[[0, 1, 2, 3, 5, 6, 7, 8]] == 0.0)
    assert rollout.dones[4].all() and not rollout.dones[3].any()


def test_sample_actions_inverts_the_cdf() -> None:
    logits = np.log(np.array([[1.0, 1.0, 2.0]] * 4, dtype=np.float32))
    actions = sample_actions(logits, np.array([0.1, 0.3, 0.6, 0.99]))
    assert actions.tolist() == [0, 1, 2, 2]


def _train(seeds: list[int], world_seeds: list[int], n_rollouts: int) -> tuple[BatchedPPO, object]:
    agent = BatchedPPO(seeds, OBS_SHAPE, N_ACTIONS, SMOKE, device="cpu")
    env = LearnerEnv(make_world("grid", ["random-3"] * len(seeds), world_seeds), conditions=["oracle"] * len(seeds), phase=1)
    metrics = agent.learn(env, n_rollouts)
    return agent, metrics


def test_batched_training_equals_training_each_run_alone() -> None:
    seeds, world_seeds = [3, 5, 7], [30, 50, 70]
    batched, metrics = _train(seeds, world_seeds, 2)
    for r, (seed, world_seed) in enumerate(zip(seeds, world_seeds)):
        alone, alone_metrics = _train([seed], [world_seed], 2)
        together = batched.run_state(r)
        for key, value in alone.run_state(0).items():
            np.testing.assert_allclose(together[key], value, atol=1e-5, rtol=1e-5, err_msg=key)
        mine = metrics[metrics["run"] == r].drop(columns="run").reset_index(drop=True)
        np.testing.assert_allclose(
            mine.to_numpy(float), alone_metrics.drop(columns="run").to_numpy(float), atol=1e-4, rtol=1e-4
        )


def test_run_state_round_trip_continues_weights_and_adam_state() -> None:
    agent, _ = _train([1, 2], [10, 20], 1)
    states = [agent.run_state(r) for r in range(2)]
    assert float(states[0]["adam_steps"]) == SMOKE.n_epochs * SMOKE.n_minibatches
    other = BatchedPPO([2, 1], OBS_SHAPE, N_ACTIONS, SMOKE, stream_offset=100, device="cpu")
    other.load_run_states(states[::-1])
    for r, state in enumerate(states[::-1]):
        copied = other.run_state(r)
        assert copied.keys() == state.keys()
        for key, value in state.items():
            np.testing.assert_array_equal(copied[key], value, err_msg=key)
    assert torch.equal(other.optimizer.exp_avg, agent.optimizer.exp_avg.flip(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_gpu_update_matches_cpu() -> None:
    cpu, _ = _train([4], [40], 1)
    agent = BatchedPPO([4], OBS_SHAPE, N_ACTIONS, SMOKE, device="cuda")
    env = LearnerEnv(make_world("grid", ["random-3"], [40]), conditions=["oracle"], phase=1)
    agent.learn(env, 1)
    for key, value in cpu.run_state(0).items():
        np.testing.assert_allclose(agent.run_state(0)[key], value, atol=1e-4, rtol=1e-3, err_msg=key)
