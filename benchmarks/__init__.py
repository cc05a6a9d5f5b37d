"""Measurements of valint's trainer, kept apart from the science in ``valint/``.

``python -m valint bench`` (``valint.bench``) runs them when this package is importable (a
checkout of the repository, or an install of it: ``pyproject.toml`` ships it beside
``valint``):

- ``benchmarks.throughput``: environment steps per second of valint's batched PPO in the paper's
  setting (PAPER.md §4, §10), the training arithmetic they amount to, and the report;
- ``benchmarks.gradients``: one PPO minibatch gradient by the hand-written stacked kernel valint
  trains with, by ``torch.func.vmap(grad(...))`` and by plain autograd, side by side;
- ``benchmarks.peak``: the machine's matrix-multiply peak and the ceiling of the network's own
  matrix products;
- ``benchmarks.sb3``: the authors' pipeline, Stable-Baselines3 PPO on the MiniGrid world (the
  optional extra ``bench``).
"""
