"""The internalized social reward (ISR) model: a learned R_i(s, a) (PAPER.md §4, §7, §9).

While the caregiver is present, every transition is stored as (observation, action, target)
with target = max(reward, 0): 0.4 on steps that earned the social reward, 0 otherwise. After
phase 1 the ISR is trained once, then frozen, and in phase 2 its prediction pays the learner
(``valint.social.isr_pay``).

Network (PAPER.md §4, described once in ``valint.networks.ISR_NETWORK``): the 9x9x4 view plus
one action channel holding the action index at the agent's cell (two channels in the prosocial
world: the learner's action at its cell and the partner's at the partner's cell); Conv 5->16
(2x2) ReLU, Conv 16->32 (2x2) ReLU, flatten, Linear ->32 ReLU, Linear 32->32 ReLU, Linear 32->1.
The convolutions run over the two spatial
axes with the observation channels as channels; the original convolved over the x axis as if
it were the channels (PAPER.md §9), which this project does not repeat.

Training: chronological split (first 90 % train, last 10 % held out), class-balanced sampling
with replacement (each draw is a social-reward step with probability 1/2), one epoch of
len(train) draws, MSE, Adam (eps 1e-5), gradient clip 1.0. The held-out set is only evaluated,
never trained on (the original took an optimizer step on each test sample, PAPER.md §9).

Several ISRs (seeds, data sizes) train as one stacked batch (``valint.nets``).
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from valint.config import ISRConfig
from valint.nets import (
    AdamConfig,
    ParamStack,
    SequentialKernel,
    StackedAdam,
    Workspace,
    flushed_denormals,
    generators_for,
    numpy_rngs,
    select_device,
    torch_threads,
)
from valint.networks import ISR_NETWORK

INIT_STREAM, DRAW_STREAM = 21, 22
VIEW = (9, 9)
"""Rows and columns of the egocentric view (PAPER.md §3)."""
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
    """Stacked ISR weights, one set per seed (``valint.networks.ISR_NETWORK``).

    Convolutions take PyTorch's default initialisation (uniform in +-1/sqrt(fan_in)); the linear
    layers are orthogonal with gain sqrt(2) and zero bias (PAPER.md §4).
    """
    return ISR_NETWORK.init((*VIEW, in_channels), generators_for(seeds, INIT_STREAM))


def isr_forward(params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Predicted social reward ``(R, N)`` for ISR inputs ``(R, N, 9, 9, C)``.

    The plain, differentiable statement of ``valint.networks.ISR_NETWORK``; training and
    prediction run the same function through :func:`isr_kernel`.
    """
    return ISR_NETWORK.forward(params, x)["isr"].squeeze(-1)


def isr_kernel(
    params: Mapping[str, torch.Tensor],
    grads: Mapping[str, torch.Tensor] | None = None,
    *,
    workspace: Workspace | None = None,
) -> SequentialKernel:
    """:func:`isr_forward` with a hand-written backward pass (weight gradients into ``grads``).

    Its input is ``(R * N, 9 * 9 * C)`` float, run-major (see :func:`isr_codes`); its output
    ``(R, N, 1)``.
    """
    ws = workspace if workspace is not None else Workspace(params["conv1.w"].device)
    in_shape = (*VIEW, params["conv1.w"].shape[-2] // 4)
    return ISR_NETWORK.kernels(params, grads if grads is not None else params, in_shape, ws)["isr"]


def isr_codes(
    obs: np.ndarray,
    actions: np.ndarray,
    partner_actions: np.ndarray | None = None,
    partner_cells: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`isr_input` as uint8 ``(N, 9 * 9 * C)``, one row per transition.

    Every entry of the ISR's input is a small integer (object, colour and state indices, the
    goal flag, action indices), so the inputs of a whole phase 1 are stored once as bytes and
    converted to float a minibatch at a time.
    """
    n, h, w, c = obs.shape
    extra = 1 if partner_actions is None else 2
    assert int(np.max(actions, initial=0)) < 256, "action indices must fit in a byte"
    out = np.zeros((n, h, w, c + extra), dtype=np.uint8)
    out[..., :c] = obs
    out[:, AGENT_CELL[0], AGENT_CELL[1], c] = actions
    if partner_actions is not None:
        cells = np.asarray(partner_cells).reshape(n, 2)
        out[np.arange(n), cells[:, 0], cells[:, 1], c + 1] = partner_actions
    return out.reshape(n, -1)


def _view_scale(obs_channels: int, in_channels: int, obs_scale: float, device) -> torch.Tensor | None:
    """``(9 * 9 * in_channels,)`` factors: ``obs_scale`` on the view's channels, 1 on the action
    channels; None when ``obs_scale`` is 1 (the raw codes, PAPER.md §4 and §7)."""
    if obs_scale == 1.0:
        return None
    per_cell = torch.ones(in_channels)
    per_cell[:obs_channels] = obs_scale
    return per_cell.repeat(VIEW[0] * VIEW[1]).to(device)


class StackedData:
    """Several runs' transitions as ISR inputs in one flat array, indexed by run offsets.

    ``obs_scale`` multiplies the view's channels (the world's observation scale; the action
    channels stay action indices).
    """

    def __init__(self, datasets: Sequence[Transitions], device: torch.device | str = "cpu",
                 *, obs_scale: float = 1.0) -> None:
        self.sizes = np.array([len(d) for d in datasets])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        with_partner = datasets[0].partner_actions is not None
        self.in_channels = datasets[0].obs.shape[-1] + (2 if with_partner else 1)
        self.codes = torch.from_numpy(
            np.concatenate(
                [isr_codes(d.obs, d.actions, d.partner_actions, d.partner_cells) for d in datasets]
            )
        ).to(device)
        self.targets = torch.from_numpy(
            np.concatenate([d.targets for d in datasets]).astype(np.float32)
        ).to(device)
        self.scale = _view_scale(datasets[0].obs.shape[-1], self.in_channels, obs_scale, device)

    def inputs(self, index: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float ISR inputs ``(M, 9 * 9 * C)`` (written into ``out``) and targets ``(M,)`` at
        global indices ``(M,)``."""
        out.copy_(self.codes.index_select(0, index))
        if self.scale is not None:
            out.mul_(self.scale)
        return out, self.targets.index_select(0, index)


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


