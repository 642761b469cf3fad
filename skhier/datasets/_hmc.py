"""The hierarchical multi-label classification (HMC) benchmark of Vens et al. (2008).

19 datasets in ARFF with a ``hierarchical`` class attribute: 8 yeast feature sets ×
FunCat (trees, full paths such as ``01/01/03``) and × Gene Ontology (DAGs, one
``parent/child`` edge per entry), plus Diatoms, Enron, ImCLEF07a/d (trees). The files
are not shipped: point ``data_home`` or the ``SKHIER_HMC_DATA`` environment variable at
the folder that holds them (e.g. ``*_FUN.train.arff.gz``).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

from .._taxonomy import Taxonomy
from ..labels import fill_ancestors

__all__ = ["load_hmc", "load_hmc_arff", "hmc_recipe", "HMC_DATASETS"]

ENV_VAR = "SKHIER_HMC_DATA"

#: The benchmark's datasets: name -> {split: file stem}. "trainvalid" is train ∪ valid.
HMC_DATASETS: dict = {
    **{f"{d}_{h}": {s: f"{d}_{h}.{s}" for s in ("train", "valid", "test")}
       for d in ("cellcycle", "derisi", "eisen", "expr", "gasch1", "gasch2", "seq", "spo") for h in ("FUN", "GO")
       if (d, h) != ("expr", "GO")},
    "diatoms": {"train": "Diatoms_train", "test": "Diatoms_test"},
    "enron": {"trainvalid": "Enron_corr_trainvalid", "test": "Enron_corr_test"},
    "imclef07a": {"train": "ImCLEF07A_Train", "test": "ImCLEF07A_Test"},
    "imclef07d": {"train": "ImCLEF07D_Train", "test": "ImCLEF07D_Test"},
}

#: C-HMCNN's per-dataset settings (its paper and code; the benchmark data's README): hidden
#: width (FunCat, GO / one value for the others), learning rate, epochs (FunCat, GO / one).
_RECIPES = {
    "cellcycle": ((500, 1000), 1e-4, (106, 62)), "derisi": ((500, 500), 1e-4, (67, 91)),
    "eisen": ((500, 500), 1e-4, (110, 123)), "expr": ((1250, None), 1e-4, (20, None)),
    "gasch1": ((1000, 500), 1e-4, (42, 122)), "gasch2": ((500, 500), 1e-4, (123, 177)),
    "seq": ((2000, 9000), 1e-4, (13, 45)), "spo": ((250, 500), 1e-4, (115, 103)),
    "diatoms": ((2000,), 1e-5, (474,)), "enron": ((1000,), 1e-5, (133,)),
    "imclef07a": ((1000,), 1e-5, (592,)), "imclef07d": ((1000,), 1e-5, (588,)),
}


def hmc_recipe(name) -> dict:
    """C-HMCNN's paper recipe for one HMC benchmark dataset, as ``CHMCNNClassifier`` parameters.

    The per-dataset hidden width, learning rate and epoch count of the C-HMCNN paper
    (chosen there on the validation split), with its batch size 4, every sample trained
    (``train_split=None``: no hold-out, no early stopping), no weight averaging
    (``averaging=None``) and, on the Gene Ontology datasets, the three namespace tops left
    out of the loss (its ``main.py``):
    ``CHMCNNClassifier(taxonomy, **hmc_recipe(name))`` is the paper's final fit, to be
    trained on train ∪ valid (``load_hmc(name, "trainvalid")``).

    Parameters
    ----------
    name : str
        A key of :data:`HMC_DATASETS`.

    Returns
    -------
    params : dict
        ``module__hidden``, ``lr``, ``max_epochs``, ``batch_size``, ``train_split``,
        ``averaging`` and ``criterion__skip``.

    Examples
    --------
    >>> from skhier.datasets import hmc_recipe
    >>> r = hmc_recipe("cellcycle_GO")
    >>> r["module__hidden"], r["lr"], r["max_epochs"], r["batch_size"], len(r["criterion__skip"])
    (1000, 0.0001, 62, 4, 3)
    >>> hmc_recipe("diatoms")["max_epochs"]
    474
    """
    table = {k.lower(): k for k in HMC_DATASETS}
    if not isinstance(name, str) or name.lower() not in table:
        raise ValueError(f"name must be one of {sorted(HMC_DATASETS)}, got {name!r}")
    key = table[name.lower()]
    base, _, kind = key.partition("_")
    hidden, lr, epochs = _RECIPES[base]
    k = 1 if kind == "GO" else 0
    return {"module__hidden": hidden[k], "lr": lr, "max_epochs": epochs[k], "batch_size": 4, "train_split": None,
            "averaging": None, "criterion__skip": GO_NAMESPACES if kind == "GO" else ()}


#: Classes the benchmark's metric leaves out besides the root: GO's three namespace tops.
GO_NAMESPACES = ("GO0003674", "GO0005575", "GO0008150")


def _folder(data_home) -> Path:
    where = data_home if data_home is not None else os.environ.get(ENV_VAR)
    if where is None:
        raise FileNotFoundError(
            f"the HMC benchmark files are not shipped with skhier: pass data_home= or set {ENV_VAR} to the "
            "folder holding them (e.g. cellcycle_FUN.train.arff.gz)"
        )
    path = Path(where)
    if not path.is_dir():
        source = "data_home" if data_home is not None else ENV_VAR
        raise FileNotFoundError(f"HMC data folder {str(path)!r} (from {source}) does not exist")
    return path


def _find(folder: Path, stem: str) -> Path:
    for suffix in (".arff.gz", ".arff"):
        path = folder / (stem + suffix)
        if path.exists():
            return path
    raise FileNotFoundError(f"{stem}.arff(.gz) is not in {str(folder)!r}")


def _read_lines(path: Path) -> list[str]:
    """The file's lines, gunzipped when it is gzip (told by its first bytes, not its name)."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path.name}: a damaged or truncated gzip file ({exc})") from None
    if path.name.endswith(".gz"):
        raise ValueError(f"{path.name} is named .gz but is not gzip-compressed (it starts with {magic!r}): "
                         "rename it to .arff, or compress it with gzip")
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


