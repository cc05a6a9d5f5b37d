"""Stacked networks: many independent copies of one network trained as one batch.

Every run of a figure (seeds x conditions, and layouts for Fig. 5) owns its own weights, its own
Adam state and its own gradient clipping, exactly as if it were trained alone. Here the weights
of ``R`` runs are stacked along a leading run axis, and each layer is a batched matrix multiply
(``torch.baddbmm``), so the Python interpreter runs once per layer, not once per run.

The 2x2 convolutions of PAPER.md §4 are written as im2col: the four shifted views of a
channels-last feature map are concatenated, then multiplied with a ``(4 * C_in, C_out)`` matrix
per run. This is the same function as ``torch.nn.Conv2d(C_in, C_out, 2)`` (see
``conv_weight_to_matrix``), tested against it in ``tests/test_nets.py``.

Because the loss of the whole batch is the *sum* of the runs' losses, the gradient that reaches
run r's weights is exactly run r's own gradient; Adam is element-wise, and gradient clipping is
done per run. Training R runs together therefore equals training them one at a time, up to
floating-point rounding.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch


def orthogonal_stack(
    shape: tuple[int, int], gains: Sequence[float] | float, generators: Sequence[torch.Generator]
) -> torch.Tensor:
    """Orthogonally initialised ``(fan_in, fan_out)`` matrices, one per run.

    The same distribution as ``torch.nn.init.orthogonal_`` on a ``(fan_out, fan_in)`` weight
    (Stable-Baselines3's initialisation, PAPER.md §4), drawn from each run's own generator.

    Args:
        shape: ``(fan_in, fan_out)`` of one run's matrix.
        gains: the gain (sqrt(2) in the body, 0.01 for policy logits, 1 for the value head).
        generators: one seeded ``torch.Generator`` per run.

    Returns:
        A float32 tensor of shape ``(R, fan_in, fan_out)``.
    """
    fan_in, fan_out = shape
    if isinstance(gains, (int, float)):
        gains = [float(gains)] * len(generators)
    out = torch.empty(len(generators), fan_in, fan_out)
    for r, (gen, gain) in enumerate(zip(generators, gains)):
        weight = torch.empty(fan_out, fan_in)
        rows, cols = weight.shape
        flat = torch.randn(rows, cols, generator=gen)
        if rows < cols:
            flat = flat.t()
        q, upper = torch.linalg.qr(flat)
        q = q * torch.sign(torch.diagonal(upper))
        if rows < cols:
            q = q.t()
        out[r] = (q * gain).t()
    return out


def conv_weight_to_matrix(weight: torch.Tensor) -> torch.Tensor:
    """Map a ``Conv2d`` weight ``(C_out, C_in, 2, 2)`` to the im2col matrix ``(4 * C_in, C_out)``.

    Row ``(dy * 2 + dx) * C_in + c`` holds ``weight[:, c, dy, dx]``, matching ``im2col_2x2``.
    """
    c_out, c_in, kh, kw = weight.shape
    assert (kh, kw) == (2, 2), f"only 2x2 kernels are used (PAPER.md §4), got {(kh, kw)}"
    return weight.permute(2, 3, 1, 0).reshape(4 * c_in, c_out)


def im2col_2x2(x: torch.Tensor) -> torch.Tensor:
    """The 2x2 patches of a channels-last map ``(R, N, H, W, C)`` as ``(R, N, H-1, W-1, 4C)``."""
    return torch.cat(
        (x[:, :, :-1, :-1], x[:, :, :-1, 1:], x[:, :, 1:, :-1], x[:, :, 1:, 1:]), dim=-1
    )


def conv2x2(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A stacked 2x2 convolution (stride 1, no padding) followed by nothing.

    Args:
        x: ``(R, N, H, W, C_in)`` channels-last inputs.
        weight: ``(R, 4 * C_in, C_out)``.
        bias: ``(R, 1, C_out)``.

    Returns:
        ``(R, N, H - 1, W - 1, C_out)``.
    """
    n_runs, n, h, w, _ = x.shape
    patches = im2col_2x2(x).reshape(n_runs, n * (h - 1) * (w - 1), -1)
    out = torch.baddbmm(bias, patches, weight)
    return out.reshape(n_runs, n, h - 1, w - 1, -1)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A stacked linear layer: ``x (R, N, in) @ weight (R, in, out) + bias (R, 1, out)``."""
    return torch.baddbmm(bias, x, weight)


@dataclass(frozen=True)
class AdamConfig:
    """Adam as PyTorch implements it (PAPER.md §4: eps 1e-5)."""

    learning_rate: float
    """Step size."""
    eps: float = 1e-5
    """Added to the denominator (Stable-Baselines3 uses 1e-5)."""
    beta1: float = 0.9
    """Decay of the first moment."""
    beta2: float = 0.999
    """Decay of the second moment."""
    max_grad_norm: float | None = None
    """Per-run global gradient-norm clip (0.5 for PPO, 1.0 for the ISR); None disables it."""


class StackedAdam:
    """Adam over stacked parameters, with per-run gradient clipping.

    Adam is element-wise, so ``torch.optim.Adam`` over the stacked tensors is, run by run, the
    same as Adam over each run's own parameters. Only the gradient clipping needs the run axis:
    each run's gradient is scaled by ``min(1, max_norm / (norm + 1e-6))`` of its own global
    norm, as ``torch.nn.utils.clip_grad_norm_`` does for a single model. All runs of a batch
    take the same number of steps.
    """

    def __init__(self, params: Mapping[str, torch.Tensor], config: AdamConfig) -> None:
        self.params = dict(params)
        self.config = config
        self.n_runs = next(iter(self.params.values())).shape[0]
        self.adam = torch.optim.Adam(
            list(self.params.values()),
            lr=config.learning_rate,
            betas=(config.beta1, config.beta2),
            eps=config.eps,
            fused=True,
        )

    def grad_norms(self) -> torch.Tensor:
        """The global gradient 2-norm of each run, shape ``(R,)``."""
        total = torch.zeros(self.n_runs)
        for p in self.params.values():
            total += p.grad.reshape(self.n_runs, -1).pow(2).sum(dim=1)
        return total.sqrt()

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """Clip each run's gradient, then take one Adam step for every run.

        Returns:
            The per-run gradient norms before clipping, shape ``(R,)``.
        """
        norms = self.grad_norms()
        if self.config.max_grad_norm is not None:
            clip = (self.config.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
            for p in self.params.values():
                p.grad.mul_(clip.view((self.n_runs,) + (1,) * (p.dim() - 1)))
        self.adam.step()
        return norms

    def zero_grad(self) -> None:
        """Drop the gradients of every stacked parameter."""
        self.adam.zero_grad(set_to_none=True)

    def run_state(self, r: int) -> dict[str, np.ndarray]:
        """Run r's Adam state as arrays (to continue phase 2 where phase 1 stopped)."""
        state: dict[str, np.ndarray] = {}
        steps = 0.0
        for name, p in self.params.items():
            slot = self.adam.state.get(p)
            if slot:
                state[f"adam_m/{name}"] = slot["exp_avg"][r].numpy().copy()
                state[f"adam_v/{name}"] = slot["exp_avg_sq"][r].numpy().copy()
                steps = float(slot["step"])
        state["adam_steps"] = np.array(steps)
        return state

    def load_run_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Set every run's Adam state from ``run_state`` dictionaries (one per run)."""
        steps = {float(s["adam_steps"]) for s in states}
        assert len(steps) == 1, f"runs of one batch must share their step count, got {steps}"
        n_steps = steps.pop()
        if n_steps == 0:
            return
        for name, p in self.params.items():
            self.adam.state[p] = {
                "step": torch.tensor(n_steps, dtype=torch.float32),
                "exp_avg": torch.stack(
                    [torch.from_numpy(np.asarray(s[f"adam_m/{name}"])) for s in states]
                ),
                "exp_avg_sq": torch.stack(
                    [torch.from_numpy(np.asarray(s[f"adam_v/{name}"])) for s in states]
                ),
            }


def generators_for(seeds: Sequence[int], stream: int) -> list[torch.Generator]:
    """One seeded torch generator per run, independent across purposes (``stream``)."""
    gens = []
    for seed in seeds:
        gen = torch.Generator()
        words = np.random.SeedSequence([int(seed), int(stream)]).generate_state(2, dtype=np.uint32)
        gen.manual_seed(int(words[0]) << 32 | int(words[1]))
        gens.append(gen)
    return gens


def numpy_rngs(seeds: Sequence[int], stream: int) -> list[np.random.Generator]:
    """One seeded numpy generator per run, independent across purposes (``stream``)."""
    return [np.random.default_rng([int(seed), int(stream)]) for seed in seeds]

