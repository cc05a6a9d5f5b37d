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

The network is described once, in ``valint.networks.policy_network``; the loss is written
once, in :func:`ppo_loss`. Training does not go through autograd: :class:`PolicyKernel` runs
the network with preallocated buffers and a hand-written backward pass, and
:func:`ppo_loss_grads` is the loss's gradient written out by hand (``tests/test_ppo.py`` checks
both against autograd of :func:`ppo_loss` on :func:`policy_forward`; ``python -m valint bench``
times the three ways side by side). The device is chosen by ``valint.nets.select_device`` (a
CUDA GPU when there is one, else the CPU; the ``VALINT_DEVICE`` environment variable or the
``device`` argument overrides it).

The module knows nothing about caregivers or the ISR: the environment it is given returns the
reward each run receives.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import torch

from valint.config import PPOConfig
from valint.nets import (
    AdamConfig,
    ParamStack,
    StackedAdam,
    Workspace,
    flushed_denormals,
    generators_for,
    numpy_rngs,
    select_device,
)
from valint.networks import policy_network

IMAGE_OBS_SCALE = 1.0 / 255.0
"""SB3's scaling of uint8 image observations, the single-agent world's (PAPER.md §4). A world
whose observation is not an image is fed with its own ``obs_scale`` (two-agent world: 1,
PAPER.md §7)."""

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


def init_policy(
    seeds: Sequence[int], obs_shape: tuple[int, int, int], n_actions: int
) -> dict[str, torch.Tensor]:
    """Freshly initialised stacked policy weights, one set per seed (``valint.networks``:
    orthogonal, gain sqrt(2) in the body, 0.01 for the logits, 1 for the value; zero biases)."""
    return policy_network(n_actions).init(obs_shape, generators_for(seeds, INIT_STREAM))


