"""The internalized social reward (ISR) model: a learned R_i(s, a) (PAPER.md §4, §7, §9).

While the caregiver is present, every transition is stored as (observation, action, target)
with target = max(reward, 0): 0.4 on steps that earned the social reward, 0 otherwise. After
phase 1 the ISR is trained once, then frozen, and in phase 2 its prediction pays the learner
(``valint.social.isr_pay``).

Network (PAPER.md §4): the 9x9x4 view plus one action channel holding the action index at the
agent's cell (two channels in the prosocial world: the learner's action at its cell and the
partner's at the partner's cell); Conv 5->16 (2x2) ReLU, Conv 16->32 (2x2) ReLU, flatten,
Linear ->32 ReLU, Linear 32->32 ReLU, Linear 32->1. The convolutions run over the two spatial
axes with the observation channels as channels; the original convolved over the x axis as if
it were the channels (PAPER.md §9), which this project does not repeat.

Training: chronological split (first 90 % train, last 10 % held out), class-balanced sampling
with replacement (each draw is a social-reward step with probability 1/2), one epoch of
len(train) draws, MSE, Adam (eps 1e-5), gradient clip 1.0. The held-out set is only evaluated,
never trained on (the original took an optimizer step on each test sample, PAPER.md §9).

Several ISRs (seeds, data sizes) train as one stacked batch (``valint.nets``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from valint.config import ISRConfig
from valint.nets import AdamConfig, StackedAdam, conv2x2, generators_for, linear, numpy_rngs, orthogonal_stack

INIT_STREAM, DRAW_STREAM = 21, 22
AGENT_CELL = (4, 4)
"""Where the agent sits in its egocentric view (PAPER.md §3)."""


@dataclass
class Transitions:
    """Phase-1 transitions of one run, in the order they happened.

    Attributes:
        obs: ``(N, 9, 9, 4)`` uint8 observations the learner acted on.
        actions: ``(N,)`` the learner's actions.
        targets: ``(N,)`` float32, max(reward, 0): 0.4 on social-reward steps, else 0.
        partner_actions: ``(N,)`` the partner's actions (prosocial world only).
        partner_cells: ``(N, 2)`` row, column of the partner in the view (prosocial world only).
    """

    obs: np.ndarray
    actions: np.ndarray
    targets: np.ndarray
    partner_actions: np.ndarray | None = None
    partner_cells: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.actions)

    def head(self, n: int) -> Transitions:
        """The first n transitions (Fig. 3b trains on the first n of phase 1)."""
        cut = slice(0, n)
        return Transitions(
            self.obs[cut],
            self.actions[cut],
            self.targets[cut],
            None if self.partner_actions is None else self.partner_actions[cut],
            None if self.partner_cells is None else self.partner_cells[cut],
        )

    def split(self, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Chronological train and held-out indices: the last ``test_fraction`` is held out."""
        n_train = len(self) - int(round(len(self) * test_fraction))
        return np.arange(n_train), np.arange(n_train, len(self))


def isr_input(
    obs: torch.Tensor,
    actions: torch.Tensor,
    partner_actions: torch.Tensor | None = None,
    partner_cells: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ISR's input: the view plus action channels, channels last.

    Args:
        obs: ``(..., 9, 9, 4)`` uint8.
        actions: ``(...)`` the learner's actions, written at the agent's cell.
        partner_actions, partner_cells: ``(...)`` and ``(..., 2)``: the partner's action,
            written at its cell (prosocial world, PAPER.md §7).

    Returns:
        ``(..., 9, 9, 5)`` float32, or ``(..., 9, 9, 6)`` with a partner.
    """
    x = obs.float()
    plane = torch.zeros(x.shape[:-1] + (1,))
    plane[..., AGENT_CELL[0], AGENT_CELL[1], 0] = actions.float()
    planes = [x, plane]
    if partner_actions is not None:
        partner = torch.zeros(x.shape[:-1] + (1,))
        flat = partner.reshape(-1, x.shape[-3] * x.shape[-2])
        cells = partner_cells.reshape(-1, 2).long()
        flat[torch.arange(flat.shape[0]), cells[:, 0] * x.shape[-2] + cells[:, 1]] = (
            partner_actions.reshape(-1).float()
        )
        planes.append(partner)
    return torch.cat(planes, dim=-1)


def init_isr(seeds: Sequence[int], in_channels: int) -> dict[str, torch.Tensor]:
    """Stacked ISR weights, one set per seed.

    Convolutions take PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)); the linear
    layers are orthogonal with gain sqrt(2) and zero bias (PAPER.md §4).
    """
    gens = generators_for(seeds, INIT_STREAM)
    n = len(seeds)
    params: dict[str, torch.Tensor] = {}
    for name, fan_in, fan_out in (("conv1", 4 * in_channels, 16), ("conv2", 4 * 16, 32)):
        bound = 1.0 / math.sqrt(fan_in)
        w = torch.stack([torch.rand(fan_in, fan_out, generator=g) for g in gens])
        b = torch.stack([torch.rand(1, fan_out, generator=g) for g in gens])
        params[f"{name}.w"] = (w * 2 - 1) * bound
        params[f"{name}.b"] = (b * 2 - 1) * bound
    for name, fan_in, fan_out in (("fc1", 32 * 7 * 7, 32), ("fc2", 32, 32), ("out", 32, 1)):
        params[f"{name}.w"] = orthogonal_stack((fan_in, fan_out), math.sqrt(2.0), gens)
        params[f"{name}.b"] = torch.zeros(n, 1, fan_out)
    return params


def isr_forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Predicted social reward ``(R, N)`` for ISR inputs ``(R, N, 9, 9, C)``."""
    p = params
    h = torch.relu(conv2x2(x, p["conv1.w"], p["conv1.b"]))
    h = torch.relu(conv2x2(h, p["conv2.w"], p["conv2.b"]))
    h = h.reshape(h.shape[0], h.shape[1], -1)
    h = torch.relu(linear(h, p["fc1.w"], p["fc1.b"]))
    h = torch.relu(linear(h, p["fc2.w"], p["fc2.b"]))
    return linear(h, p["out.w"], p["out.b"]).squeeze(-1)


