"""valint: the reproducible companion to Rong & Kleiman-Weiner (2024), "Value Internalization".

The package holds the science of the paper (PAPER.md): the caregiver's worlds, the PPO learner,
the internalized social reward (ISR) model, the experiment protocol, the statistics and the plots.
"""
from __future__ import annotations

__version__ = "0.1.0"