def policy_forward(
    params: Mapping[str, torch.Tensor], obs: torch.Tensor, *, obs_scale: float = IMAGE_OBS_SCALE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(R, N, A)`` and values ``(R, N)`` for uint8 observations ``(R, N, 9, 9, C)``.

    The observation is multiplied by the world's ``obs_scale``: 1/255 by default, as SB3 does
    for uint8 image spaces (PAPER.md §4); 1 for the two-agent world (PAPER.md §7). Then the
    network of ``valint.networks.policy_network`` (its plain, differentiable statement,
    ``Network.forward``); the trainer runs the same function through :class:`PolicyKernel`. It
    computes on the parameters' device and returns its results on the observations' device (so
    CPU callers get CPU tensors from a GPU learner).
    """
    x = obs.to(params["conv1.w"].device).float() / (1.0 / obs_scale)
    out = policy_network(params["pi_out.w"].shape[-1]).forward(params, x)
    return out["pi"].to(obs.device), out["vf"].squeeze(-1).to(obs.device)


class PolicyKernel:
    """The policy network of PAPER.md §4 with a hand-written backward pass.

    Computes the same function as :func:`policy_forward` on a :class:`ParamStack` as the three
    ``valint.nets.SequentialKernel`` chains of ``valint.networks.policy_network`` (the shared
    body, the actor head, the critic head), keeping the activations of the last forward pass in
    reused buffers, and writes the weight gradient of a loss into ``stack.grad`` given the
    loss's gradient with respect to the logits and values.

    Args:
        stack: the stacked policy parameters (names as :func:`init_policy`).
        obs_shape: ``(H, W, C)`` of one observation.
        obs_scale: the world's observation scale (:func:`policy_forward`).
    """

    def __init__(
        self, stack: ParamStack, obs_shape: tuple[int, int, int], *, obs_scale: float = IMAGE_OBS_SCALE
    ) -> None:
        self.n_runs = stack.n_runs
        self.ws = Workspace(stack.flat.device)
        # dividing by 255 (not multiplying by 1/255) keeps SB3's rounding
        self._divisor = torch.tensor(1.0 / obs_scale, device=stack.flat.device)
        network = policy_network(stack.shapes["pi_out.w"][-1])
        chains = network.kernels(stack.params, stack.grads, obs_shape, self.ws)
        self.body, self.actor, self.critic = chains["body"], chains["pi"], chains["vf"]

    def scale(self, obs: torch.Tensor, mode: str = "train") -> torch.Tensor:
        """Observations ``(M, H * W * C)`` uint8 as float, times the world's ``obs_scale``
        (1/255 for images as SB3, PAPER.md §4; 1 in the two-agent world, PAPER.md §7)."""
        return torch.div(obs, self._divisor, out=self.ws.get(f"x{mode}", tuple(obs.shape)))

    def forward(self, x: torch.Tensor, n: int, mode: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(R, N, A)`` and values ``(R, N, 1)`` of scaled observations.

        Args:
            x: ``(R * N, H * W * C)`` float observations from :meth:`scale` (run-major).
            n: samples per run, ``N``.
            mode: names the set of buffers (acting and training keep theirs apart).
        """
        latent = self.body.forward(x, n, mode)
        return self.actor.forward(latent, n, mode), self.critic.forward(latent, n, mode)

    def backward(self, dlogits: torch.Tensor, dvalues: torch.Tensor) -> None:
        """Write into ``stack.grad`` the gradient of a loss, given its gradient with respect to
        the logits ``(R, N, A)`` and values ``(R, N, 1)`` of the last training forward pass."""
        dlatent = self.actor.backward(dlogits, input_grad=True)
        dlatent.add_(self.critic.backward(dvalues, input_grad=True))
        self.body.backward(dlatent)


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


def sample_actions(logits: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Draw from ``Categorical(logits)`` by inverting the CDF at pre-drawn uniforms.

    The softmax is taken in float64, so that the draw depends on the logits, not on how they
    were batched.

    Args:
        logits: ``(R, A)``.
        uniforms: ``(R,)`` in [0, 1), one per run, from that run's own generator.

    Returns:
        ``(R,)`` int64 actions.
    """
    z = logits.astype(np.float64)
    probs = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=-1, keepdims=True), axis=-1)
    return (uniforms[:, None] >= cdf[:, :-1]).sum(axis=-1)


class PPOLoss(NamedTuple):
    """One minibatch's PPO loss of every run and its parts, each ``(R,)`` (CleanRL's names)."""

    loss: torch.Tensor
    pg_loss: torch.Tensor
    v_loss: torch.Tensor
    entropy: torch.Tensor
    approx_kl: torch.Tensor
    clipfrac: torch.Tensor


def ppo_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    mb_actions: torch.Tensor,
    mb_logprobs: torch.Tensor,
    mb_advantages: torch.Tensor,
    mb_returns: torch.Tensor,
    config: PPOConfig,
) -> PPOLoss:
    """Each run's PPO loss on its minibatch, as Stable-Baselines3 and CleanRL write it (PAPER.md §4).

    ``loss = pg_loss + vf_coef * v_loss - ent_coef * entropy``: the clipped surrogate on
    advantages normalised per minibatch (unbiased std; not when the minibatch has one sample, as
    SB3), the squared error of the values (no value clipping, SB3's default) and the entropy of
    the policy. Training descends it through :func:`ppo_loss_grads`, its gradient written out
    by hand; ``tests/test_ppo.py`` checks that gradient against autograd of this function, and
    ``python -m valint bench`` times autograd of it beside the hand-written one.

    Args:
        logits: ``(R, N, A)``; values: ``(R, N)`` or ``(R, N, 1)``.
        mb_actions: ``(R, N)`` int64; mb_logprobs, mb_advantages, mb_returns: ``(R, N)``.
        config: the PPO coefficients.
    """
    n = logits.shape[1]
    values = values.reshape(mb_returns.shape)
    logp_all = torch.log_softmax(logits, dim=-1)
    newlogprob = logp_all.gather(-1, mb_actions.unsqueeze(-1)).squeeze(-1)
    logratio = newlogprob - mb_logprobs
    ratio = logratio.exp()
    adv = mb_advantages
    if n > 1:
        adv = (adv - adv.mean(dim=1, keepdim=True)) / (adv.std(dim=1, keepdim=True) + 1e-8)
    pg_loss1 = adv * ratio
    pg_loss2 = adv * torch.clamp(ratio, 1 - config.clip_range, 1 + config.clip_range)
    pg_loss = -torch.min(pg_loss1, pg_loss2).mean(dim=1)
    v_loss = (mb_returns - values).pow(2).mean(dim=1)
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean(dim=1)
    return PPOLoss(
        loss=pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy,
        pg_loss=pg_loss,
        v_loss=v_loss,
        entropy=entropy,
        # approx_kl: http://joschu.net/blog/kl-approx.html
        approx_kl=((ratio - 1) - logratio).mean(dim=1),
        clipfrac=((ratio - 1.0).abs() > config.clip_range).float().mean(dim=1),
    )


def ppo_loss_grads(
    logits: torch.Tensor,
    values: torch.Tensor,
    mb_actions: torch.Tensor,
    mb_logprobs: torch.Tensor,
    mb_advantages: torch.Tensor,
    mb_returns: torch.Tensor,
    config: PPOConfig,
    *,
    with_stats: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Gradient of each run's :func:`ppo_loss` with respect to its logits and values.

    Derived by hand from the formula: where ``A * ratio <= A * clip(ratio)`` the minimum passes
    the unclipped term's gradient (on ties, the two halves autograd passes add up to the same),
    elsewhere the clipped term's, which is 0; ``d ratio / d newlogprob = ratio``, ``d newlogprob
    / d logits = onehot(action) - softmax(logits)``; the entropy's gradient is ``-p * (log p +
    H)``; the value term's ``2 * vf_coef * (values - returns) / N``.

    Args:
        logits, values, mb_actions, mb_logprobs, mb_advantages, mb_returns, config: as for
            :func:`ppo_loss`.
        with_stats: also return the per-run parts of :func:`ppo_loss` (``pg_loss``,
            ``v_loss``, ``approx_kl``, ``clipfrac``, ...: CleanRL's logged metrics).

    Returns:
        ``(dlogits (R, N, A), dvalues (R, N, 1), stats)``.
    """
    n = logits.shape[1]
    values = values.reshape(mb_returns.shape)
    logp_all = torch.log_softmax(logits, dim=-1)
    newlogprob = logp_all.gather(-1, mb_actions.unsqueeze(-1)).squeeze(-1)
    ratio = (newlogprob - mb_logprobs).exp()
    adv = mb_advantages
    if n > 1:
        adv = (adv - adv.mean(dim=1, keepdim=True)) / (adv.std(dim=1, keepdim=True) + 1e-8)
    pg_loss1 = adv * ratio
    pg_loss2 = adv * torch.clamp(ratio, 1 - config.clip_range, 1 + config.clip_range)
    dnewlogprob = (pg_loss1 <= pg_loss2) * adv * ratio * (-1.0 / n)
    probs = logp_all.exp()
    dlogits = probs * -dnewlogprob.unsqueeze(-1)
    dlogits.scatter_add_(-1, mb_actions.unsqueeze(-1), dnewlogprob.unsqueeze(-1))
    if config.ent_coef:
        entropy = -(probs * logp_all).sum(-1, keepdim=True)
        dlogits.add_(probs * (logp_all + entropy), alpha=config.ent_coef / n)
    dvalues = ((values - mb_returns) * (2.0 * config.vf_coef / n)).unsqueeze(-1)
    stats: dict[str, torch.Tensor] = {}
    if with_stats:
        terms = ppo_loss(logits, values, mb_actions, mb_logprobs, mb_advantages, mb_returns, config)
        stats = terms._asdict()
    return dlogits, dvalues, stats


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
        obs_scale: the factor applied to the world's observations (the world's
            ``obs_scale``: 1/255 for the single-agent images, 1 for the two-agent world).
        device: where the networks live (``valint.nets.select_device``: a CUDA GPU when there
            is one unless ``VALINT_DEVICE`` says otherwise).
    """

    def __init__(
        self,
        seeds: Sequence[int],
        obs_shape: tuple[int, int, int],
        n_actions: int,
        config: PPOConfig,
        *,
        stream_offset: int = 0,
        obs_scale: float = IMAGE_OBS_SCALE,
        device: str | torch.device | None = None,
    ) -> None:
        self.seeds = [int(s) for s in seeds]
        self.obs_scale = float(obs_scale)
        self.n_runs = len(self.seeds)
        self.obs_shape = tuple(obs_shape)
        self.n_actions = n_actions
        self.config = config
        self.device = select_device(device)
        self.stack = ParamStack.from_tensors(
            init_policy(self.seeds, self.obs_shape, n_actions), device=self.device
        )
        self.params = self.stack.params
        self.kernel = PolicyKernel(self.stack, self.obs_shape, obs_scale=self.obs_scale)
        self.optimizer = StackedAdam(
            self.stack,
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
        state = {f"w/{k}": v for k, v in self.stack.run_params(r).items()}
        return state | self.optimizer.run_state(r)

    def load_run_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Start every run from a saved ``run_state`` (one per run, in run order)."""
        assert len(states) == self.n_runs, f"need {self.n_runs} states, got {len(states)}"
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(torch.from_numpy(np.stack([np.asarray(s[f"w/{k}"]) for s in states])))
        self.optimizer.load_run_states(states)

    # ---- acting --------------------------------------------------------------------------

    @torch.no_grad()
    def _forward_obs(self, obs: np.ndarray, tag: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(R, N, A)`` and values ``(R, N, 1)`` for observations ``(R, N, H, W, C)``."""
        flat = torch.from_numpy(np.ascontiguousarray(obs).reshape(obs.shape[0] * obs.shape[1], -1))
        if self.device.type != "cpu":
            flat = flat.to(self.device)
        return self.kernel.forward(self.kernel.scale(flat, tag), obs.shape[1], tag)

    def act_greedy(self, obs: np.ndarray) -> np.ndarray:
        """Greedy actions for observations ``(R, N, 9, 9, C)``: ``(R, N)`` int64."""
        logits, _ = self._forward_obs(obs, "eval")
        return logits.argmax(dim=-1).cpu().numpy()

    def value(self, obs: np.ndarray) -> np.ndarray:
        """Value estimates ``(R,)`` for one observation per run ``(R, 9, 9, C)``."""
        _, values = self._forward_obs(obs[:, None], "value")
        return values[:, 0, 0].cpu().numpy()

    # ---- the algorithm -------------------------------------------------------------------

    @torch.no_grad()
    @flushed_denormals()
    def collect_rollout(self, env: VectorEnv) -> Rollout:
        """Run every run's environment for ``n_steps`` with the current stochastic policy."""
        cfg = self.config
        if self._obs is None:
            self._obs = env.reset()
        n, r = cfg.n_steps, self.n_runs
        obs_buf = np.empty((n, r) + self.obs_shape, dtype=np.uint8)
        actions = np.empty((n, r), dtype=np.int64)
        rewards = np.empty((n, r), dtype=np.float32)
        dones = np.empty((n, r), dtype=bool)
        logits_buf = np.empty((n, r, self.n_actions), dtype=np.float32)
        values = np.empty((n, r), dtype=np.float32)
        uniforms = np.stack([g.random(n) for g in self.action_rngs], axis=1)
        obs = self._obs
        for t in range(n):
            obs_buf[t] = obs
            logits, value = self._forward_obs(obs[:, None], "act")
            logits_buf[t] = logits.cpu().numpy()[:, 0]
            values[t] = value.cpu().numpy()[:, 0, 0]
            actions[t] = sample_actions(logits_buf[t], uniforms[t])
            outcome = env.step(actions[t])
            reward = outcome.reward.astype(np.float32)
            if outcome.truncated.any():
                bootstrap = self.value(outcome.final_obs)
                reward = reward + np.where(outcome.truncated, cfg.gamma * bootstrap, 0.0)
            rewards[t] = reward
            dones[t] = outcome.truncated
            obs = outcome.obs
        self._obs = obs
        taken = torch.from_numpy(actions).unsqueeze(-1)
        logprobs = torch.log_softmax(torch.from_numpy(logits_buf), dim=-1).gather(-1, taken).squeeze(-1)
        return Rollout(obs_buf, actions, logprobs.numpy(), values, rewards, dones, self.value(obs))

    @flushed_denormals()
    def update(self, rollout: Rollout) -> pd.DataFrame:
        """PPO's clipped-surrogate update, ``n_epochs`` over shuffled minibatches.

        Returns:
            One row per run with CleanRL's ``losses/...`` metrics of the last minibatch.
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
        n_runs, n_steps = self.n_runs, cfg.n_steps
        dev = self.device
        # (T, R, ...) -> (R * T, ...): run-major rows, so a minibatch is one index_select.
        b_obs = self.kernel.scale(
            torch.from_numpy(
                np.ascontiguousarray(rollout.obs.swapaxes(0, 1)).reshape(n_runs * n_steps, -1)
            ).to(dev),
            "rollout",
        )
        b_actions = torch.from_numpy(np.ascontiguousarray(rollout.actions.T).reshape(-1)).to(dev)
        b_scalars = torch.from_numpy(
            np.stack([rollout.logprobs.T, advantages.T, returns.T], axis=-1).reshape(-1, 3)
        ).to(dev)
        run_offsets = (np.arange(n_runs) * n_steps)[:, None]
        stats: dict[str, torch.Tensor] = {}
        for epoch in range(cfg.n_epochs):
            perms = np.stack([g.permutation(n_steps) for g in self.shuffle_rngs]) + run_offsets
            perms = torch.from_numpy(perms).to(dev)
            for start in range(0, n_steps, cfg.batch_size):
                mb_inds = perms[:, start : start + cfg.batch_size]
                last = epoch == cfg.n_epochs - 1 and start + cfg.batch_size >= n_steps
                step_stats = self._minibatch_step(b_obs, b_actions, b_scalars, mb_inds, last)
                if last:
                    stats = step_stats
        explained = 1.0 - np.var(returns - rollout.values, axis=0) / np.maximum(
            np.var(returns, axis=0), 1e-12
        )
        return pd.DataFrame(
            {
                "run": np.arange(self.n_runs),
                "losses/policy_loss": stats["pg_loss"].cpu().numpy(),
                "losses/value_loss": stats["v_loss"].cpu().numpy(),
                "losses/approx_kl": stats["approx_kl"].cpu().numpy(),
                "losses/clipfrac": stats["clipfrac"].cpu().numpy(),
                "losses/explained_variance": explained,
            }
        )

    def _minibatch_step(
        self,
        b_obs: torch.Tensor,
        b_actions: torch.Tensor,
        b_scalars: torch.Tensor,
        mb_inds: torch.Tensor,
        with_stats: bool,
    ) -> dict[str, torch.Tensor]:
        """One clipped-surrogate gradient step of every run on its minibatch ``mb_inds (R, B)``
        (row indices into the ``b_...`` tensors)."""
        n_runs, batch = mb_inds.shape
        index = mb_inds.reshape(-1)
        kernel = self.kernel
        rows = torch.index_select(b_obs, 0, index, out=kernel.ws.get("mb_obs", (index.numel(), b_obs.shape[1])))
        scalars = b_scalars.index_select(0, index).view(n_runs, batch, 3)
        mb_actions = b_actions.index_select(0, index).view(n_runs, batch)
        logits, values = kernel.forward(rows, batch)
        dlogits, dvalues, stats = ppo_loss_grads(
            logits,
            values,
            mb_actions,
            scalars[..., 0],
            scalars[..., 1],
            scalars[..., 2],
            self.config,
            with_stats=with_stats,
        )
        kernel.backward(dlogits, dvalues)
        self.optimizer.step()
        return stats

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
