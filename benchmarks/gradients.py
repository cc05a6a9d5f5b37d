"""One PPO minibatch gradient three ways: the case for valint's hand-written backward pass.

valint trains its stacked policies through ``valint.ppo.PolicyKernel`` and
``valint.ppo.ppo_loss_grads``: the layers' backward pass and the loss's gradient written out by
hand, on reused buffers (``valint.nets.SequentialKernel``). The alternatives a reader would
reach for compute the same numbers from the plain statement of the network
(``valint.ppo.policy_forward``) and of the loss (``valint.ppo.ppo_loss``):

- ``torch.func``: ``vmap(grad(loss of one run))`` over the runs of the stack;
- ``autograd``: the summed loss of all runs on the stacked weights, ``.backward()``.

:func:`time_gradients` times one minibatch gradient of each (ten runs of 64 samples, the
paper's sweep and minibatch size, PAPER.md §4, §6) on the same weights and data, so that every
build re-measures whether the hand-written kernel still pays for itself. The optimizer step,
the same for all three, is not part of it.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from valint.config import PPOConfig
from valint.envs import N_ACTIONS, OBS_SHAPE
from valint.nets import ParamStack, flushed_denormals, torch_threads
from valint.ppo import IMAGE_OBS_SCALE, PolicyKernel, init_policy, policy_forward, ppo_loss, ppo_loss_grads

METHODS = ("kernel", "torch.func", "autograd")
"""The ways of computing the gradient, in the order the report shows them."""
LABELS = {
    "kernel": "hand-written stacked kernel (valint)",
    "torch.func": "torch.func vmap(grad(loss))",
    "autograd": "torch autograd, stacked weights",
}


@dataclass(frozen=True)
class Minibatch:
    """One minibatch of every run: stacked weights and the tensors of ``valint.ppo.ppo_loss``."""

    params: dict[str, torch.Tensor]
    """``(R, ...)`` policy weights (``valint.ppo.init_policy``)."""
    x: torch.Tensor
    """``(R, N, 9, 9, C)`` observations, already scaled as in training."""
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    @property
    def shape(self) -> tuple[int, int]:
        """``(R, N)``: runs and samples per run."""
        n_runs, n = self.actions.shape
        return n_runs, n


def minibatch(n_runs: int = 10, batch: int = 64, *, seed: int = 0) -> Minibatch:
    """A random minibatch of ``n_runs`` freshly initialised policies in the single-agent world."""
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randint(0, 11, (n_runs, batch, *OBS_SHAPE), generator=gen, dtype=torch.uint8)
    return Minibatch(
        params=init_policy(range(seed, seed + n_runs), OBS_SHAPE, N_ACTIONS),
        x=obs.float() / (1.0 / IMAGE_OBS_SCALE),
        actions=torch.randint(0, N_ACTIONS, (n_runs, batch), generator=gen),
        # old log-probabilities near the new ones, as after a few minibatches of an epoch
        logprobs=math.log(1 / N_ACTIONS) + 0.3 * torch.randn(n_runs, batch, generator=gen),
        advantages=torch.randn(n_runs, batch, generator=gen),
        returns=torch.randn(n_runs, batch, generator=gen),
    )


def kernel_gradient(case: Minibatch, config: PPOConfig) -> Callable[[], dict[str, torch.Tensor]]:
    """The gradient as valint trains: ``PolicyKernel`` forward, ``ppo_loss_grads``, backward."""
    n_runs, n = case.shape
    stack = ParamStack.from_tensors(case.params)
    kernel = PolicyKernel(stack, OBS_SHAPE)
    rows = case.x.reshape(n_runs * n, -1).contiguous()

    def step() -> dict[str, torch.Tensor]:
        logits, values = kernel.forward(rows, n)
        dlogits, dvalues, _ = ppo_loss_grads(
            logits, values, case.actions, case.logprobs, case.advantages, case.returns, config
        )
        kernel.backward(dlogits, dvalues)
        return stack.grads

    return step


def autograd_gradient(case: Minibatch, config: PPOConfig) -> Callable[[], dict[str, torch.Tensor]]:
    """The gradient by autograd of ``ppo_loss`` summed over the runs, on the stacked weights."""
    params = {k: v.clone().requires_grad_(True) for k, v in case.params.items()}

    def step() -> dict[str, torch.Tensor]:
        logits, values = policy_forward(params, case.x, obs_scale=1.0)
        terms = ppo_loss(logits, values, case.actions, case.logprobs, case.advantages, case.returns, config)
        grads = torch.autograd.grad(terms.loss.sum(), list(params.values()))
        return dict(zip(params, grads))

    return step


def func_gradient(case: Minibatch, config: PPOConfig) -> Callable[[], dict[str, torch.Tensor]]:
    """The gradient by ``torch.func.vmap(torch.func.grad(loss of one run))`` over the runs."""
    from torch.func import grad, vmap

    def one_run(params, x, actions, logprobs, advantages, returns) -> torch.Tensor:
        one = {k: v.unsqueeze(0) for k, v in params.items()}
        logits, values = policy_forward(one, x.unsqueeze(0), obs_scale=1.0)
        terms = ppo_loss(logits, values, actions.unsqueeze(0), logprobs.unsqueeze(0),
                         advantages.unsqueeze(0), returns.unsqueeze(0), config)
        return terms.loss.sum()

    per_run = vmap(grad(one_run))

    def step() -> dict[str, torch.Tensor]:
        return per_run(case.params, case.x, case.actions, case.logprobs, case.advantages, case.returns)

    return step


GRADIENTS = {"kernel": kernel_gradient, "torch.func": func_gradient, "autograd": autograd_gradient}


def time_gradients(
    threads: int = 1, *, n_runs: int = 10, batch: int | None = None, seconds: float = 1.5,
    config: PPOConfig | None = None,
) -> dict[str, float]:
    """Seconds per minibatch gradient of each of :data:`METHODS`, on ``threads`` torch threads.

    After one warm-up call each, every method is timed in five spells, interleaved with the
    other methods' so that a slow spell of the machine hits all of them alike; the best spell
    counts (one slowed by another program does not). Subnormals are flushed, as in training
    (``valint.nets.flushed_denormals``).

    Args:
        threads: torch threads.
        n_runs: stacked runs (the ten seeds of a condition by default).
        batch: samples per run; ``PPOConfig().batch_size`` (64) by default.
        seconds: measuring time of all methods together.
        config: the loss's coefficients (``PPOConfig()`` by default).
    """
    config = config or PPOConfig()
    case = minibatch(n_runs, batch or config.batch_size)
    best = {name: math.inf for name in METHODS}
    with torch_threads(threads), flushed_denormals():
        steps = {name: GRADIENTS[name](case, config) for name in METHODS}
        for step in steps.values():
            step()
        spell = seconds / (5 * len(steps))
        for _ in range(5):
            for name, step in steps.items():
                count, start = 0, time.perf_counter()
                while (elapsed := time.perf_counter() - start) < spell:
                    step()
                    count += 1
                best[name] = min(best[name], elapsed / count)
    return best
