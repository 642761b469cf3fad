"""Train a skhier estimator through accelerate, in one process or under torchrun.

The two-process test (tests/neural/test_accelerate.py) runs, on the CPU with gloo::

    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node 2 tests/neural/accelerate_train.py \
        --estimator hcam --batch-size 32 --out /tmp/hcam.npz

and compares what the main process saved with one process trained at batch size 64
(two processes at 32 each step on the same 64 rows). On GPUs, ``accelerate launch
--multi_gpu --num_processes 8 tests/neural/accelerate_train.py ...`` runs the same script.
"""

import argparse

import numpy as np
import torch
from accelerate import Accelerator

from skhier.datasets import make_hierarchical_classification
from skhier.neural import AccelerateMixin, FlatSoftmaxClassifier, HCAMCLClassifier
from skhier.neural.data import HierarchicalValidSplit


class AcceleratedFlatSoftmax(AccelerateMixin, FlatSoftmaxClassifier):
    """FlatSoftmaxClassifier trained through accelerate."""


class AcceleratedHCAMCL(AccelerateMixin, HCAMCLClassifier):
    """HCAMCLClassifier (teacher forcing in its own step) trained through accelerate."""


ESTIMATORS = {"flat": (FlatSoftmaxClassifier, AcceleratedFlatSoftmax), "hcam": (HCAMCLClassifier, AcceleratedHCAMCL)}


def data():
    """640 samples: a 64-sample validation split and 576 = 9 x 64 training samples."""
    X, y, tax = make_hierarchical_classification(640, 16, n_levels=2, branching=3, class_sep=2.0, random_state=0)
    return X.astype(np.float32), y, tax


def params(estimator, batch_size):
    """Equal settings for the single- and multi-process runs (no dropout: its masks
    would differ between processes)."""
    common = dict(
        max_epochs=2, batch_size=batch_size, lr=3e-3, random_state=0,
        train_split=HierarchicalValidSplit(0.1, random_state=0),
        backbone="mlp", backbone__hidden=(32,), backbone__dropout=0.0,
    )
    return {**common, "module__dropout": 0.0}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default="flat")
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--mixed-precision", default="no", choices=["no", "bf16", "fp16"])
    parser.add_argument("--out", required=True, help="an .npz file the main process writes")
    args = parser.parse_args()
    X, y, tax = data()
    # on a machine without GPUs accelerate goes multi-process only when told cpu=True
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=args.mixed_precision)
    cls = ESTIMATORS[args.estimator][1]
    clf = cls(tax, accelerator=accelerator, **params(args.estimator, args.batch_size)).fit(X, y)
    proba = clf.predict_proba(X)
    if accelerator.is_main_process:
        hist = clf.history
        np.savez(
            args.out, proba=proba, n_processes=accelerator.num_processes,
            train_batches=np.array(hist[:, "train_batch_count"]),
            valid_hf1=np.array(hist[:, "valid_hf1"]), valid_loss=np.array(hist[:, "valid_loss"]),
        )


if __name__ == "__main__":
    main()
