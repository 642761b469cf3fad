"""CHMCNNClassifier's early-stopping default, chosen on validation splits only (never test).

For each dataset and seed, fitted on the benchmark's training split and scored (micro
AU(PRC)) on its validation split: ``es10`` the defaults (10 % held out, early stopping on
the held-out ``valid_ap`` with patience 10, best weights restored); ``es20`` patience 20
(the paper's); ``es10+refit`` a second fit on every training sample for the epoch count
the first one stopped at (the paper's protocol, ``refit=True``, the default since
2026-12-07). ``--variants`` names other candidates (:data:`VARIANTS`: batch sizes, patiences and
learning rates, all with the refit). Needs ``SKHIER_HMC_DATA``.

    python benchmarks/chmcnn_defaults_valid.py cellcycle_FUN,eisen_FUN,expr_FUN
    python benchmarks/chmcnn_defaults_valid.py seq_FUN,diatoms --variants es10+refit,batch32,batch16
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hmc  # noqa: E402
from _common import machine  # noqa: E402

#: candidate settings by name: keyword arguments of ``CHMCNNClassifier`` on top of its defaults as
#: they were before the weights' average became one (``averaging=None``; ``avgw0.999+refit`` is today's)
VARIANTS = {
    "es10": {"refit": False},
    "es20": {"refit": False, "patience": 20},
    "es10+refit": {},  # the defaults before the average
    "batch32": {"batch_size": 32},
    "batch16": {"batch_size": 16},
    "patience20+refit": {"patience": 20},
    "patience30+refit": {"patience": 30},
    "lr4e-4": {"lr": 4e-4},  # the paper's 1e-4 at batch 4, scaled by sqrt(64 / 4) for batch 64
    "lr4e-4+patience20+e400": {"lr": 4e-4, "patience": 20, "max_epochs": 400},
    "hidden1000": {"module__hidden": 1000},  # the paper's widths run from 250 to 9,000 per dataset
    "hidden2000": {"module__hidden": 2000},
    # the step size divided by 10 after 3 epochs without a higher held-out valid_ap (early
    # stopping's patience 10 leaves room for two drops); no refit, which would need the drops replayed
    # early stopping on the held-out loss (smoother than the AP of a small held-out tenth)
    "loss-es+refit": {"callbacks__early_stopping__monitor": "valid_loss",
                      "callbacks__early_stopping__lower_is_better": True},
    "es10+plateau": lambda: {"refit": False, "callbacks": [("lr_plateau", _plateau())]},
    # the weights' moving average (skhier.neural.callbacks.WeightAveraging): validated, early-stopped on and kept
    "avg0.99+refit": lambda: {"callbacks": [("weight_averaging", _average(0.99))]},
    "avg0.995+refit": lambda: {"callbacks": [("weight_averaging", _average(0.995))]},
    "avg0.999+refit": lambda: {"callbacks": [("weight_averaging", _average(0.999))]},
    # the same with TensorFlow's ramp: the t-th update's decay min(decay, (1 + t) / (10 + t))
    "avgw0.995+refit": lambda: {"callbacks": [("weight_averaging", _average(0.995, 10))]},
    "avgw0.999+refit": lambda: {"callbacks": [("weight_averaging", _average(0.999, 10))]},
}


def _average(decay, warmup=None):
    from skhier.neural.callbacks import WeightAveraging

    return WeightAveraging(decay, warmup)


def _plateau():
    from skorch.callbacks import LRScheduler

    return LRScheduler(policy="ReduceLROnPlateau", monitor="valid_ap", mode="max", patience=3, factor=0.1)


def main(argv=None):
    import argparse

    from skhier.neural import CHMCNNClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="?", default="cellcycle_FUN,eisen_FUN,expr_FUN")
    parser.add_argument("--variants", default="es10,es20,es10+refit", help=f"comma-separated, of {list(VARIANTS)}")
    parser.add_argument("--seeds", default="0,1")
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {list(VARIANTS)}")
    torch.set_num_threads(1)
    print(machine(), flush=True)
    for name in args.datasets.split(","):
        X, Y, Xv, Yv, tax, scored = hmc.prepared_valid_split(name)
        for seed in (int(s) for s in args.seeds.split(",")):
            res, secs, epochs = {}, {}, ""
            for v in variants:
                t = time.perf_counter()
                kwargs = {"averaging": None, **(VARIANTS[v]() if callable(VARIANTS[v]) else VARIANTS[v])}
                clf = CHMCNNClassifier(tax, device="cpu", random_state=seed, verbose=0, **kwargs).fit(X, Y)
                secs[v] = time.perf_counter() - t
                res[v] = hmc.micro_ap(Yv, clf.predict_proba(Xv), scored)
                chosen = clf.refit_epochs_ or len(clf.history)  # the refit's epochs, else the epochs run
                epochs += f" {v} {chosen}"
            print(f"{name} | seed {seed} | epochs{epochs} | "
                  + " | ".join(f"{k} {v:.4f}" for k, v in res.items())
                  + " | " + " ".join(f"{k} {v:.0f} s" for k, v in secs.items()), flush=True)


if __name__ == "__main__":
    main()
