"""Data sets with a taxonomy: Fashion-MNIST (H-CNN hierarchy) and a synthetic generator."""

from ._fashion_mnist import FASHION_MNIST_HIERARCHIES, load_fashion_mnist
from ._synthetic import make_hierarchical_classification, make_taxonomy

__all__ = [
    "FASHION_MNIST_HIERARCHIES",
    "load_fashion_mnist",
    "make_hierarchical_classification",
    "make_taxonomy",
]
