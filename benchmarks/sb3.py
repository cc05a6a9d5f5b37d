"""The authors' pipeline: Stable-Baselines3 PPO on the MiniGrid world (PAPER.md §4, §10).

Needs the optional extra ``bench`` (``pip install -e '.[bench]'``). The model is built from the
policy's layer table (``valint.networks.policy_network``), so that it is the network valint
trains: the table's body as SB3's features extractor (:class:`TableCnn`), its heads as SB3's
``net_arch`` and activation, its last layers as SB3's action and value nets (whose orthogonal
gains, 0.01 and 1, are SB3's own).
"""
from __future__ import annotations

import importlib.util
import time
from typing import Any

import torch

from valint.networks import Network, policy_network

BENCH_SEED = 0
"""Seed of the benchmark's Stable-Baselines3 run."""


def sb3_available() -> bool:
    """Whether Stable-Baselines3 (the ``bench`` extra) is installed."""
    return importlib.util.find_spec("stable_baselines3") is not None


def _activation(name: str | None) -> type[torch.nn.Module]:
    return {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[name]


def body_module(network: Network, obs_shape: tuple[int, int, int]) -> torch.nn.Sequential:
    """The table's ``body`` chain as a channels-first ``torch.nn`` module: ``Conv2d(C_in, C_out,
    2)`` for a convolution, ``Flatten`` before the first dense layer, ``Linear`` for a dense
    layer, each followed by its activation."""
    modules: list[torch.nn.Module] = []
    for placed in network.place(obs_shape)["body"]:
        if placed.grid is not None:
            modules.append(torch.nn.Conv2d(placed.fan_in // 4, placed.fan_out, 2))
        else:
            if not any(isinstance(m, torch.nn.Linear) for m in modules):
                modules.append(torch.nn.Flatten())
            modules.append(torch.nn.Linear(placed.fan_in, placed.fan_out))
        if placed.layer.activation is not None:
            modules.append(_activation(placed.layer.activation)())
    return torch.nn.Sequential(*modules)


def _table_cnn() -> type:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class TableCnn(BaseFeaturesExtractor):
        """The policy table's body on SB3's channels-first image batches."""

        def __init__(self, observation_space: Any, n_actions: int) -> None:
            network = policy_network(n_actions)
            channels, height, width = observation_space.shape
            body = body_module(network, (height, width, channels))
            super().__init__(observation_space, network.place((height, width, channels))["body"][-1].fan_out)
            self.body = body

        def forward(self, observations: torch.Tensor) -> torch.Tensor:
            return self.body(observations)

    return TableCnn


def sb3_policy_kwargs(network: Network) -> dict[str, Any]:
    """SB3's ``net_arch`` and ``activation_fn`` from the table's ``pi`` and ``vf`` chains (all
    but their last layer, which SB3 adds as its action and value nets)."""
    chains = {chain.name: chain.layers for chain in network.chains}
    hidden = [layer for name in ("pi", "vf") for layer in chains[name][:-1]]
    activations = {layer.activation for layer in hidden}
    assert len(activations) == 1, f"SB3 takes one activation for both heads, the table has {activations}"
    return {
        "net_arch": {name: [layer.width for layer in chains[name][:-1]] for name in ("pi", "vf")},
        "activation_fn": _activation(activations.pop()),
    }


def make_sb3_model(seed: int = BENCH_SEED) -> Any:
    """Stable-Baselines3 PPO on the MiniGrid world with its caregiver, as the authors ran it.

    One ``valint.envs.SocialGridEnv`` (3 random walls) wrapped in ``valint.social.Caregiver``,
    ``ActorCriticCnnPolicy`` with the policy table's body and heads (module docstring),
    learning rate 1e-4, 2,048 steps per rollout, minibatches of 64, 10 epochs, everything else
    SB3's defaults.
    """
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import ActorCriticCnnPolicy

    from valint.envs import N_ACTIONS, SocialGridEnv
    from valint.social import Caregiver

    env = Caregiver(SocialGridEnv("random-3"), present=True)
    return PPO(
        ActorCriticCnnPolicy,
        env,
        learning_rate=1e-4,
        n_steps=2048,
        batch_size=64,
        n_epochs=10,
        seed=seed,
        device="cpu",
        verbose=0,
        policy_kwargs={
            "features_extractor_class": _table_cnn(),
            "features_extractor_kwargs": {"n_actions": N_ACTIONS},
            **sb3_policy_kwargs(policy_network(N_ACTIONS)),
        },
    )


def time_sb3(n_rollouts: int) -> float:
    """Wall seconds of ``n_rollouts`` rollouts + updates of :func:`make_sb3_model`."""
    model = make_sb3_model()
    start = time.perf_counter()
    model.learn(total_timesteps=n_rollouts * model.n_steps)
    return time.perf_counter() - start
