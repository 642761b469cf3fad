"""Data sets with a taxonomy: Fashion-MNIST (H-CNN hierarchy), multi-label Fashion mosaics,
the HMC benchmark (FunCat trees and Gene Ontology DAGs) and a synthetic generator."""

from ._fashion_mnist import FASHION_MNIST_HIERARCHIES, load_fashion_mnist
from ._hmc import HMC_DATASETS, hmc_recipe, load_hmc, load_hmc_arff
from ._mosaics import OUTFITS, make_fashion_mosaics
from ._synthetic import make_hierarchical_classification, make_taxonomy

__all__ = [
    "FASHION_MNIST_HIERARCHIES",
    "HMC_DATASETS",
    "OUTFITS",
    "load_fashion_mnist",
    "load_hmc",
    "load_hmc_arff",
    "hmc_recipe",
    "make_fashion_mosaics",
    "make_hierarchical_classification",
    "make_taxonomy",
]
