"""The defaults that come from a method's paper, in one place.

Every default of a paper-backed class that is not listed here is ours, and its
docstring must not call it the paper's: ``tests/conformance/test_paper_defaults.py`` checks the
signatures against this table and the docstrings against it. Values are
``(default, where the paper says so)``.
"""

from __future__ import annotations

#: class name -> {parameter: (paper value, source)}
PAPER_DEFAULTS = {
    "CHMCNNClassifier": {
        "backbone": ("identity", "C-HMCNN feeds the features to its MLP"),
        "optimizer__weight_decay": (1e-5, "C-HMCNN's code"),
    },
    "CHMCNNModule": {
        "n_layers": (3, "C-HMCNN: 3 linear layers"),
        "dropout": (0.7, "C-HMCNN's code"),
    },
    "HCAMCLModule": {
        "n_attention_layers": (2, "HCAM-CL §3: two cross-attention layers"),
    },
    "HCCFClassifier": {
        "negatives": ("batch", "HCCF eq. 2: the batch's label texts are the negatives"),
        "text_encoder": ("minilm", "HCCF is cross-modal (the paper's CLIP text tower; MiniLM ships offline)"),
    },
    "CMSGClassifier": {
        "correlation": ("embedding", "CMSG §3.1: the semantic correlation of label embeddings"),
        "criterion": ("asl", "CMSG trains with the asymmetric loss"),
        "p": (0.25, "ML-GCN's re-weighting p, which CMSG §3.1 follows"),
        "tau": (0.4, "ML-GCN's binarisation threshold, which CMSG §3.1 follows"),
    },
    "KFRClassifier": {},  # alpha=1.0 on the per-dimension scale and ce_epochs=0 are ours (the class doc)
    "HMLCEncoder": {},
}
