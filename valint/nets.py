"""Stacked networks: many independent copies of one network trained as one batch.

Every run of a figure (seeds x conditions, and layouts for Fig. 5) owns its own weights, its own
Adam state and its own gradient clipping, exactly as if it were trained alone. Here the weights
of ``R`` runs live in one ``(R, P)`` buffer (:class:`ParamStack`; each run's ``P`` numbers are
contiguous), each layer is a batched matrix multiply (``torch.baddbmm``) over the run axis, so
the Python interpreter runs once per layer, not once per run, and Adam with per-run gradient
clipping is one pass over the buffer (:class:`StackedAdam`).

The 2x2 convolutions of PAPER.md §4 are written as im2col: the four shifted views of a
channels-last feature map are concatenated, then multiplied with a ``(4 * C_in, C_out)`` matrix
per run. This is the same function as ``torch.nn.Conv2d(C_in, C_out, 2)`` (see
``conv_weight_to_matrix``), tested against it in ``tests/test_nets.py``.

The policy (``valint.ppo``) and the ISR (``valint.isr``) train through
:class:`SequentialKernel` (its chains come from the networks' tables, ``valint.networks``),
which runs the same layers on preallocated buffers, gathers the
patches with one ``index_select`` per convolution (:func:`patch_positions`) and computes the
gradients by hand instead of through autograd: the networks are small, and autograd's
bookkeeping, the zero-filled slice gradients of im2col and fresh allocations cost more than the
arithmetic. The hand-written gradients are tested against autograd on the reference forward
pass (``conv2x2``, ``linear``) in ``tests/test_nets.py``, ``tests/test_ppo.py`` and
``tests/test_isr.py``.

Because the loss of the whole batch is the *sum* of the runs' losses, the gradient that reaches
run r's weights is exactly run r's own gradient; Adam is element-wise, and gradient clipping is
done per run. Training R runs together therefore equals training them one at a time, up to
floating-point rounding.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

DEVICE_ENV = "VALINT_DEVICE"
"""Environment variable that overrides the automatic device choice (``cpu``, ``cuda``, ...)."""


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device training runs on.

    The argument wins; else ``$VALINT_DEVICE``; else the first CUDA GPU when
    ``torch.cuda.is_available()``; else the CPU. The algorithm and its random numbers (drawn by
    NumPy generators on the host) are the same on every device; only float rounding differs.
    """
    choice = device if device is not None else os.environ.get(DEVICE_ENV) or None
    if choice is None:
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Treat subnormal floats (below 1.2e-38) as zero on this thread while training.

    Adam's moment estimates of parameters whose gradient stays at or near zero (a unit that
    never fires, an input that is always 0) decay through the subnormal range, where x86
    arithmetic is many times slower; with one draw per ISR step this made training 2-3 times
    slower. A subnormal moment moves no weight (its Adam update is below 1e-33), so flushing
    them leaves the results as they are. The setting is per thread: torch's intra-op worker
    threads keep theirs. Usable as a decorator.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU operators on ``n`` threads inside the block, then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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