class _ArffError(ValueError):
    pass


def _fail(path, lineno, message):
    raise _ArffError(f"{path.name}, line {lineno}: {message}")


def _read_arff(path: Path, lines: list[str]):
    """Features (with one-hot nominal columns), label strings and the class list of one file."""
    columns = []  # (name, None) numeric, or (name, categories) nominal
    hierarchy = None
    data_at = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        low = line.lower()
        if low.startswith("@attribute"):
            name, kind = _attribute(path, lineno, line)
            if kind.lower().startswith("hierarchical"):
                if hierarchy is not None:
                    _fail(path, lineno, "a second hierarchical attribute")
                entries = kind.split(None, 1)[1] if len(kind.split(None, 1)) > 1 else ""
                hierarchy = [e.strip() for e in entries.split(",") if e.strip()]
                if not hierarchy:
                    _fail(path, lineno, "the hierarchical attribute lists no class")
            elif kind.lower() in ("numeric", "real", "integer"):
                columns.append((name, None))
            elif kind.startswith("{") and kind.endswith("}"):
                columns.append((name, [c.strip() for c in kind[1:-1].split(",")]))
            else:
                _fail(path, lineno, f"attribute {name!r} has type {kind!r}: only numeric, nominal and "
                                    "hierarchical are read")
        elif low.startswith("@data"):
            data_at = lineno
            break
    if hierarchy is None:
        _fail(path, data_at or len(lines), "no hierarchical class attribute (@ATTRIBUTE class hierarchical ...)")
    if data_at is None:
        _fail(path, len(lines), "no @DATA section")
    width = sum(1 if cats is None else len(cats) for _, cats in columns)
    rows, labels = [], []
    for lineno in range(data_at + 1, len(lines) + 1):
        line = lines[lineno - 1].strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("{"):
            _fail(path, lineno, "a sparse ARFF row ({index value, ...}): sparse ARFF is not read; write the "
                                "file's rows dense (one value per attribute, ? for a missing one)")
        values = line.split(",")
        if len(values) != len(columns) + 1:
            _fail(path, lineno, f"{len(values)} values, expected {len(columns) + 1} "
                                f"({len(columns)} features and the classes)")
        row = np.empty(width)
        k = 0
        for (name, cats), v in zip(columns, values):
            v = v.strip()
            if cats is None:
                if v == "?":
                    row[k] = np.nan
                else:
                    try:
                        row[k] = float(v)
                    except ValueError:
                        _fail(path, lineno, f"feature {name!r} is numeric, got {v!r}")
                k += 1
            else:  # one-hot; a missing value is all zeros, as C-HMCNN's reader does
                onehot = np.zeros(len(cats))
                if v != "?":
                    if v not in cats:
                        _fail(path, lineno, f"feature {name!r} takes {{{','.join(cats)}}}, got {v!r}")
                    onehot[cats.index(v)] = 1.0
                row[k : k + len(cats)] = onehot
                k += len(cats)
        rows.append(row)
        labels.append((lineno, values[-1].strip()))
    feature_names = [n if cats is None else f"{n}={c}"
                     for n, cats in columns for c in ([None] if cats is None else cats)]
    X = np.vstack(rows) if rows else np.empty((0, width))
    return X, labels, hierarchy, feature_names


