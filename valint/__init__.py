"""valint: the reproducible companion to Rong & Kleiman-Weiner (2024), "Value Internalization".

The package holds the science of the paper (PAPER.md): the caregiver's worlds, the PPO learner,
the internalized social reward (ISR) model, the experiment protocol, the statistics and the plots.

Importing the package registers the gymnasium ids ``valint/SocialGrid-v0``,
``valint/SocialGridLayout-v0`` and ``valint/Prosocial-v0``.
"""
from __future__ import annotations

__version__ = "0.1.0"

from valint.social import register_envs

register_envs()
