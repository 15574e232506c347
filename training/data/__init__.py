"""Interaction logs: one in-memory representation, readers, synthetic data, splits."""

from training.data.errors import DataFormatError
from training.data.interactions import IdMap, Interactions, Sequences

__all__ = ["DataFormatError", "IdMap", "Interactions", "Sequences"]
