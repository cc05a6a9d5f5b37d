"""Tests of the stacked-network pieces (valint/nets.py; PAPER.md §4)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from valint.nets import (
    AdamConfig,
    KernelLayer,
    ParamStack,
    SequentialKernel,
    StackedAdam,
    Workspace,
    conv2x2,
    conv_weight_to_matrix,
    flushed_denormals,
    im2col_2x2,
    linear,
    patch_positions,
    select_device,
    torch_threads,
)


def test_conv2x2_equals_conv2d_channels_last_vs_nchw() -> None:
    gen = torch.Generator().manual_seed(0)
    n_runs, n, h, w, c_in, c_out = 3, 5, 9, 7, 4, 6
    x = torch.randn(n_runs, n, h, w, c_in, generator=gen)
    weights = torch.randn(n_runs, c_out, c_in, 2, 2, generator=gen)
    biases = torch.randn(n_runs, c_out, generator=gen)
    stacked_w = torch.stack([conv_weight_to_matrix(wr) for wr in weights])
    out = conv2x2(x, stacked_w, biases[:, None, :])
    assert out.shape == (n_runs, n, h - 1, w - 1, c_out)
    for r in range(n_runs):
        expected = F.conv2d(x[r].permute(0, 3, 1, 2), weights[r], biases[r]).permute(0, 2, 3, 1)
        torch.testing.assert_close(out[r], expected, atol=1e-5, rtol=1e-5)


def test_patch_positions_gather_equals_im2col_and_index_add_is_its_adjoint() -> None:
    gen = torch.Generator().manual_seed(1)
    n, h, w, c = 4, 6, 5, 3
    x = torch.randn(1, n, h, w, c, generator=gen)
    positions = patch_positions(h, w)
    gathered = x.view(n, h * w, c).index_select(1, positions).view(1, n, h - 1, w - 1, 4 * c)
    assert torch.equal(gathered, im2col_2x2(x))
    dpatches = torch.randn(1, n, h - 1, w - 1, 4 * c, generator=gen)
    dx = torch.zeros(n, h * w, c).index_add_(1, positions, dpatches.view(n, -1, c))
    # <im2col(x), dp> == <x, im2col^T(dp)>
    torch.testing.assert_close((im2col_2x2(x) * dpatches).sum(), (x.view(n, h * w, c) * dx).sum())


def _reference_chain(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    h = torch.relu(conv2x2(x, params["c1.w"], params["c1.b"]))
    h = torch.tanh(conv2x2(h, params["c2.w"], params["c2.b"]))
    h = h.reshape(h.shape[0], h.shape[1], -1)
    h = torch.relu(linear(h, params["d1.w"], params["d1.b"]))
    return linear(h, params["d2.w"], params["d2.b"])


def test_sequential_kernel_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(2)
    n_runs, n, h, w, c = 3, 4, 5, 5, 2
    shapes = {
        "c1.w": (4 * c, 6), "c1.b": (1, 6), "c2.w": (24, 5), "c2.b": (1, 5),
        "d1.w": (5 * 3 * 3, 7), "d1.b": (1, 7), "d2.w": (7, 2), "d2.b": (1, 2),
    }
    tensors = {k: torch.randn(n_runs, *s, generator=gen) * 0.5 for k, s in shapes.items()}
    x = torch.randn(n_runs, n, h, w, c, generator=gen)
    dout = torch.randn(n_runs, n, 2, generator=gen)

    ref = {k: v.clone().requires_grad_(True) for k, v in tensors.items()}
    x_ref = x.clone().requires_grad_(True)
    out_ref = _reference_chain(ref, x_ref)
    (out_ref * dout).sum().backward()

    stack = ParamStack.from_tensors(tensors)
    layers = [
        KernelLayer("c1", "relu", (h, w)), KernelLayer("c2", "tanh", (h - 1, w - 1)), KernelLayer("d1", "relu"), KernelLayer("d2")
    ]
    kernel = SequentialKernel(stack.params, stack.grads, layers, Workspace(torch.device("cpu")))
    out = kernel.forward(x.reshape(n_runs * n, -1), n)
    torch.testing.assert_close(out, out_ref.detach(), atol=1e-6, rtol=1e-5)
    dx = kernel.backward(dout, input_grad=True)
    for name, value in ref.items():
        torch.testing.assert_close(stack.grads[name], value.grad, atol=1e-5, rtol=1e-5, msg=name)
    torch.testing.assert_close(dx.view(x.shape), x_ref.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("max_grad_norm", [0.5, None])
def test_stacked_adam_equals_clip_grad_norm_and_torch_adam_run_by_run(max_grad_norm: float | None) -> None:
    gen = torch.Generator().manual_seed(3)
    shapes = {"a": (5, 4), "b": (1, 4), "c": (3,)}
    n_runs, n_steps = 3, 12
    init = {k: torch.randn(n_runs, *s, generator=gen) for k, s in shapes.items()}
    # run 0's gradients are small (never clipped), run 2's large (always clipped)
    scales = torch.tensor([0.01, 0.3, 10.0])
    grads = [
        {k: torch.randn(n_runs, *s, generator=gen) * scales.view(-1, *([1] * len(s))) for k, s in shapes.items()}
        for _ in range(n_steps)
    ]
    config = AdamConfig(learning_rate=1e-2, eps=1e-5, max_grad_norm=max_grad_norm)
    stack = ParamStack.from_tensors(init)
    optimizer = StackedAdam(stack, config)
    norms = []
    for g in grads:
        for k in shapes:
            stack.grads[k].copy_(g[k])
        norms.append(optimizer.step())

    for r in range(n_runs):
        params = [torch.nn.Parameter(init[k][r].clone()) for k in shapes]
        adam = torch.optim.Adam(params, lr=config.learning_rate, eps=config.eps)
        for t, g in enumerate(grads):
            for p, k in zip(params, shapes):
                p.grad = g[k][r].clone()
            if max_grad_norm is None:
                total = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in params]))
            else:
                total = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
            torch.testing.assert_close(norms[t][r], total, rtol=1e-5, atol=1e-7)
            adam.step()
        for p, k in zip(params, shapes):
            torch.testing.assert_close(stack.params[k][r], p.detach(), atol=1e-6, rtol=1e-5)


def test_stacked_adam_run_state_round_trip_and_subset() -> None:
    gen = torch.Generator().manual_seed(4)
    stack = ParamStack.from_tensors({"w": torch.randn(3, 4, 2, generator=gen)})
    optimizer = StackedAdam(stack, AdamConfig(learning_rate=0.1))
    for _ in range(3):
        stack.grad.copy_(torch.randn(stack.grad.shape, generator=gen))
        optimizer.step()
    states = [optimizer.run_state(r) for r in (2, 0)]
    assert float(states[0]["adam_steps"]) == 3.0
    other = StackedAdam(ParamStack({"w": (4, 2)}, 2), AdamConfig(learning_rate=0.1))
    other.load_run_states(states)
    np.testing.assert_array_equal(other.run_state(0)["adam_m/w"], states[0]["adam_m/w"])
    np.testing.assert_array_equal(other.run_state(1)["adam_v/w"], states[1]["adam_v/w"])
    sub_stack = stack.subset([2, 0])
    sub = optimizer.subset([2, 0], sub_stack)
    assert torch.equal(sub_stack.params["w"][0], stack.params["w"][2])
    np.testing.assert_array_equal(sub.run_state(1)["adam_v/w"], states[1]["adam_v/w"])


def test_param_stack_views_share_the_flat_buffer() -> None:
    stack = ParamStack({"w": (2, 3), "b": (1, 3)}, 2)
    stack.params["b"][1].fill_(7.0)
    assert stack.flat[1, 6:].tolist() == [7.0, 7.0, 7.0]
    assert stack.run_params(1)["b"].tolist() == [[7.0, 7.0, 7.0]]


def test_select_device_argument_then_environment_then_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALINT_DEVICE", "cpu")
    assert select_device() == torch.device("cpu")
    assert select_device("meta") == torch.device("meta")
    monkeypatch.delenv("VALINT_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected


def test_flushed_denormals_flushes_only_inside() -> None:
    tiny = torch.tensor([1e-39])
    if not torch.set_flush_denormal(False) or tiny.item() == 0.0:
        pytest.skip("this CPU cannot flush subnormal floats")
    with flushed_denormals():
        assert (tiny * 1.0).item() == 0.0
    assert (tiny * 1.0).item() != 0.0


def test_torch_threads_sets_and_restores_the_thread_count_even_on_error() -> None:
    original = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), torch_threads(1):
            raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(original)
