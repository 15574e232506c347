"""Baselines every learned model must beat; importing registers them."""

from training.baselines.ease import EASE
from training.baselines.itemknn import ItemKNN
from training.baselines.last_item import LastItem
from training.baselines.popularity import Popularity, RecentPopularity

__all__ = ["EASE", "ItemKNN", "LastItem", "Popularity", "RecentPopularity"]
