"""Tests of the networks' layer tables (valint/networks.py; PAPER.md §4): everything derived
from a table agrees with it."""
from __future__ import annotations

import math

import pytest
import torch

from valint import isr, ppo
from valint.envs import N_ACTIONS, OBS_SHAPE
from valint.nets import ParamStack, Workspace, generators_for
from valint.networks import ISR_NETWORK, Chain, Layer, Network, policy_network

POLICY_SHAPES = {
    "conv1": (16, 16), "conv2": (64, 32), "conv3": (128, 64), "fc": (2304, 128),
    "pi1": (128, 64), "pi2": (64, 64), "pi_out": (64, N_ACTIONS),
    "vf1": (128, 64), "vf2": (64, 64), "vf_out": (64, 1),
}
"""PAPER.md §4's policy, written out by hand: Conv 4->16->32->64 (2x2) on the 9x9 view,
Linear 2304->128, two heads of [64, 64]."""


def test_policy_table_gives_the_papers_shapes() -> None:
    assert policy_network(N_ACTIONS).shapes(OBS_SHAPE) == POLICY_SHAPES


def test_isr_table_gives_the_papers_shapes_with_one_or_two_action_channels() -> None:
    for channels in (5, 6):
        assert ISR_NETWORK.shapes((9, 9, channels)) == {
            "conv1": (4 * channels, 16), "conv2": (64, 32), "fc1": (32 * 7 * 7, 32), "fc2": (32, 32), "out": (32, 1),
        }


def test_policy_flops_of_the_paper_network() -> None:
    flops = policy_network(N_ACTIONS).flops(OBS_SHAPE)
    assert flops["forward"] == 2 * (
        64 * 16 * 16 + 49 * 64 * 32 + 36 * 128 * 64 + 2304 * 128 + 2 * (128 * 64 + 64 * 64) + 64 * 3 + 64
    )
    assert flops["backward"] == 2 * flops["forward"] - 2 * 64 * 16 * 16
    per_step = flops["forward"] + 10 * (flops["forward"] + flops["backward"])
    assert 44e6 < per_step < 48e6


def test_products_and_flops_follow_the_shapes() -> None:
    for network, in_shape in ((policy_network(N_ACTIONS), OBS_SHAPE), (ISR_NETWORK, (9, 9, 5))):
        shapes = network.shapes(in_shape)
        products = network.products(in_shape)
        assert [(name, fan_in, fan_out) for name, _, fan_in, fan_out in products] == [
            (name, *shape) for name, shape in shapes.items()
        ]
        forward = sum(2 * positions * fan_in * fan_out for _, positions, fan_in, fan_out in products)
        assert network.flops(in_shape)["forward"] == forward


def test_init_follows_the_table_in_storage_order() -> None:
    params = ppo.init_policy([3, 4], OBS_SHAPE, N_ACTIONS)
    table = policy_network(N_ACTIONS)
    assert list(params) == [f"{name}.{part}" for name in POLICY_SHAPES for part in ("w", "b")]
    gains = {layer.name: layer.gain for chain in table.chains for layer in chain.layers}
    assert gains["pi_out"] == 0.01 and gains["vf_out"] == 1.0 and gains["fc"] == math.sqrt(2)
    for name, (fan_in, fan_out) in POLICY_SHAPES.items():
        w = params[f"{name}.w"]
        assert w.shape == (2, fan_in, fan_out) and not params[f"{name}.b"].any()
        # orthogonal columns (rows when fan_in < fan_out), scaled by the gain
        gram = w[0].T @ w[0] if fan_in >= fan_out else w[0] @ w[0].T
        torch.testing.assert_close(gram, gains[name] ** 2 * torch.eye(min(fan_in, fan_out)), atol=1e-5, rtol=1e-4)
    weights = isr.init_isr([3, 4], 5)
    for name in ("conv1", "conv2"):
        bound = 1 / math.sqrt(ISR_NETWORK.shapes((9, 9, 5))[name][0])
        assert 0 < float(weights[f"{name}.w"].abs().max()) <= bound and weights[f"{name}.b"].any()


def test_init_draws_each_run_from_its_own_generator() -> None:
    both = policy_network(N_ACTIONS).init(OBS_SHAPE, generators_for([1, 2], 11))
    alone = policy_network(N_ACTIONS).init(OBS_SHAPE, generators_for([2], 11))
    for name, value in alone.items():
        assert torch.equal(both[name][1], value[0]), name


def test_kernel_chains_are_the_tables_chains() -> None:
    stack = ParamStack.from_tensors(ppo.init_policy([0], OBS_SHAPE, N_ACTIONS))
    kernel = ppo.PolicyKernel(stack, OBS_SHAPE)
    table = {chain.name: chain.layers for chain in policy_network(N_ACTIONS).chains}
    for name, chain in (("body", kernel.body), ("pi", kernel.actor), ("vf", kernel.critic)):
        assert [(k.name, k.activation) for k in chain.layers] == [(t.name, t.activation) for t in table[name]]
    assert [k.grid for k in kernel.body.layers] == [(9, 9), (8, 8), (7, 7), None]
    isr_chain = isr.isr_kernel(isr.init_isr([0], 6)).layers
    assert [k.grid for k in isr_chain] == [(9, 9), (8, 8), None, None, None]


def test_forward_of_the_table_equals_the_kernel() -> None:
    network = Network((
        Chain("a", (Layer("c", 3, "relu", conv=True, gain=None), Layer("d", 4, "tanh"))),
        Chain("b", (Layer("e", 2),), source="a"),
    ))
    params = network.init((4, 5, 2), generators_for([0, 1], 1))
    x = torch.randn(2, 3, 4, 5, 2, generator=torch.Generator().manual_seed(0))
    out = network.forward(params, x)
    stack = ParamStack.from_tensors(params)
    kernels = network.kernels(stack.params, stack.grads, (4, 5, 2), Workspace(torch.device("cpu")))
    hidden = kernels["a"].forward(x.reshape(6, -1), 3)
    torch.testing.assert_close(kernels["b"].forward(hidden, 3), out["b"])
    assert out["a"].shape == (2, 3, 4) and out["b"].shape == (2, 3, 2)


def test_a_table_that_cannot_be_placed_says_why() -> None:
    with pytest.raises(ValueError, match="reads 'z'"):
        Network((Chain("a", (Layer("d", 2),), source="z"),)).place((3, 3, 1))
    with pytest.raises(ValueError, match="needs a \\(H, W, C\\) map"):
        Network((Chain("a", (Layer("d", 2), Layer("c", 2, conv=True))),)).place((3, 3, 1))
