"""Local classifiers around any scikit-learn estimator (the HiClass family)."""

from ._local import LocalClassifierPerLevel, LocalClassifierPerNode, LocalClassifierPerParentNode

__all__ = ["LocalClassifierPerLevel", "LocalClassifierPerNode", "LocalClassifierPerParentNode"]
