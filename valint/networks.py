"""The two networks of PAPER.md §4, each described once, as a table of layers.

A network is a few chains of layers (:class:`Chain`); a chain reads the network's input or the
output of another chain, and each layer (:class:`Layer`) is ``activation(x @ W + b)``, dense or
a 2x2 convolution (stride 1, no padding). Given the shape of one input, :meth:`Network.place`
works out every layer's fan-in and the map a convolution slides over, and everything else is
derived from that one description:

- the per-run weight shapes (:meth:`Network.shapes`), the order of the weights in a
  ``valint.nets.ParamStack``, and their initialisation (:meth:`Network.init`);
- the plain, differentiable forward pass (:meth:`Network.forward`: ``valint.ppo.policy_forward``
  and ``valint.isr.isr_forward``);
- the chains of the hand-written trainer (:meth:`Network.kernels`: ``valint.nets.SequentialKernel``);
- the matrix products and FLOPs per sample (:meth:`Network.products`, :meth:`Network.flops`), which
  ``python -m valint bench`` counts;
- the Stable-Baselines3 model of the benchmark (``benchmarks.sb3``).

The policy (:func:`policy_network`): Conv 4->16->32->64 (2x2, ReLU) on the 9x9 view, flatten
(64 * 6 * 6 = 2304), Linear 2304->128 (ReLU) shared by an actor 128->64->64 (Tanh) -> logits and a
critic 128->64->64 (Tanh) -> 1; orthogonal initialisation with gain sqrt(2), 0.01 for the logits
and 1 for the value, zero biases (Stable-Baselines3's ``ActorCriticCnnPolicy``).

The ISR (:data:`ISR_NETWORK`): the view plus action channels, Conv ->16 (2x2) ReLU, Conv 16->32
(2x2) ReLU, flatten, Linear ->32 ReLU, Linear 32->32 ReLU, Linear 32->1; PyTorch's default
initialisation for the convolutions, orthogonal with gain sqrt(2) and zero biases for the linear
layers.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from valint.nets import KernelLayer, SequentialKernel, Workspace, conv2x2, linear, orthogonal_stack

SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class Layer:
    """One row of a network's table: ``activation(x @ W + b)``."""

    name: str
    """Parameter prefix: the weights are ``{name}.w`` ``(fan_in, width)``, ``{name}.b`` ``(1, width)``."""
    width: int
    """Output channels of a convolution, units of a dense layer."""
    activation: str | None = None
    """``"relu"``, ``"tanh"`` or None."""
    conv: bool = False
    """A 2x2 convolution (stride 1, no padding) on a channels-last map; else a dense layer on the
    flattened input."""
    gain: float | None = SQRT2
    """Gain of the orthogonal initialisation; None: PyTorch's default for a layer (weights and
    biases uniform in +-1/sqrt(fan_in))."""


@dataclass(frozen=True)
class Chain:
    """Layers applied one after another, input first."""

    name: str
    layers: tuple[Layer, ...]
    source: str | None = None
    """The chain whose output this one reads; None: the network's input."""


@dataclass(frozen=True)
class Placed:
    """A layer at its place in a network, for inputs of one shape."""

    layer: Layer
    fan_in: int
    """Rows of the weight: ``4 * C_in`` for a convolution (its im2col patches), the flattened
    input size for a dense layer."""
    grid: tuple[int, int] | None
    """For a convolution: the ``(H, W)`` of its input map; None for a dense layer."""
    positions: int
    """Where the weight is applied per sample: the output pixels of a convolution, 1 for a dense
    layer."""
    first: bool
    """The layer reads the network's input, whose gradient is never needed."""

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def fan_out(self) -> int:
        return self.layer.width