def _attribute(path, lineno, line):
    """(name, type) of an ``@attribute`` line; the name may be quoted ('my feature')."""
    rest = line[len("@attribute"):].strip()
    if rest[:1] in ("'", '"'):
        quote = rest[0]
        end = 1
        while end < len(rest) and (rest[end] != quote or rest[end - 1] == "\\"):
            end += 1
        if end >= len(rest):
            _fail(path, lineno, f"the attribute name's quote {quote} is not closed: {line!r}")
        name, kind = rest[1:end].replace("\\" + quote, quote), rest[end + 1:].strip()
    else:
        parts = rest.split(None, 1)
        name, kind = (parts[0], parts[1].strip()) if len(parts) == 2 else (rest, "")
    if not name or not kind:
        _fail(path, lineno, f"an attribute needs a name and a type, got {line!r}")
    return name, kind


def _taxonomy(hierarchy: list[str], kind: str) -> tuple[Taxonomy, dict]:
    """The taxonomy of a class list and a map from a label string to its node."""
    if kind == "auto":
        kind = "edges" if any(e.startswith("root/") for e in hierarchy) else "paths"
    if kind == "edges":
        edges = []
        for e in hierarchy:
            parts = e.split("/")
            if len(parts) != 2:
                raise ValueError(f"a GO-style hierarchy lists parent/child edges, got {e!r}")
            edges.append(tuple(parts))
        tax = Taxonomy.from_edges(edges)
        return tax, {n: i for i, n in enumerate(tax.nodes)}
    # full paths: the node is the path itself ("01/01/03"), its parent the path's prefix
    nodes = ["root"] + list(dict.fromkeys(hierarchy))
    known = set(nodes)
    parents = [None]
    for p in nodes[1:]:
        head = p.rsplit("/", 1)[0] if "/" in p else "root"
        if head not in known:
            raise ValueError(f"class {p!r} has no parent {head!r} in the class list")
        parents.append(head)
    tax = Taxonomy(nodes, parents)
    return tax, {n: i for i, n in enumerate(tax.nodes)}


