"""PPO with Stable-Baselines3-default semantics, for many independent runs at once.

PAPER.md §4: one environment per run, rollouts of 2,048 steps, minibatches of 64, 10 epochs,
gamma 0.99, GAE lambda 0.95, clip 0.2, no value clipping, per-minibatch advantage
normalisation, entropy coefficient 0, value coefficient 0.5, global gradient-norm clip 0.5 per
run, Adam (eps 1e-5), orthogonal initialisation (sqrt(2) in the body, 0.01 for the logits, 1 for
the value). On truncation the last reward is bootstrapped with gamma * V(final observation), as
SB3 does for time limits.

The ``R`` runs of a batch are stacked (``valint.nets``): each has its own weights, Adam state,
action-sampling and minibatch-shuffling generators, so the result of a run does not depend on
which other runs share its batch (up to floating-point rounding; ``tests/test_ppo.py``).

The module knows nothing about caregivers or the ISR: the environment it is given returns the
reward each run receives.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import torch

from valint.config import PPOConfig
from valint.nets import (
    AdamConfig,
    StackedAdam,
    conv2x2,
    generators_for,
    linear,
    numpy_rngs,
    orthogonal_stack,
)

SQRT2 = math.sqrt(2.0)

# Stream ids keep each purpose's random numbers independent of the others (nets.generators_for).
INIT_STREAM, ACTION_STREAM, SHUFFLE_STREAM = 11, 12, 13


class VectorEnv(Protocol):
    """What the trainer needs of a batch of environments, one per run."""

    def reset(self) -> np.ndarray:
        """Observations ``(R, 9, 9, C)`` uint8."""

    def step(self, actions: np.ndarray) -> StepOutcome:
        """Advance every run's environment by one step."""


class StepOutcome(NamedTuple):
    """One step of every run's environment, as the learner sees it."""

    obs: np.ndarray
    """Next observations ``(R, 9, 9, C)``, already reset where truncated."""
    reward: np.ndarray
    """``(R,)`` float32: the reward each run receives (condition-dependent)."""
    truncated: np.ndarray
    """``(R,)`` bool: the episode hit its time limit."""
    final_obs: np.ndarray
    """The last observation of the finished episode where truncated."""


def policy_shapes(obs_shape: tuple[int, int, int], n_actions: int) -> dict[str, tuple[int, int]]:
    """Matrix shapes ``(fan_in, fan_out)`` of the policy network of PAPER.md §4.

    Conv 4->16->32->64 (2x2, ReLU) on the 9x9 view, flatten (64*6*6 = 2304), Linear 2304->128
    (ReLU) shared by an actor 128->64->64 (Tanh) -> logits and a critic 128->64->64 (Tanh) -> 1.
    """
    h, w, c = obs_shape
    flat = 64 * (h - 3) * (w - 3)
    return {
        "conv1": (4 * c, 16),
        "conv2": (4 * 16, 32),
        "conv3": (4 * 32, 64),
        "fc": (flat, 128),
        "pi1": (128, 64),
        "pi2": (64, 64),
        "pi_out": (64, n_actions),
        "vf1": (128, 64),
        "vf2": (64, 64),
        "vf_out": (64, 1),
    }


GAINS = {"pi_out": 0.01, "vf_out": 1.0}
"""Orthogonal gains that differ from the body's sqrt(2) (SB3's ActorCriticPolicy)."""


def init_policy(
    seeds: Sequence[int], obs_shape: tuple[int, int, int], n_actions: int
) -> dict[str, torch.Tensor]:
    """Freshly initialised stacked policy weights, one set per seed (zero biases)."""
    gens = generators_for(seeds, INIT_STREAM)
    params: dict[str, torch.Tensor] = {}
    for name, shape in policy_shapes(obs_shape, n_actions).items():
        params[f"{name}.w"] = orthogonal_stack(shape, GAINS.get(name, SQRT2), gens)
        params[f"{name}.b"] = torch.zeros(len(seeds), 1, shape[1])
    return params


