"""Tests of the internalized social reward model (valint/isr.py; PAPER.md §4, §9)."""
from __future__ import annotations

import numpy as np
import torch

from valint.config import ISRConfig
from valint.isr import (
    Transitions,
    init_isr,
    isr_codes,
    isr_forward,
    isr_input,
    isr_kernel,
    predict,
    stack_isr,
    train_isr,
)
from valint.nets import ParamStack

GOAL_OBJECT, FORWARD = 8, 2


def _transitions(n: int, seed: int, goal_share: float = 0.5) -> Transitions:
    """Random views; on goal steps the goal is in front of the agent and it moves forward."""
    rng = np.random.default_rng(seed)
    obs = rng.integers(0, 3, (n, 9, 9, 4)).astype(np.uint8)
    obs[..., 3] = 0
    goal = rng.random(n) < goal_share
    actions = rng.integers(0, 2, n)
    actions[goal] = FORWARD
    obs[goal, 3, 4] = (GOAL_OBJECT, 1, 0, 1)
    return Transitions(obs, actions, np.where(goal, 0.4, 0.0).astype(np.float32))


def test_isr_codes_equal_isr_input_with_and_without_a_partner() -> None:
    data = _transitions(20, 0)
    expected = isr_input(torch.from_numpy(data.obs), torch.from_numpy(data.actions))
    codes = isr_codes(data.obs, data.actions)
    assert codes.dtype == np.uint8
    assert torch.equal(torch.from_numpy(codes).float(), expected.reshape(20, -1))
    rng = np.random.default_rng(1)
    partner, cells = rng.integers(0, 5, 20), rng.integers(0, 9, (20, 2))
    expected = isr_input(
        torch.from_numpy(data.obs), torch.from_numpy(data.actions), torch.from_numpy(partner), torch.from_numpy(cells)
    )
    codes = isr_codes(data.obs, data.actions, partner, cells)
    assert torch.equal(torch.from_numpy(codes).float(), expected.reshape(20, -1))


def test_isr_kernel_forward_and_gradient_equal_autograd() -> None:
    params = init_isr([1, 2], in_channels=5)
    data = _transitions(6, 2)
    x = isr_input(torch.from_numpy(data.obs), torch.from_numpy(data.actions)).reshape(1, 6, 9, 9, 5)
    x = torch.cat([x, x.flip(1)])
    targets = torch.rand(2, 6, generator=torch.Generator().manual_seed(0))
    ref = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    pred_ref = isr_forward(ref, x)
    (pred_ref - targets).pow(2).mean(1).sum().backward()

    stack = ParamStack.from_tensors(params)
    kernel = isr_kernel(stack.params, stack.grads)
    pred = kernel.forward(x.reshape(12, -1), 6)
    torch.testing.assert_close(pred[..., 0], pred_ref.detach(), atol=1e-5, rtol=1e-5)
    kernel.backward((pred - targets[..., None]) * (2.0 / 6))
    for name, value in ref.items():
        torch.testing.assert_close(stack.grads[name], value.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_predict_equals_isr_forward() -> None:
    params = stack_isr([{k: v[0].numpy() for k, v in init_isr([s], 5).items()} for s in (3, 4)])
    data = _transitions(2, 3)
    x = isr_input(torch.from_numpy(data.obs[:, None]), torch.from_numpy(data.actions[:, None]))
    expected = isr_forward(params, x)[:, 0].detach().numpy()
    np.testing.assert_allclose(predict(params, data.obs, data.actions), expected, atol=1e-6)


def test_train_isr_batched_equals_one_dataset_at_a_time() -> None:
    datasets = [_transitions(150, 10, 0.2), _transitions(260, 11, 0.3), _transitions(90, 12, 0.1)]
    seeds = [5, 6, 7]
    config = ISRConfig(batch_size=2, eval_every=20)
    together = train_isr(datasets, seeds, config, device="cpu")
    # the shorter runs finish first and are set aside while the longest goes on
    assert together.final["isr_train_transitions"].tolist() == [135, 234, 81]
    for r, (data, seed) in enumerate(zip(datasets, seeds)):
        alone = train_isr([data], [seed], config, device="cpu")
        for key, value in alone.params[0].items():
            np.testing.assert_allclose(together.params[r][key], value, atol=1e-5, rtol=1e-5, err_msg=key)
        mine = together.curve[together.curve["run"] == r].drop(columns="run").reset_index(drop=True)
        theirs = alone.curve.drop(columns="run")
        assert mine[["draws", "split"]].equals(theirs[["draws", "split"]])
        np.testing.assert_allclose(mine["mse"], theirs["mse"], atol=1e-6, rtol=1e-4)


def test_isr_separates_goal_steps_from_other_steps() -> None:
    data = _transitions(600, 20, 0.5)
    result = train_isr([data], [0], ISRConfig(epochs=3, eval_every=500), device="cpu")
    params = stack_isr(result.params)
    held_out = slice(540, 600)
    obs, actions, targets = data.obs[held_out], data.actions[held_out], data.targets[held_out]
    pred = np.array([predict(params, obs[i : i + 1], actions[i : i + 1])[0] for i in range(len(obs))])
    assert abs(pred[targets > 0].mean() - 0.4) < 0.05
    assert abs(pred[targets == 0].mean()) < 0.05
    assert float(result.final["isr_test_mse"].iloc[0]) < 0.01
