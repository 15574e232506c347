"""Interaction logs: one in-memory representation, readers, synthetic data, splits."""

from bundle.history import Sequences
from training.data.errors import DataFormatError
from training.data.interactions import IdMap, Interactions

__all__ = ["DataFormatError", "IdMap", "Interactions", "Sequences"]