def im2col_2x2(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """The 2x2 patches of a channels-last map ``(R, N, H, W, C)`` as ``(R, N, H-1, W-1, 4C)``.

    Args:
        x: the feature map.
        out: optional preallocated result.
    """
    parts = (x[:, :, :-1, :-1], x[:, :, :-1, 1:], x[:, :, 1:, :-1], x[:, :, 1:, 1:])
    if out is None:
        return torch.cat(parts, dim=-1)
    return torch.cat(parts, dim=-1, out=out)


def patch_positions(height: int, width: int) -> torch.Tensor:
    """Source positions of the 2x2 patches of one ``(H, W)`` map, in im2col order.

    With a channels-last map viewed as ``(N, H * W, C)``,
    ``x.index_select(1, patch_positions(H, W))`` viewed as ``(N, (H-1) * (W-1), 4C)`` equals
    ``im2col_2x2``, and ``dx.index_add_(1, patch_positions(H, W), dpatches)`` is its adjoint
    (the gradient with respect to the map). Both are single gathers or scatters, cheaper than
    concatenating four shifted views.

    Returns:
        A ``((H-1) * (W-1) * 4,)`` int64 index: entry ``4 * (i * (W-1) + j) + 2 * dy + dx``
        is ``(i + dy) * W + (j + dx)``.
    """
    grid = torch.arange(height * width).reshape(1, 1, height, width, 1)
    return im2col_2x2(grid).reshape(-1)


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


def linear_backward(
    x: torch.Tensor,
    weight: torch.Tensor,
    dy: torch.Tensor,
    grad_weight: torch.Tensor,
    grad_bias: torch.Tensor,
    dx: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Gradients of ``y = x @ weight + bias`` for stacked runs, written into given buffers.

    Args:
        x: ``(R, N, in)`` the layer's input.
        weight: ``(R, in, out)``.
        dy: ``(R, N, out)`` gradient with respect to ``y``.
        grad_weight: ``(R, in, out)`` receives ``x^T @ dy``.
        grad_bias: ``(R, 1, out)`` receives the sum of ``dy`` over the samples.
        dx: optional ``(R, N, in)`` buffer that receives ``dy @ weight^T``; None skips it (the
            first layer needs no input gradient).

    Returns:
        ``dx``.
    """
    torch.bmm(x.transpose(1, 2), dy, out=grad_weight)
    torch.sum(dy, dim=1, keepdim=True, out=grad_bias)
    if dx is not None:
        torch.bmm(dy, weight.transpose(1, 2), out=dx)
    return dx


class Workspace:
    """Preallocated buffers, reused from one minibatch to the next.

    Large fresh allocations are returned to the operating system and faulted in again on every
    step; reusing buffers keeps them in memory and in cache.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._buffers: dict[tuple, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The buffer called ``name``, of this shape and dtype (contents undefined)."""
        key = (name, tuple(shape), dtype)
        buf = self._buffers.get(key)
        if buf is None:
            buf = torch.empty(key[1], dtype=dtype, device=self.device)
            self._buffers[key] = buf
        return buf


_relu_backward = torch.ops.aten.threshold_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.grad_input


@dataclass(frozen=True)
class KernelLayer:
    """One layer of a :class:`SequentialKernel`: ``activation(x @ W + b)``.

    The networks' tables (``valint.networks``) place their layers and hand them over as these.
    """

    name: str
    """Parameter prefix: the weights are ``{name}.w`` ``(R, in, out)``, ``{name}.b`` ``(R, 1, out)``."""
    activation: str | None = None
    """``"relu"``, ``"tanh"`` or None."""
    grid: tuple[int, int] | None = None
    """For a 2x2 convolution (stride 1, no padding): the ``(H, W)`` of its input map, whose
    channels are the weight's ``in / 4``; None for a dense layer on the flattened input."""


@dataclass
class _Step:
    """One layer of a :class:`SequentialKernel` bound to its buffers for one batch shape."""

    layer: KernelLayer
    weight: torch.Tensor
    bias: torch.Tensor
    grad_weight: torch.Tensor
    grad_bias: torch.Tensor
    out: torch.Tensor
    """``(R, N * positions, out)`` activations."""
    positions: torch.Tensor | None = None
    """Patch gather index of a convolution."""
    grid_shape: tuple[int, int, int] | None = None
    """``(R * N, H * W, C)``: a convolution's input map."""
    gathered: torch.Tensor | None = None
    """``(R * N, positions * 4, C)``: the gathered patches of a convolution."""
    patches: torch.Tensor | None = None
    """``(R, N * positions, 4C)`` view of ``gathered`` (a convolution's input)."""
    dense_shape: tuple[int, int, int] | None = None
    """``(R, N, in)``: a dense layer's input."""
    x: torch.Tensor | None = None
    """The input of the last forward pass."""


class SequentialKernel:
    """A chain of stacked layers with a hand-written backward pass, on reused buffers.

    Computes the same function as the same chain of :func:`conv2x2` and :func:`linear` with
    ReLU/Tanh, for every run of the stack at once. :meth:`forward` keeps the activations;
    :meth:`backward` takes the gradient with respect to the output and writes the weight
    gradients into ``grads``. A convolution's patches are gathered with one ``index_select``
    (:func:`patch_positions`) and their gradients scattered back with one ``index_add_``. The
    backward pass of each layer is the textbook one: ``dW = x^T dy``, ``db = sum(dy)``,
    ``dx = dy W^T``, ReLU passes the gradient where its output is positive, Tanh multiplies it
    by ``1 - tanh^2``. The buffers of each batch shape are bound once, so that a call runs
    little Python (acting runs one sample per run per step).

    Args:
        params: ``(R, ...)`` weight views (a :class:`ParamStack`'s, or plain tensors).
        grads: gradient views laid out like ``params``.
        layers: the chain, input first.
        workspace: where the buffers live.
        tag: prefix that keeps this kernel's buffers apart from other kernels' in ``workspace``.
    """

    def __init__(
        self,
        params: Mapping[str, torch.Tensor],
        grads: Mapping[str, torch.Tensor],
        layers: Sequence[KernelLayer],
        workspace: Workspace,
        tag: str = "",
    ) -> None:
        self.p, self.g = params, grads
        self.layers = tuple(layers)
        self.ws = workspace
        self.tag = tag
        self.n_runs = params[f"{layers[0].name}.w"].shape[0]
        self.positions = {
            layer.name: patch_positions(*layer.grid).to(workspace.device)
            for layer in layers
            if layer.grid is not None
        }
        self._plans: dict[tuple[int, str], list[_Step]] = {}
        self._last: list[_Step] = []
        self.n = 0

    def _plan(self, n: int, mode: str) -> list[_Step]:
        """The layers bound to this mode's buffers for ``n`` samples per run."""
        plan = self._plans.get((n, mode))
        if plan is not None:
            return plan
        r, plan = self.n_runs, []
        for layer in self.layers:
            w = self.p[f"{layer.name}.w"]
            step = _Step(
                layer, w, self.p[f"{layer.name}.b"], self.g[f"{layer.name}.w"], self.g[f"{layer.name}.b"], w
            )
            if layer.grid is not None:
                step.positions = self.positions[layer.name]
                channels = w.shape[1] // 4
                step.grid_shape = (r * n, layer.grid[0] * layer.grid[1], channels)
                step.gathered = self.ws.get(
                    f"{self.tag}{mode}{layer.name}.p", (r * n, step.positions.numel(), channels)
                )
                step.patches = step.gathered.view(r, -1, w.shape[1])
                rows = step.patches.shape[1]
            else:
                step.dense_shape = (r, n, w.shape[1])
                rows = n
            step.out = self.ws.get(f"{self.tag}{mode}{layer.name}.y", (r, rows, w.shape[2]))
            plan.append(step)
        self._plans[(n, mode)] = plan
        return plan

    def forward(self, x: torch.Tensor, n: int, mode: str = "train") -> torch.Tensor:
        """The chain's output ``(R, N * positions, out)`` for ``N`` samples per run.

        Args:
            x: the input, run-major: ``(R * N, H * W * C)`` or ``(R, N * H * W, C)`` before a
                convolution, anything that views as ``(R, N, in)`` before a dense layer.
            n: samples per run.
            mode: names the set of buffers (acting and training keep theirs apart).
        """
        plan = self._plan(n, mode)
        self.n, self._last = n, plan
        h = x
        for step in plan:
            if step.positions is not None:
                torch.index_select(h.view(step.grid_shape), 1, step.positions, out=step.gathered)
                h = step.patches
            else:
                h = h.view(step.dense_shape)
            step.x = h
            torch.baddbmm(step.bias, h, step.weight, out=step.out)
            if step.layer.activation == "relu":
                step.out.relu_()
            elif step.layer.activation == "tanh":
                step.out.tanh_()
            h = step.out
        return h

    def backward(self, dout: torch.Tensor, *, input_grad: bool = False) -> torch.Tensor | None:
        """Write the weight gradients of the last (training) :meth:`forward` into ``grads``.

        Args:
            dout: gradient with respect to the output, shaped like it.
            input_grad: also return the gradient with respect to the input (else None).

        Returns:
            ``(R, N, in)`` for a dense first layer, ``(R * N, H * W, C)`` for a convolution.
        """
        dy = dout
        dx = None
        for i in reversed(range(len(self._last))):
            step = self._last[i]
            y = step.out
            dy = dy.view(y.shape)
            if step.layer.activation == "relu":
                _relu_backward(dy, y, 0, grad_input=dy)
            elif step.layer.activation == "tanh":
                _tanh_backward(dy, y, grad_input=dy)
            want_dx = i > 0 or input_grad
            dx = self.ws.get(f"{self.tag}{step.layer.name}.dx", tuple(step.x.shape)) if want_dx else None
            linear_backward(step.x, step.weight, dy, step.grad_weight, step.grad_bias, dx)
            if dx is not None and step.positions is not None:
                grid = self.ws.get(f"{self.tag}{step.layer.name}.dgrid", step.grid_shape)
                grid.zero_().index_add_(1, step.positions, dx.view(step.gathered.shape))
                dx = grid
            dy = dx
        return dx


class ParamStack:
    """Named parameters of ``R`` runs in one ``(R, P)`` buffer, with a gradient buffer alike.

    Run r's parameters are the contiguous row ``flat[r]``; ``params[name]`` is a view of shape
    ``(R, *shape)``, so writing into it writes into ``flat``. The gradient buffer ``grad`` and
    its views ``grads`` have the same layout.

    Args:
        shapes: per-run shape of each named parameter, in storage order.
        n_runs: ``R``.
        device: where the buffers live.
    """

    def __init__(
        self, shapes: Mapping[str, tuple[int, ...]], n_runs: int, *, device: torch.device | str = "cpu"
    ) -> None:
        self.shapes = {name: tuple(int(d) for d in shape) for name, shape in shapes.items()}
        self.n_runs = int(n_runs)
        self.offsets: dict[str, int] = {}
        size = 0
        for name, shape in self.shapes.items():
            self.offsets[name] = size
            size += math.prod(shape)
        self.size = size
        self.flat = torch.zeros(self.n_runs, size, device=device)
        self.grad = torch.zeros_like(self.flat)
        self.params = self.views(self.flat)
        self.grads = self.views(self.grad)

    @classmethod
    def from_tensors(
        cls, tensors: Mapping[str, torch.Tensor], *, device: torch.device | str = "cpu"
    ) -> ParamStack:
        """A stack holding copies of ``tensors`` (each ``(R, *shape)``)."""
        first = next(iter(tensors.values()))
        stack = cls({k: tuple(v.shape[1:]) for k, v in tensors.items()}, first.shape[0], device=device)
        with torch.no_grad():
            for name, value in tensors.items():
                stack.params[name].copy_(value)
        return stack

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named ``(R, *shape)`` views of an ``(R, P)`` buffer laid out like ``flat``."""
        return {
            name: flat[:, off : off + math.prod(shape)].view(flat.shape[0], *shape)
            for (name, shape), off in zip(self.shapes.items(), self.offsets.values())
        }

    def subset(self, runs: Sequence[int]) -> ParamStack:
        """A new stack with copies of the parameters of ``runs``, in that order."""
        stack = ParamStack(self.shapes, len(runs), device=self.flat.device)
        index = torch.as_tensor(list(runs), dtype=torch.long, device=self.flat.device)
        stack.flat.copy_(self.flat.index_select(0, index))
        return stack

    def run_params(self, r: int) -> dict[str, np.ndarray]:
        """Run r's parameters as NumPy arrays (copies, on the host)."""
        row = self.flat[r].detach().cpu()
        return {
            name: row[off : off + math.prod(shape)].reshape(shape).numpy().copy()
            for (name, shape), off in zip(self.shapes.items(), self.offsets.values())
        }


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
    """Adam over a :class:`ParamStack`, with per-run gradient clipping (PAPER.md §4).

    Adam is element-wise, so one Adam step over the ``(R, P)`` buffer is, run by run, the same as
    ``torch.optim.Adam`` over each run's own parameters; it runs PyTorch's fused Adam kernel
    (the one behind ``torch.optim.Adam(fused=True)``). Only the gradient clipping needs the run
    axis: each run's gradient is scaled by ``min(1, max_norm / (norm + 1e-6))`` of its own global
    norm, as ``torch.nn.utils.clip_grad_norm_`` does for a single model. All runs of a batch
    take the same number of steps.
    """

    def __init__(self, stack: ParamStack, config: AdamConfig) -> None:
        self.stack = stack
        self.config = config
        self.n_runs = stack.n_runs
        self.exp_avg = torch.zeros_like(stack.flat)
        self.exp_avg_sq = torch.zeros_like(stack.flat)
        self.steps = torch.zeros((), dtype=torch.float32, device=stack.flat.device)
        """Adam steps taken (all runs of a batch take the same number)."""

    def grad_norms(self) -> torch.Tensor:
        """The global gradient 2-norm of each run, shape ``(R,)``."""
        return torch.linalg.vector_norm(self.stack.grad, dim=1)

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """Clip each run's gradient (``stack.grad``), then take one Adam step for every run.

        On the CPU each run's clip factor reaches PyTorch's fused Adam kernel (the one behind
        ``torch.optim.Adam(fused=True)``) as its gradient scale, which saves a pass over the
        gradients; elsewhere the gradients are scaled first and all runs take one kernel call.

        Returns:
            The per-run gradient norms before clipping, shape ``(R,)``.
        """
        norms = self.grad_norms()
        self.steps.add_(1)
        kwargs = {
            "lr": self.config.learning_rate,
            "beta1": self.config.beta1,
            "beta2": self.config.beta2,
            "weight_decay": 0.0,
            "eps": self.config.eps,
            "amsgrad": False,
            "maximize": False,
        }
        flat, grad, m, v = self.stack.flat, self.stack.grad, self.exp_avg, self.exp_avg_sq
        if self.config.max_grad_norm is None:
            torch._fused_adam_([flat], [grad], [m], [v], [], [self.steps], **kwargs)
        elif flat.device.type == "cpu":
            # the kernel divides the gradient by its scale: 1 / min(1, max_norm / (norm + 1e-6))
            scales = ((norms + 1e-6) / self.config.max_grad_norm).clamp_(min=1.0)
            for r in range(self.n_runs):
                torch._fused_adam_([flat[r]], [grad[r]], [m[r]], [v[r]], [], [self.steps], grad_scale=scales[r], **kwargs)
        else:
            grad.mul_((self.config.max_grad_norm / (norms + 1e-6)).clamp_(max=1.0).unsqueeze(1))
            torch._fused_adam_([flat], [grad], [m], [v], [], [self.steps], **kwargs)
        return norms

    def run_state(self, r: int) -> dict[str, np.ndarray]:
        """Run r's Adam state as arrays (to continue phase 2 where phase 1 stopped)."""
        state: dict[str, np.ndarray] = {}
        steps = float(self.steps)
        if steps > 0:
            m = self.stack.views(self.exp_avg)
            v = self.stack.views(self.exp_avg_sq)
            for name in self.stack.shapes:
                state[f"adam_m/{name}"] = m[name][r].cpu().numpy().copy()
                state[f"adam_v/{name}"] = v[name][r].cpu().numpy().copy()
        state["adam_steps"] = np.array(steps)
        return state

    def load_run_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> None:
        """Set every run's Adam state from ``run_state`` dictionaries (one per run)."""
        steps = {float(s["adam_steps"]) for s in states}
        assert len(steps) == 1, f"runs of one batch must share their step count, got {steps}"
        n_steps = steps.pop()
        self.steps.fill_(n_steps)
        if n_steps == 0:
            self.exp_avg.zero_()
            self.exp_avg_sq.zero_()
            return
        m = self.stack.views(self.exp_avg)
        v = self.stack.views(self.exp_avg_sq)
        with torch.no_grad():
            for name in self.stack.shapes:
                m[name].copy_(torch.from_numpy(np.stack([np.asarray(s[f"adam_m/{name}"]) for s in states])))
                v[name].copy_(torch.from_numpy(np.stack([np.asarray(s[f"adam_v/{name}"]) for s in states])))

    def subset(self, runs: Sequence[int], stack: ParamStack) -> StackedAdam:
        """An optimizer for ``stack`` (the :meth:`ParamStack.subset` of ``runs``) that continues
        these runs' Adam state."""
        index = torch.as_tensor(list(runs), dtype=torch.long, device=self.exp_avg.device)
        opt = StackedAdam(stack, self.config)
        opt.exp_avg.copy_(self.exp_avg.index_select(0, index))
        opt.exp_avg_sq.copy_(self.exp_avg_sq.index_select(0, index))
        opt.steps.copy_(self.steps)
        return opt


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
