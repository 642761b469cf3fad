"""Every neural family fitted with its defaults on a 10⁴- and a 10⁵-node taxonomy.

Issue 40's table: each estimator of :mod:`skhier.neural` gets the taxonomy, the data and an
epoch budget (``max_epochs=1``) and nothing else, on the synthetic trees
``make_taxonomy(4, 10)`` (11,111 nodes) and ``make_taxonomy(5, 10)`` (111,111 nodes), with
300 samples of 16 features (one leaf each). Each (family, size) runs in a fresh process
under an address-space cap (``--cap-gb``, default 8: the issue's budget), so a fit that
needs more fails with ``MemoryError`` and the table says so instead of swapping. For the
two families that read label texts (``HCCFClassifier``, ``CMSGClassifier``: the bundled
MiniLM encodes every node's prompt) a second fit of a fresh estimator in the same process
shows the in-process cache; for the others the second fit is the warm one.

    python benchmarks/bench_families.py                      # both sizes, every family
    python benchmarks/bench_families.py --sizes 4 --families HCCFClassifier
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

FAMILIES = ("FlatSoftmaxClassifier", "HierarchicalLossClassifier", "KFRClassifier", "HCAMCLClassifier",
            "HCCFClassifier", "HMLCEncoder", "MultiLabelNodeClassifier", "CMSGClassifier", "CHMCNNClassifier")
#: the families whose default reads label texts: their second fit is the cached one
TEXT_READING = ("HCCFClassifier", "CMSGClassifier")
#: families fitted on a node indicator (multi-label); the others on one leaf name per sample
MULTILABEL = ("MultiLabelNodeClassifier", "CMSGClassifier", "CHMCNNClassifier")


def _data(tax, n_samples=300, seed=0):
    from skhier.labels import node_indices_to_indicator

    rng = np.random.default_rng(seed)
    leaves = rng.choice(np.flatnonzero(tax.is_leaf), n_samples)
    X = rng.normal(size=(n_samples, 16)).astype(np.float32)
    X[:, 0] += leaves % 13
    return X, np.array(tax.nodes, dtype=object)[leaves], node_indices_to_indicator(leaves, tax)


def _stand_in_encoder(texts, *args, **kwargs):
    """MiniLM's shape without its cost: 384 dimensions seeded by a CRC of each text, L2-normalised."""
    import zlib

    out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=384) for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _measure(family, levels, cap_gb, queue, n_samples=300, stand_in=False):
    if cap_gb:
        cap = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        import skhier.neural as neural
        from skhier.datasets import make_taxonomy

        if stand_in:  # the label texts' encoder replaced: times the rest of the fit
            from skhier.neural import text

            text._minilm_encode = _stand_in_encoder
        tax = make_taxonomy(levels, 10)
        X, y, Y = _data(tax, n_samples)
        target = Y if family in MULTILABEL else y
        cls = getattr(neural, family)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            cls(tax, max_epochs=1).fit(X, target)
            times.append(time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
        with open("/proc/self/status") as f:  # the address space's peak, what the cap bounds
            vm = next((int(line.split()[1]) / 2**10 for line in f if line.startswith("VmPeak")), float("nan"))
        queue.put({"n_nodes": tax.n_nodes, "first": times[0], "second": times[1], "peak_mb": peak, "vm_mb": vm})
    except MemoryError as exc:
        queue.put({"error": f"MemoryError over the {cap_gb:g} GB cap ({str(exc)[:80]})"})
    except Exception as exc:  # noqa: BLE001 -- a benchmark row says what failed
        queue.put({"error": f"{type(exc).__name__}: {str(exc)[:120]}"})


def families_table(families, sizes, cap_gb, timeout=0, n_samples=300, stand_in=False):
    ctx = mp.get_context("spawn")
    lines = ["| family | n_nodes | first fit s | second fit s | peak RSS MB | peak address space MB | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    print("\n".join(lines), flush=True)
    for levels in sizes:
        for family in families:
            q = ctx.Queue()
            p = ctx.Process(target=_measure, args=(family, levels, cap_gb, q, n_samples, stand_in))
            t0 = time.perf_counter()
            p.start()
            try:
                r = q.get(timeout=timeout or None)  # before join: a result must not block the child's exit
            except queue.Empty:
                p.kill()
                r = {"error": f"not done in {timeout:g} s (killed)"}
            p.join()
            n = sum(10**k for k in range(levels + 1))
            if "error" in r:
                lines.append(f"| {family} | {n:,} | - | - | - | - | failed after {time.perf_counter() - t0:.0f} s: "
                             f"{r['error']} |")
            else:
                note = "second fit: the cached label texts" if family in TEXT_READING else ""
                lines.append(f"| {family} | {r['n_nodes']:,} | {r['first']:.1f} | {r['second']:.1f} | "
                             f"{r['peak_mb']:.0f} | {r['vm_mb']:.0f} | {note} |")
            print(lines[-1], flush=True)
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--sizes", default="4,5", help="levels of make_taxonomy(levels, 10): 4 -> 11,111 nodes")
    p.add_argument("--cap-gb", type=float, default=8.0, help="address-space cap per fit (0: none)")
    p.add_argument("--timeout", type=float, default=0, help="seconds a row may take before it is killed (0: none)")
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--stand-in", action="store_true",
                   help="replace MiniLM by a 384-dimensional hash encoder (times the rest of a text-reading fit)")
    args = p.parse_args(argv)
    print(machine(), flush=True)
    print(f"{args.samples} samples x 16 features, one leaf each; each estimator gets the taxonomy, the data and "
          f"max_epochs=1; address space capped at {args.cap_gb:g} GB; one fresh process per row"
          + ("; MiniLM replaced by a hash encoder (--stand-in)" if args.stand_in else ""), flush=True)
    return families_table(args.families.split(","), [int(s) for s in args.sizes.split(",")], args.cap_gb,
                          args.timeout, args.samples, args.stand_in)


if __name__ == "__main__":
    main()