def load_hmc(name, subset="train", *, data_home=None, hierarchy="auto", return_X_y=False):
    """Load one dataset of the HMC benchmark (Vens et al., 2008), as C-HMCNN uses it.

    Reads the ARFF file (gzip or plain): numeric features (``?`` becomes NaN), nominal
    features one-hot encoded (a missing one is all zeros, as C-HMCNN's reader does), and
    the ``@``-joined class labels of every row as a sparse node-indicator matrix closed
    under **all** ancestors, over the taxonomy that the file's ``hierarchical`` attribute
    declares: FunCat, Diatoms, Enron and ImCLEF list full paths (a tree whose nodes are
    the paths, ``"01/01/03"``), the Gene Ontology files list ``parent/child`` edges (a
    DAG whose nodes are the GO terms). Every split of a dataset declares the same
    classes, so the taxonomies of its splits are equal.

    Parameters
    ----------
    name : str
        A key of :data:`HMC_DATASETS`: ``"cellcycle_FUN"`` ... ``"spo_GO"`` (no
        ``expr_GO``), ``"diatoms"``, ``"enron"``, ``"imclef07a"``, ``"imclef07d"``.
    subset : {"train", "valid", "test", "trainvalid"}, default="train"
        ``"trainvalid"`` is train ∪ valid (the final fit of the protocol; Enron's file).
    data_home : str or path, default=None
        The folder of the files; else the ``SKHIER_HMC_DATA`` environment variable.
    hierarchy : {"auto", "paths", "edges"}, default="auto"
        How to read the class list; ``"auto"``: edges when some entry starts with
        ``root/`` (the GO files), else paths.
    return_X_y : bool, default=False
        Return ``(X, Y, taxonomy)`` instead of a Bunch.

    Returns
    -------
    data : Bunch or tuple
        What :func:`load_hmc_arff` returns for the subset's file (``filename`` a list of
        the two files for a ``"trainvalid"`` built from train and valid).

    Raises
    ------
    FileNotFoundError
        Naming ``data_home`` / ``SKHIER_HMC_DATA`` when the folder or file is missing.
    ValueError
        For a malformed file, naming the file, the line and the value.

    Examples
    --------
    >>> from skhier.datasets import load_hmc
    >>> data = load_hmc("cellcycle_GO", "train")  # doctest: +SKIP
    >>> data.data.shape[1], len(data.scored), data.taxonomy.is_tree  # doctest: +SKIP
    (77, 4122, False)
    """
    key = str(name)
    table = {k.lower(): k for k in HMC_DATASETS}
    if key.lower() not in table:
        raise ValueError(f"name must be one of {sorted(HMC_DATASETS)}, got {name!r}")
    key = table[key.lower()]
    if hierarchy not in ("auto", "paths", "edges"):
        raise ValueError(f"hierarchy must be 'auto', 'paths' or 'edges', got {hierarchy!r}")
    splits = HMC_DATASETS[key]
    if subset == "trainvalid" and "trainvalid" not in splits:
        if "valid" not in splits:
            raise ValueError(f"{key} has no validation split: its subsets are {sorted(splits)}")
        parts = [load_hmc(key, s, data_home=data_home, hierarchy=hierarchy) for s in ("train", "valid")]
        if parts[0].taxonomy != parts[1].taxonomy:
            raise ValueError(f"{key}: the train and valid files declare different class lists")
        return _bunch_or_tuple(Bunch(
            data=np.vstack([p.data for p in parts]), target=sp.vstack([p.target for p in parts], format="csr"),
            taxonomy=parts[0].taxonomy, feature_names=parts[0].feature_names, scored=parts[0].scored,
            scored_names=parts[0].scored_names, filename=[p.filename for p in parts]), return_X_y)
    if subset not in splits:
        raise ValueError(f"subset must be one of {sorted(splits) + (['trainvalid'] if 'valid' in splits else [])} "
                         f"for {key}, got {subset!r}")
    return load_hmc_arff(_find(_folder(data_home), splits[subset]), hierarchy=hierarchy, return_X_y=return_X_y)