@dataclass(frozen=True)
class Network:
    """A network as a table of chains of layers (module docstring)."""

    chains: tuple[Chain, ...]

    def place(self, in_shape: tuple[int, ...]) -> dict[str, tuple[Placed, ...]]:
        """Every chain's layers placed for inputs of ``in_shape`` (``(H, W, C)`` for a map).

        Raises:
            ValueError: a convolution follows a dense layer, or a chain reads an unknown chain.
        """
        outputs: dict[str, tuple[int, ...]] = {}
        placed: dict[str, tuple[Placed, ...]] = {}
        for chain in self.chains:
            if chain.source is not None and chain.source not in outputs:
                raise ValueError(f"chain {chain.name!r} reads {chain.source!r}, which comes later or not at all")
            shape = tuple(in_shape) if chain.source is None else outputs[chain.source]
            layers = []
            for i, layer in enumerate(chain.layers):
                first = chain.source is None and i == 0
                if layer.conv:
                    if len(shape) != 3:
                        raise ValueError(f"convolution {layer.name!r} needs a (H, W, C) map, got {shape}")
                    h, w, c = shape
                    layers.append(Placed(layer, 4 * c, (h, w), (h - 1) * (w - 1), first))
                    shape = (h - 1, w - 1, layer.width)
                else:
                    layers.append(Placed(layer, math.prod(shape), None, 1, first))
                    shape = (layer.width,)
            placed[chain.name] = tuple(layers)
            outputs[chain.name] = shape
        return placed

    def layers(self, in_shape: tuple[int, ...]) -> list[Placed]:
        """Every placed layer, in the order of the table (the order of the weights)."""
        return [layer for chain in self.place(in_shape).values() for layer in chain]

    def shapes(self, in_shape: tuple[int, ...]) -> dict[str, tuple[int, int]]:
        """``(fan_in, fan_out)`` of every layer's weight, in the order of the table."""
        return {layer.name: (layer.fan_in, layer.fan_out) for layer in self.layers(in_shape)}

    def init(self, in_shape: tuple[int, ...], generators: Sequence[torch.Generator]) -> dict[str, torch.Tensor]:
        """Stacked initial weights, one set per generator: ``{name}.w`` ``(R, fan_in, fan_out)``
        and ``{name}.b`` ``(R, 1, fan_out)``, layer by layer in the order of the table.

        A layer with a gain is orthogonal (``valint.nets.orthogonal_stack``) with zero bias; one
        without takes PyTorch's default, weights then biases uniform in +-1/sqrt(fan_in), each
        drawn run by run from the run's generator.
        """
        n = len(generators)
        params: dict[str, torch.Tensor] = {}
        for layer in self.layers(in_shape):
            fan_in, fan_out = layer.fan_in, layer.fan_out
            if layer.layer.gain is None:
                bound = 1.0 / math.sqrt(fan_in)
                w = torch.stack([torch.rand(fan_in, fan_out, generator=g) for g in generators])
                b = torch.stack([torch.rand(1, fan_out, generator=g) for g in generators])
                params[f"{layer.name}.w"] = (w * 2 - 1) * bound
                params[f"{layer.name}.b"] = (b * 2 - 1) * bound
            else:
                params[f"{layer.name}.w"] = orthogonal_stack((fan_in, fan_out), layer.layer.gain, generators)
                params[f"{layer.name}.b"] = torch.zeros(n, 1, fan_out)
        return params

    def forward(self, params: Mapping[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every chain's output for inputs ``x`` ``(R, N, *in_shape)``: the plain, differentiable
        statement of the network (``valint.nets.conv2x2`` and ``valint.nets.linear``).

        Returns:
            ``(R, N, ...)`` per chain name: ``(R, N, H', W', C')`` after a convolution,
            ``(R, N, width)`` after a dense layer.
        """
        outputs: dict[str, torch.Tensor] = {}
        for chain in self.chains:
            h = x if chain.source is None else outputs[chain.source]
            for layer in chain.layers:
                w, b = params[f"{layer.name}.w"], params[f"{layer.name}.b"]
                if layer.conv:
                    h = conv2x2(h, w, b)
                else:
                    h = linear(h.reshape(h.shape[0], h.shape[1], -1), w, b)
                if layer.activation == "relu":
                    h = torch.relu(h)
                elif layer.activation == "tanh":
                    h = torch.tanh(h)
            outputs[chain.name] = h
        return outputs

    def kernels(
        self,
        params: Mapping[str, torch.Tensor],
        grads: Mapping[str, torch.Tensor],
        in_shape: tuple[int, ...],
        workspace: Workspace,
    ) -> dict[str, SequentialKernel]:
        """One ``valint.nets.SequentialKernel`` per chain (hand-written backward pass), on
        ``params`` with gradients into ``grads``, its buffers in ``workspace``."""
        return {
            name: SequentialKernel(
                params, grads, [KernelLayer(p.name, p.layer.activation, p.grid) for p in placed],
                workspace, f"{name}:",
            )
            for name, placed in self.place(in_shape).items()
        }

    def products(self, in_shape: tuple[int, ...]) -> list[tuple[str, int, int, int]]:
        """The matrix products per sample: ``(layer, positions, fan_in, fan_out)``, where a
        convolution's patches are the rows of an im2col product (``positions`` of them)."""
        return [(p.name, p.positions, p.fan_in, p.fan_out) for p in self.layers(in_shape)]

    def flops(self, in_shape: tuple[int, ...]) -> dict[str, int]:
        """Floating-point operations per sample of the matrix products.

        A layer with a ``(fan_in, fan_out)`` matrix applied at ``positions`` places costs
        ``2 * positions * fan_in * fan_out`` FLOPs forward. Backward costs twice that (input
        gradient and weight gradient), except the first layer, whose input needs no gradient
        (once). Bias additions and activations are not counted.

        Returns:
            ``forward`` and ``backward`` FLOPs per sample.
        """
        forward = backward = 0
        for p in self.layers(in_shape):
            flops = 2 * p.positions * p.fan_in * p.fan_out
            forward += flops
            backward += flops if p.first else 2 * flops
        return {"forward": forward, "backward": backward}


def policy_network(n_actions: int) -> Network:
    """The policy of PAPER.md §4 for ``n_actions`` actions: a shared body (``body``), an actor
    head (``pi``: the logits) and a critic head (``vf``: the value)."""
    return Network((
        Chain("body", (
            Layer("conv1", 16, "relu", conv=True),
            Layer("conv2", 32, "relu", conv=True),
            Layer("conv3", 64, "relu", conv=True),
            Layer("fc", 128, "relu"),
        )),
        Chain("pi", (
            Layer("pi1", 64, "tanh"),
            Layer("pi2", 64, "tanh"),
            Layer("pi_out", n_actions, gain=0.01),
        ), source="body"),
        Chain("vf", (
            Layer("vf1", 64, "tanh"),
            Layer("vf2", 64, "tanh"),
            Layer("vf_out", 1, gain=1.0),
        ), source="body"),
    ))


ISR_NETWORK = Network((
    Chain("isr", (
        Layer("conv1", 16, "relu", conv=True, gain=None),
        Layer("conv2", 32, "relu", conv=True, gain=None),
        Layer("fc1", 32, "relu"),
        Layer("fc2", 32, "relu"),
        Layer("out", 1),
    )),
))
"""The ISR of PAPER.md §4: one chain, ``isr``, from the view with its action channels to R_i."""
