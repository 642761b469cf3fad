"""The taxonomy, by concern: the value (:mod:`._core`), how it is built and checked
(:mod:`._build`), its edge storage for trees and DAGs (:mod:`._storage`), file formats
(:mod:`._io`), label lookup tables (:mod:`._lookup`) and torch-free rules on node-score
arrays (:mod:`._rules`). The public face is :class:`skhier.Taxonomy`."""

from ._core import Taxonomy
from ._lookup import NodeLookup
from ._rules import bottom_up_sum, sorted_classes, top_down_product

__all__ = ["Taxonomy", "NodeLookup", "sorted_classes", "top_down_product", "bottom_up_sum"]