def load_hmc_arff(path, *, hierarchy="auto", taxonomy=None, return_X_y=False):
    """Read one hierarchical multi-label ARFF file (the Clus HMC format), by path.

    The format of the HMC benchmark and of the Clus HMC collection: numeric and nominal
    features, then a class attribute of type ``hierarchical`` that lists the classes
    (full paths ``01/01/03``, or ``parent/child`` edges for a DAG such as GO), and data
    rows that end with the ``@``-joined labels of the sample. Numeric features keep
    ``?`` as NaN, nominal ones are one-hot encoded (a missing one is all zeros, as
    C-HMCNN's reader does), labels are closed under **all** ancestors. The file is data:
    nothing in it is executed, and a malformed one fails naming its line and value.

    Parameters
    ----------
    path : str or path-like
        The ``.arff`` file, plain or gzip-compressed (told by its first bytes).
    hierarchy : {"auto", "paths", "edges"}, default="auto"
        How to read the class list; ``"auto"``: edges when some entry starts with
        ``root/`` (the GO files), else paths.
    taxonomy : Taxonomy, default=None
        The taxonomy of another file of the same dataset (the training file's): the
        label columns are aligned to it, and a file that declares other classes is
        refused, naming the first class that differs. ``None``: the file's own.
    return_X_y : bool, default=False
        Return ``(X, Y, taxonomy)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (n_samples, n_features) float with NaN for missing values, ``target``
        (n_samples, n_nodes) scipy CSR 0/1, ``taxonomy``, ``feature_names``, ``scored``
        (the node indices the benchmark's metric reads: all but the root and, on GO,
        the three namespace tops), ``scored_names``, ``filename``.
    (X, Y, taxonomy) : tuple
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        For a malformed file (naming the file, the line and the value), a sparse ARFF
        row, a ``.gz`` name on a file that is not gzip, or classes that differ from
        ``taxonomy``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from skhier.datasets import load_hmc_arff
    >>> text = (
    ...     "@RELATION toy\\n@ATTRIBUTE 'gene length' numeric\\n@ATTRIBUTE strand {+,-}\\n"
    ...     "@ATTRIBUTE class hierarchical 01,01/01,01/02,02\\n@DATA\\n"
    ...     "0.5,+,01/01\\n?,-,01/02@02\\n")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.arff"
    >>> _ = path.write_text(text)
    >>> data = load_hmc_arff(path)
    >>> data.feature_names
    ['gene length', 'strand=+', 'strand=-']
    >>> data.target.toarray()  # root, 01, 01/01, 01/02, 02: closed under ancestors
    array([[1, 1, 1, 0, 0],
           [1, 1, 0, 1, 1]], dtype=int8)
    """
    from ..utils.validation import check_option, check_taxonomy

    check_option(hierarchy, "hierarchy", ("auto", "paths", "edges"))
    if taxonomy is not None:
        taxonomy = check_taxonomy(taxonomy, allow_dag=True, what="load_hmc_arff's taxonomy")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"HMC ARFF file {str(path)!r} does not exist")
    X, labels, classes, feature_names = _read_arff(path, _read_lines(path))
    try:
        tax, lookup = _taxonomy(classes, hierarchy)
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    if taxonomy is not None:
        if tax != taxonomy:
            mine, theirs = set(tax.nodes), set(taxonomy.nodes)
            extra = next((n for n in tax.nodes if n not in theirs), None)
            missing = next((n for n in taxonomy.nodes if n not in mine), None)
            raise ValueError(
                f"{path.name} declares other classes than taxonomy: "
                + (f"{extra!r} is not in taxonomy" if extra is not None else
                   f"taxonomy's {missing!r} is not declared" if missing is not None else
                   "the same classes under other parents")
            )
        tax = taxonomy
        lookup = {n: i for i, n in enumerate(tax.nodes)}
    rows, cols = [], []
    for i, (lineno, text) in enumerate(labels):
        for label in text.split("@"):
            j = lookup.get(label.strip())
            if j is None:
                _fail(path, lineno, f"label {label.strip()!r} names no class of the hierarchy")
            rows.append(i)
            cols.append(j)
    Y = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(len(labels), tax.n_nodes))
    Y = fill_ancestors(Y, tax)
    skip = {0} | {tax.index(g) for g in GO_NAMESPACES if g in tax}
    scored = np.array([v for v in range(tax.n_nodes) if v not in skip], dtype=np.int64)
    return _bunch_or_tuple(Bunch(data=X, target=Y, taxonomy=tax, feature_names=feature_names, scored=scored,
                                 scored_names=[tax.nodes[v] for v in scored], filename=str(path)), return_X_y)


def _bunch_or_tuple(bunch, return_X_y):
    return (bunch.data, bunch.target, bunch.taxonomy) if return_X_y else bunch