def policy_forward(
    params: Mapping[str, torch.Tensor], obs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(R, N, A)`` and values ``(R, N)`` for uint8 observations ``(R, N, 9, 9, C)``.

    The observation is scaled by 1/255, as SB3 does for uint8 image spaces (PAPER.md §4).
    """
    p = params
    x = obs.float() / 255.0
    x = torch.relu(conv2x2(x, p["conv1.w"], p["conv1.b"]))
    x = torch.relu(conv2x2(x, p["conv2.w"], p["conv2.b"]))
    x = torch.relu(conv2x2(x, p["conv3.w"], p["conv3.b"]))
    x = x.reshape(x.shape[0], x.shape[1], -1)
    latent = torch.relu(linear(x, p["fc.w"], p["fc.b"]))
    pi = torch.tanh(linear(latent, p["pi1.w"], p["pi1.b"]))
    pi = torch.tanh(linear(pi, p["pi2.w"], p["pi2.b"]))
    logits = linear(pi, p["pi_out.w"], p["pi_out.b"])
    vf = torch.tanh(linear(latent, p["vf1.w"], p["vf1.b"]))
    vf = torch.tanh(linear(vf, p["vf2.w"], p["vf2.b"]))
    values = linear(vf, p["vf_out.w"], p["vf_out.b"]).squeeze(-1)
    return logits, values


@dataclass
class Rollout:
    """One rollout of every run, laid out ``(n_steps, R, ...)`` as in CleanRL."""

    obs: np.ndarray
    actions: np.ndarray
    logprobs: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    last_values: np.ndarray


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    dones: np.ndarray,
    last_values: np.ndarray,
    *,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimates and returns (SB3's ``compute_returns_and_advantage``).

    Args:
        rewards: ``(T, R)``, with the truncation bootstrap already added.
        values: ``(T, R)`` value estimates of the observations acted on.
        dones: ``(T, R)``: step t ended an episode, so step t+1 starts a new one.
        last_values: ``(R,)`` value of the observation after the last step.

    Returns:
        ``(advantages, returns)``, both ``(T, R)`` float32.
    """
    n_steps = rewards.shape[0]
    advantages = np.zeros_like(rewards, dtype=np.float32)
    last_gae = np.zeros(rewards.shape[1], dtype=np.float32)
    for t in reversed(range(n_steps)):
        next_values = last_values if t == n_steps - 1 else values[t + 1]
        next_non_terminal = 1.0 - dones[t].astype(np.float32)
        delta = rewards[t] + gamma * next_values * next_non_terminal - values[t]
        last_gae = delta + gamma * gae_lambda * next_non_terminal * last_gae
        advantages[t] = last_gae
    return advantages, (advantages + values).astype(np.float32)


def sample_actions(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Draw from ``Categorical(logits)`` by inverting the CDF at pre-drawn uniforms.

    Args:
        logits: ``(R, A)``.
        uniforms: ``(R,)`` in [0, 1), one per run, from that run's own generator.
    """
    cdf = torch.softmax(logits.double(), dim=-1).cumsum(dim=-1)
    return (uniforms.double().unsqueeze(-1) >= cdf[:, :-1]).sum(dim=-1)


class BatchedPPO:
    """R independent PPO learners, stacked.

    Args:
        seeds: one seed per run; it fixes the run's initial weights, action sampling and
            minibatch order.
        obs_shape: ``(9, 9, C)``.
        n_actions: size of the discrete action space.
        config: PPO hyperparameters (PAPER.md §4).
        stream_offset: shifts the action and shuffle generators, so that a phase-2 learner
            that starts from a phase-1 state does not replay phase 1's random numbers.
    """

    def __init__(
        self,
        seeds: Sequence[int],
        obs_shape: tuple[int, int, int],
        n_actions: int,
        config: PPOConfig,
        *,
        stream_offset: int = 0,
    ) -> None:
        self.seeds = [int(s) for s in seeds]
        self.n_runs = len(self.seeds)
        self.obs_shape = tuple(obs_shape)
        self.n_actions = n_actions
        self.config = config
        self.params = init_policy(self.seeds, self.obs_shape, n_actions)
        for p in self.params.values():
            p.requires_grad_(True)
        self.optimizer = StackedAdam(
            self.params,
            AdamConfig(
                learning_rate=config.learning_rate,
                eps=config.adam_eps,
                max_grad_norm=config.max_grad_norm,
            ),
        )
        self.action_rngs = numpy_rngs(self.seeds, ACTION_STREAM + stream_offset)
        self.shuffle_rngs = numpy_rngs(self.seeds, SHUFFLE_STREAM + stream_offset)
        self._obs: np.ndarray | None = None

    # ---- per-run state, to hand a phase-1 learner over to phase 2 ----------------------------

    def run_state(self, r: int) -> dict[str, np.ndarray]:
        """Run r's weights and Adam state as numpy arrays."""
        state = {f"w/{k}": v[r].detach().numpy().copy() for k, v in self.params.items()}
        return state | self.optimizer.run_state(r)

    def load_run_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Start every run from a saved ``run_state`` (one per run, in run order)."""
        assert len(states) == self.n_runs, f"need {self.n_runs} states, got {len(states)}"
        with torch.no_grad():
            for r, state in enumerate(states):
                for k, v in self.params.items():
                    v[r] = torch.from_numpy(np.asarray(state[f"w/{k}"]))
        self.optimizer.load_run_states(states)

    # ---- acting --------------------------------------------------------------------------

    @torch.no_grad()
    def act_greedy(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions for observations ``(R, N, 9, 9, C)``: ``(R, N)`` int64."""
        logits, _ = policy_forward(self.params, torch.from_numpy(obs))
        return logits.argmax(dim=-1).numpy()

    @torch.no_grad()
    def value(self, obs: np.ndarray) -> np.ndarray:
        """Value estimates ``(R,)`` for one observation per run ``(R, 9, 9, C)``."""
        _, values = policy_forward(self.params, torch.from_numpy(obs[:, None]))
        return values[:, 0].numpy()

    # ---- the algorithm -------------------------------------------------------------------

    @torch.no_grad()
    def collect_rollout(self, env: VectorEnv) -> Rollout:
        """Run every run's environment for ``n_steps`` with the current stochastic policy."""
        cfg = self.config
        if self._obs is None:
            self._obs = env.reset()
        n, r = cfg.n_steps, self.n_runs
        obs_buf = np.empty((n, r) + self.obs_shape, dtype=np.uint8)
        actions = np.empty((n, r), dtype=np.int64)
        logprobs = np.empty((n, r), dtype=np.float32)
        values = np.empty((n, r), dtype=np.float32)
        rewards = np.empty((n, r), dtype=np.float32)
        dones = np.empty((n, r), dtype=bool)
        uniforms = torch.from_numpy(np.stack([g.random(n) for g in self.action_rngs], axis=1))
        obs = self._obs
        for t in range(n):
            obs_buf[t] = obs
            logits, value = policy_forward(self.params, torch.from_numpy(obs[:, None]))
            logits = logits[:, 0]
            action = sample_actions(logits, uniforms[t])
            logprobs[t] = torch.log_softmax(logits, dim=-1).gather(1, action[:, None])[:, 0]
            values[t] = value[:, 0]
            actions[t] = action.numpy()
            outcome = env.step(actions[t])
            reward = outcome.reward.astype(np.float32)
            if outcome.truncated.any():
                bootstrap = self.value(outcome.final_obs)
                reward = reward + np.where(outcome.truncated, cfg.gamma * bootstrap, 0.0)
            rewards[t] = reward
            dones[t] = outcome.truncated
            obs = outcome.obs
        self._obs = obs
        return Rollout(obs_buf, actions, logprobs, values, rewards, dones, self.value(obs))

    def update(self, rollout: Rollout) -> pd.DataFrame:
        """PPO's clipped-surrogate update, ``n_epochs`` over shuffled minibatches.

        Returns:
            One row per run with CleanRL's ``losses/...`` metrics of the last epoch.
        """
        cfg = self.config
        advantages, returns = compute_gae(
            rollout.rewards,
            rollout.values,
            rollout.dones,
            rollout.last_values,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
        )
        # (T, R, ...) -> (R, T, ...): the run axis leads in every stacked computation.
        b_obs = torch.from_numpy(np.ascontiguousarray(rollout.obs.swapaxes(0, 1)))
        b_actions = torch.from_numpy(rollout.actions.T.copy())
        b_logprobs = torch.from_numpy(rollout.logprobs.T.copy())
        b_advantages = torch.from_numpy(advantages.T.copy())
        b_returns = torch.from_numpy(returns.T.copy())
        run_index = torch.arange(self.n_runs)[:, None]
        stats = {k: torch.zeros(self.n_runs) for k in ("pg_loss", "v_loss", "approx_kl", "clipfrac")}
        for _ in range(cfg.n_epochs):
            perms = torch.from_numpy(
                np.stack([g.permutation(cfg.n_steps) for g in self.shuffle_rngs])
            )
            for start in range(0, cfg.n_steps, cfg.batch_size):
                mb_inds = perms[:, start : start + cfg.batch_size]
                stats = self._minibatch_step(
                    b_obs[run_index, mb_inds],
                    b_actions[run_index, mb_inds],
                    b_logprobs[run_index, mb_inds],
                    b_advantages[run_index, mb_inds],
                    b_returns[run_index, mb_inds],
                )
        explained = 1.0 - np.var(returns - rollout.values, axis=0) / np.maximum(
            np.var(returns, axis=0), 1e-12
        )
        return pd.DataFrame(
            {
                "run": np.arange(self.n_runs),
                "losses/policy_loss": stats["pg_loss"].numpy(),
                "losses/value_loss": stats["v_loss"].numpy(),
                "losses/approx_kl": stats["approx_kl"].numpy(),
                "losses/clipfrac": stats["clipfrac"].numpy(),
                "losses/explained_variance": explained,
            }
        )

    def _minibatch_step(
        self,
        mb_obs: torch.Tensor,
        mb_actions: torch.Tensor,
        mb_logprobs: torch.Tensor,
        mb_advantages: torch.Tensor,
        mb_returns: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        cfg = self.config
        logits, newvalue = policy_forward(self.params, mb_obs)
        log_probs_all = torch.log_softmax(logits, dim=-1)
        newlogprob = log_probs_all.gather(-1, mb_actions.unsqueeze(-1)).squeeze(-1)
        logratio = newlogprob - mb_logprobs
        ratio = logratio.exp()
        # per-minibatch advantage normalisation, as SB3 (unbiased std)
        mb_advantages = (mb_advantages - mb_advantages.mean(dim=1, keepdim=True)) / (
            mb_advantages.std(dim=1, keepdim=True) + 1e-8
        )
        pg_loss1 = mb_advantages * ratio
        pg_loss2 = mb_advantages * torch.clamp(ratio, 1 - cfg.clip_range, 1 + cfg.clip_range)
        pg_loss = -torch.min(pg_loss1, pg_loss2).mean(dim=1)
        v_loss = (mb_returns - newvalue).pow(2).mean(dim=1)
        loss_per_run = pg_loss + cfg.vf_coef * v_loss
        if cfg.ent_coef:
            entropy = -(log_probs_all.exp() * log_probs_all).sum(-1).mean(dim=1)
            loss_per_run = loss_per_run - cfg.ent_coef * entropy
        self.optimizer.zero_grad()
        # the sum keeps each run's gradient its own
        loss_per_run.sum().backward()
        self.optimizer.step()
        with torch.no_grad():
            # approx_kl: http://joschu.net/blog/kl-approx.html
            approx_kl = ((ratio - 1) - logratio).mean(dim=1)
            clipfrac = ((ratio - 1.0).abs() > cfg.clip_range).float().mean(dim=1)
        return {
            "pg_loss": pg_loss.detach(),
            "v_loss": v_loss.detach(),
            "approx_kl": approx_kl,
            "clipfrac": clipfrac,
        }

    def learn(
        self,
        env: VectorEnv,
        n_rollouts: int,
        *,
        callback: Callable[[int, Rollout], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> pd.DataFrame:
        """Alternate rollouts and updates ``n_rollouts`` times.

        Args:
            env: one environment per run.
            n_rollouts: number of rollout/update iterations.
            callback: called after each update with (iteration, rollout).
            progress: called with the number of environment steps done per iteration.

        Returns:
            The ``losses/...`` metrics of every iteration (columns ``iteration``, ``run``, ...).
        """
        frames = []
        for iteration in range(n_rollouts):
            rollout = self.collect_rollout(env)
            metrics = self.update(rollout)
            metrics.insert(0, "iteration", iteration)
            frames.append(metrics)
            if callback is not None:
                callback(iteration, rollout)
            if progress is not None:
                progress(self.config.n_steps)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
