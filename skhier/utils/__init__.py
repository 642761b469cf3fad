"""Utilities for developers of skhier estimators (and of estimators built on skhier)."""
