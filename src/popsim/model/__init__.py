"""The Mesa model: the monthly step table, the regime, the initial population."""

from popsim.model.township import PopsimModel, Village

__all__ = ["PopsimModel", "Village"]
