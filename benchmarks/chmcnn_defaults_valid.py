"""CHMCNNClassifier's early-stopping default, chosen on validation splits only (never test).

For each dataset and seed, fitted on the benchmark's training split and scored (micro
AU(PRC)) on its validation split: ``es10`` the defaults (10 % held out, early stopping on
the held-out ``valid_ap`` with patience 10, best weights restored); ``es20`` patience 20
(the paper's); ``es10+refit`` a second fit on every training sample for the epoch count
the first one stopped at (the paper's protocol). Needs ``SKHIER_HMC_DATA``.

    python benchmarks/chmcnn_defaults_valid.py cellcycle_FUN,eisen_FUN,expr_FUN
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hmc  # noqa: E402
from _common import machine  # noqa: E402


def main(argv=None):
    from skhier.neural import CHMCNNClassifier

    argv = sys.argv[1:] if argv is None else argv
    torch.set_num_threads(1)
    print(machine(), flush=True)
    for name in (argv[0] if argv else "cellcycle_FUN,eisen_FUN,expr_FUN").split(","):
        X, Y, Xv, Yv, tax, scored = hmc.prepared_valid_split(name)
        for seed in (0, 1):
            res = {}
            t = time.perf_counter()
            es = CHMCNNClassifier(tax, device="cpu", random_state=seed, verbose=0).fit(X, Y)
            res["es10"] = hmc.micro_ap(Yv, es.predict_proba(Xv), scored)
            best = int(np.argmax(es.history[:, "valid_ap"])) + 1
            first = time.perf_counter() - t
            es20 = CHMCNNClassifier(tax, device="cpu", random_state=seed, verbose=0, patience=20).fit(X, Y)
            res["es20"] = hmc.micro_ap(Yv, es20.predict_proba(Xv), scored)
            t = time.perf_counter()
            refit = CHMCNNClassifier(tax, device="cpu", random_state=seed, verbose=0, train_split=None,
                                     max_epochs=best).fit(X, Y)
            res["es10+refit"] = hmc.micro_ap(Yv, refit.predict_proba(Xv), scored)
            print(f"{name} | seed {seed} | best epoch {best} | "
                  + " | ".join(f"{k} {v:.4f}" for k, v in res.items())
                  + f" | {first:.0f} s + refit {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