class StackedData:
    """Several runs' transitions in one flat array, indexed by run offsets."""

    def __init__(self, datasets: Sequence[Transitions]) -> None:
        self.sizes = np.array([len(d) for d in datasets])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.obs = torch.from_numpy(np.concatenate([d.obs for d in datasets]))
        self.actions = torch.from_numpy(np.concatenate([d.actions for d in datasets]))
        self.targets = torch.from_numpy(np.concatenate([d.targets for d in datasets]).astype(np.float32))
        with_partner = datasets[0].partner_actions is not None
        self.partner_actions = (
            torch.from_numpy(np.concatenate([d.partner_actions for d in datasets])) if with_partner else None
        )
        self.partner_cells = (
            torch.from_numpy(np.concatenate([d.partner_cells for d in datasets])) if with_partner else None
        )

    @property
    def in_channels(self) -> int:
        return self.obs.shape[-1] + (2 if self.partner_actions is not None else 1)

    def inputs(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ISR inputs and targets at global indices of any shape."""
        pa = None if self.partner_actions is None else self.partner_actions[index]
        pc = None if self.partner_cells is None else self.partner_cells[index]
        x = isr_input(self.obs[index], self.actions[index], pa, pc)
        return x, self.targets[index]


def balanced_draws(
    targets: np.ndarray, train_index: np.ndarray, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Class-balanced draws with replacement from the training indices (PAPER.md §4).

    Each draw is a social-reward step (target > 0) with probability 1/2, then uniform within its
    class; if one class is empty every draw comes from the other.
    """
    positive = train_index[targets[train_index] > 0]
    negative = train_index[targets[train_index] <= 0]
    coin = rng.random(n_draws) < 0.5
    if len(positive) == 0 or len(negative) == 0:
        pool = positive if len(positive) else negative
        return pool[rng.integers(0, len(pool), n_draws)]
    pick_pos = positive[rng.integers(0, len(positive), n_draws)]
    pick_neg = negative[rng.integers(0, len(negative), n_draws)]
    return np.where(coin, pick_pos, pick_neg)


def _mse(params, data: StackedData, index: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    """Per-run MSE over ``index (R, M)`` global indices, evaluated without gradients."""
    total = torch.zeros(index.shape[0], dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, index.shape[1], chunk):
            part = index[:, start : start + chunk]
            x, y = data.inputs(part)
            total += (isr_forward(params, x) - y).pow(2).double().sum(dim=1)
    return (total / max(index.shape[1], 1)).numpy()


@dataclass
class ISRResult:
    """Trained ISRs, one per dataset."""

    params: list[dict[str, np.ndarray]]
    """Each run's final weights."""
    curve: pd.DataFrame
    """run, draws, split (train / test), mse: the points of Fig. 3a."""
    final: pd.DataFrame
    """run, isr_train_transitions, isr_test_mse, isr_train_mse: the points of Fig. 3b."""


def train_isr(
    datasets: Sequence[Transitions],
    seeds: Sequence[int],
    config: ISRConfig,
    *,
    eval_sample: int = 2048,
) -> ISRResult:
    """Train one ISR per dataset, stacked (PAPER.md §4).

    Runs whose number of gradient steps differ are trained together until the shorter ones
    finish; the finished ones are then set aside (Adam is element-wise, so this is exact).

    Args:
        datasets: each run's phase-1 transitions, in chronological order.
        seeds: one seed per run (initial weights and draws).
        config: the ISR hyperparameters of the figure.
        eval_sample: at most this many training transitions (a fixed random subset) for the
            train-MSE points; the held-out MSE uses the whole held-out split.

    Returns:
        Weights, the train/test curve and the final held-out MSE of every run.
    """
    assert len(datasets) == len(seeds), "one seed per dataset"
    data = StackedData(datasets)
    n_runs = len(datasets)
    rngs = numpy_rngs(seeds, DRAW_STREAM)
    splits = [d.split(config.test_fraction) for d in datasets]
    n_draws = [config.epochs * len(train) for train, _ in splits]
    if config.max_draws is not None:
        n_draws = [min(n, config.max_draws) for n in n_draws]
    n_steps = np.array([n // config.batch_size for n in n_draws])
    draws = [
        balanced_draws(d.targets, train, int(k * config.batch_size), rng).reshape(k, config.batch_size)
        + offset
        for d, (train, _), k, rng, offset in zip(datasets, splits, n_steps, rngs, data.offsets)
    ]
    eval_train = [
        rng.choice(train, size=min(eval_sample, len(train)), replace=False) + off
        for (train, _), rng, off in zip(splits, rngs, data.offsets)
    ]
    eval_test = [test + off for (_, test), off in zip(splits, data.offsets)]

    params = init_isr(seeds, data.in_channels)
    for p in params.values():
        p.requires_grad_(True)
    adam_cfg = AdamConfig(config.learning_rate, eps=config.adam_eps, max_grad_norm=config.max_grad_norm)
    active = list(range(n_runs))
    finished: dict[int, dict[str, np.ndarray]] = {}
    curve_rows: list[dict] = []
    optimizer = StackedAdam(params, adam_cfg)
    step = 0

    def evaluate(runs: list[int], at: int) -> None:
        for split, pools in (("train", eval_train), ("test", eval_test)):
            sizes = {len(pools[r]) for r in runs}
            for size in sizes:
                group = [i for i, r in enumerate(runs) if len(pools[r]) == size]
                if size == 0:
                    continue
                sub = {k: v[group] for k, v in params.items()}
                index = torch.from_numpy(np.stack([pools[runs[i]] for i in group]))
                for i, mse in zip(group, _mse(sub, data, index)):
                    curve_rows.append(
                        {"run": runs[i], "draws": at * config.batch_size, "split": split, "mse": float(mse)}
                    )

    evaluate(active, 0)
    while active:
        horizon = int(min(n_steps[r] for r in active))
        while step < horizon:
            index = torch.from_numpy(np.stack([draws[r][step] for r in active]))
            x, y = data.inputs(index)
            loss = (isr_forward(params, x) - y).pow(2).mean(dim=1)
            optimizer.zero_grad()
            loss.sum().backward()
            optimizer.step()
            step += 1
            if step % config.eval_every == 0 and step < horizon:
                evaluate(active, step)
        evaluate(active, step)
        done = [i for i, r in enumerate(active) if n_steps[r] == step]
        for i in done:
            finished[active[i]] = {k: v[i].detach().numpy().copy() for k, v in params.items()}
        keep = [i for i, r in enumerate(active) if n_steps[r] > step]
        if not keep:
            break
        kept_states = [optimizer.run_state(i) for i in keep]
        params = {k: v.detach()[keep].clone().requires_grad_(True) for k, v in params.items()}
        optimizer = StackedAdam(params, adam_cfg)
        optimizer.load_run_states(kept_states)
        active = [active[i] for i in keep]

    curve = pd.DataFrame(curve_rows).drop_duplicates(["run", "draws", "split"], keep="last")
    final = curve[curve["split"] == "test"].sort_values("draws").groupby("run").tail(1)
    final_train = curve[curve["split"] == "train"].sort_values("draws").groupby("run").tail(1)
    summary = pd.DataFrame(
        {
            "run": np.arange(n_runs),
            "isr_train_transitions": [len(train) for train, _ in splits],
            "isr_test_mse": final.set_index("run")["mse"].reindex(range(n_runs)).to_numpy(),
            "isr_train_mse": final_train.set_index("run")["mse"].reindex(range(n_runs)).to_numpy(),
        }
    )
    return ISRResult(
        [finished[r] for r in range(n_runs)],
        curve.sort_values(["run", "split", "draws"]).reset_index(drop=True),
        summary,
    )


def stack_isr(params: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack several runs' saved ISR weights for prediction in phase 2."""
    return {k: torch.from_numpy(np.stack([p[k] for p in params])) for k in params[0]}


@torch.no_grad()
def predict(
    params: dict[str, torch.Tensor],
    obs: np.ndarray,
    actions: np.ndarray,
    partner_actions: np.ndarray | None = None,
    partner_cells: np.ndarray | None = None,
) -> np.ndarray:
    """R_i = ISR(s, a) for one observation per run: ``obs (R, 9, 9, 4)`` -> ``(R,)`` float32."""
    pa = None if partner_actions is None else torch.from_numpy(partner_actions[:, None])
    pc = None if partner_cells is None else torch.from_numpy(partner_cells[:, None])
    x = isr_input(torch.from_numpy(obs[:, None]), torch.from_numpy(actions[:, None]), pa, pc)
    return isr_forward(params, x)[:, 0].numpy().astype(np.float32)