def _mse(kernel: SequentialKernel, data: StackedData, index: torch.Tensor, max_rows: int = 8192) -> np.ndarray:
    """Per-run MSE over ``index (R, M)`` global indices, evaluated without gradients."""
    n_runs, m = index.shape
    total = torch.zeros(n_runs, dtype=torch.float64, device=index.device)
    chunk = max(1, max_rows // n_runs)
    with torch.no_grad():
        for start in range(0, m, chunk):
            part = index[:, start : start + chunk]
            size = part.shape[1]
            buf = kernel.ws.get("eval_x", (n_runs * size, data.codes.shape[1]))
            x, y = data.inputs(part.reshape(-1), buf)
            pred = kernel.forward(x, size, mode="eval").view(n_runs, size)
            total += (pred - y.view(n_runs, size)).pow(2).double().sum(dim=1)
    return (total / max(m, 1)).cpu().numpy()


@dataclass
class ISRResult:
    """Trained ISRs, one per dataset."""

    params: list[dict[str, np.ndarray]]
    """Each run's final weights."""
    curve: pd.DataFrame
    """run, draws, split (train / test), mse: the points of Fig. 3a."""
    final: pd.DataFrame
    """run, isr_train_transitions, isr_test_mse, isr_train_mse: the points of Fig. 3b."""


@flushed_denormals()
def train_isr(
    datasets: Sequence[Transitions],
    seeds: Sequence[int],
    config: ISRConfig,
    *,
    eval_sample: int = 2048,
    train_sizes: Sequence[int | None] | None = None,
    obs_scale: float = 1.0,
    device: str | torch.device | None = None,
) -> ISRResult:
    """Train one ISR per dataset, stacked (PAPER.md §4).

    Runs whose number of gradient steps differ are trained together until the shorter ones
    finish; the finished ones are then set aside (Adam is element-wise, so this is exact).
    Gradients are computed by hand (:func:`isr_kernel`): with one draw per step, autograd's
    bookkeeping would cost far more than the arithmetic.

    Args:
        datasets: each run's phase-1 transitions, in chronological order.
        seeds: one seed per run (initial weights and draws).
        config: the ISR hyperparameters of the figure.
        eval_sample: at most this many training transitions (a fixed random subset) for the
            train-MSE points; the held-out MSE uses the whole held-out split.
        train_sizes: per run, train on only the first k transitions of the chronological
            training split (None: all of it). The held-out split stays the last
            ``config.test_fraction`` of the whole dataset, so the ISRs of Fig. 3b that see
            different amounts of data are all tested on one held-out set per seed.
        obs_scale: factor on the view's channels: 1 (the raw codes) for the single-agent ISR
            of PAPER.md §4; in the two-agent world the world's scale, the same as its policy's
            (PAPER.md §7).
        device: where to train (``valint.nets.select_device``).

    Returns:
        Weights, the train/test curve and the final held-out MSE of every run.
    """
    dev = select_device(device)
    # On the CPU one thread: a step's operators are tiny (one to ten draws per run), so a
    # thread team costs more in hand-offs than it saves, its worker threads do not flush
    # subnormals (flushed_denormals), and it stalls whenever another program shares the cores.
    with torch_threads(1) if dev.type == "cpu" else contextlib.nullcontext():
        return _train_isr(datasets, seeds, config, eval_sample=eval_sample,
                          train_sizes=train_sizes, obs_scale=obs_scale, dev=dev)


def _train_isr(datasets: Sequence[Transitions], seeds: Sequence[int], config: ISRConfig, *,
               eval_sample: int, train_sizes: Sequence[int | None] | None,
               obs_scale: float, dev: torch.device) -> ISRResult:
    assert len(datasets) == len(seeds), "one seed per dataset"
    data = StackedData(datasets, dev, obs_scale=obs_scale)
    n_runs = len(datasets)
    rngs = numpy_rngs(seeds, DRAW_STREAM)
    splits = [d.split(config.test_fraction) for d in datasets]
    if train_sizes is not None:
        assert len(train_sizes) == n_runs, "one train size per dataset"
        for k, (train, _) in zip(train_sizes, splits):
            if k is not None and not 1 <= k <= len(train):
                raise ValueError(f"train size {k} must lie between 1 and the {len(train)} "
                                 "transitions of the training split")
        splits = [(train if k is None else train[:k], test)
                  for k, (train, test) in zip(train_sizes, splits)]
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

    stack = ParamStack.from_tensors(init_isr(seeds, data.in_channels), device=dev)
    adam_cfg = AdamConfig(config.learning_rate, eps=config.adam_eps, max_grad_norm=config.max_grad_norm)
    optimizer = StackedAdam(stack, adam_cfg)
    active = list(range(n_runs))
    finished: dict[int, dict[str, np.ndarray]] = {}
    curve_rows: list[dict] = []
    step = 0

    def evaluate(rows: list[int], at: int) -> None:
        """Train and held-out MSE of the active runs at these rows of the stack."""
        for split, pools in (("train", eval_train), ("test", eval_test)):
            for size in sorted({len(pools[active[i]]) for i in rows} - {0}):
                group = [i for i in rows if len(pools[active[i]]) == size]
                index = torch.from_numpy(np.stack([pools[active[i]] for i in group])).to(dev)
                kernel = isr_kernel(stack.subset(group).params)
                for i, mse in zip(group, _mse(kernel, data, index)):
                    curve_rows.append(
                        {"run": active[i], "draws": at * config.batch_size, "split": split, "mse": float(mse)}
                    )

    evaluate(list(range(n_runs)), 0)
    while active:
        horizon = int(min(n_steps[r] for r in active))
        kernel = isr_kernel(stack.params, stack.grads)
        # every draw of this stretch, step-major: row t holds step t's indices of all runs
        stretch = torch.from_numpy(
            np.stack([draws[r][step:horizon] for r in active], axis=1).reshape(horizon - step, -1)
        ).to(dev)
        batch, first = config.batch_size, step
        x_buf = kernel.ws.get("train_x", (len(active) * batch, data.codes.shape[1]))
        while step < horizon:
            x, y = data.inputs(stretch[step - first], x_buf)
            pred = kernel.forward(x, batch)
            # d/dpred of mean((pred - y)^2) over each run's batch
            dpred = (pred - y.view(pred.shape)).mul_(2.0 / batch)
            kernel.backward(dpred)
            optimizer.step()
            step += 1
            if step % config.eval_every == 0 and step < horizon:
                evaluate(list(range(len(active))), step)
        # the runs that end here get their last point; the others only on their schedule, so
        # that a run's curve does not depend on which runs share its batch
        evaluate([i for i, r in enumerate(active) if n_steps[r] == step or step % config.eval_every == 0], step)
        done = [i for i, r in enumerate(active) if n_steps[r] == step]
        for i in done:
            finished[active[i]] = stack.run_params(i)
        keep = [i for i, r in enumerate(active) if n_steps[r] > step]
        if not keep:
            break
        kept = stack.subset(keep)
        optimizer = optimizer.subset(keep, kept)
        stack = kept
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
    *,
    obs_scale: float = 1.0,
) -> np.ndarray:
    """R_i = ISR(s, a) for one observation per run: ``obs (R, 9, 9, 4)`` -> ``(R,)`` float32.

    ``obs_scale`` multiplies the view's channels, as in :func:`train_isr`.
    """
    codes = isr_codes(obs, actions, partner_actions, partner_cells)
    device = params["conv1.w"].device
    x = torch.from_numpy(codes).to(device=device, dtype=torch.float32)
    scale = _view_scale(obs.shape[-1], codes.shape[1] // (VIEW[0] * VIEW[1]), obs_scale, device)
    if scale is not None:
        x.mul_(scale)
    return isr_kernel(params).forward(x, 1, mode="predict")[:, 0, 0].cpu().numpy().astype(np.float32)
