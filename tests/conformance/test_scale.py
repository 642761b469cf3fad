"""Nothing quadratic in the taxonomy: every family on 10⁵ leaves and on a 30,000-child node.

Each shape runs ``tests/conformance/scale_check.py`` in a fresh process whose address space is
capped at 3 GiB: one dense n_leaves² or (n_nodes + 1) × n_nodes table (tens of GiB at
this size) fails there with a memory error, not by swapping the machine.
"""

import importlib.util
import resource
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("scale_check.py")
CAP = 3 << 30


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


@pytest.mark.parametrize("shape, n_nodes", [("deep", 111_111), ("wide", 30_005)])
def test_every_family_runs_on_a_huge_taxonomy_under_a_memory_cap(shape, n_nodes):
    done = subprocess.run([sys.executable, str(SCRIPT), shape], capture_output=True, text=True, timeout=600,
                          preexec_fn=_cap_memory)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert f"n_nodes={n_nodes}" in lines[0]
    ran = {line[3:].rsplit(" ", 1)[0] for line in lines[1:] if line.startswith("ok ")}
    # every estimator family, refiner and metric of tests/conformance/scale_check.py reported back
    if importlib.util.find_spec("faiss") is None:  # the semantic top-k above 20,000 labels needs the ann extra
        ran.add("CMSGClassifier semantic correlation")
    assert {"FlatSoftmaxClassifier", "HCAMCLClassifier", "CMSGClassifier", "HMLCEncoder", "KFRClassifier",
            "HCCFClassifier", "LocalClassifierPerNode", "LocalClassifierPerParentNode", "LocalClassifierPerLevel",
            "DifferentiableDiffusionRefiner", "TopDownRefiner", "hierarchical_precision_at_k",
            "operating_curve", "HCCFClassifier label texts", "CMSGClassifier semantic correlation"} <= ran
    assert len(ran) >= 40


def test_the_cap_catches_a_quadratic_table():
    # the check above can fail: a dense n_leaves² int64 table (75 GiB here) dies under the cap
    code = ("import numpy as np; from skhier.datasets import make_taxonomy; t = make_taxonomy(5, 10); "
            "np.zeros((t.n_leaves, t.n_leaves), dtype=np.int64) + 1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          preexec_fn=_cap_memory)
    assert done.returncode != 0 and "MemoryError" in done.stderr
