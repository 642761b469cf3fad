"""Shared parameter descriptions, written once and composed into docstrings.

A docstring names a shared entry by a line holding only ``%(name)s`` (at the entry's
indentation); :func:`fill_doc` replaces it with the entry of :data:`DOC_PARAMS`, indented
alike, when the module is imported. ``tests/docs/test_numpydoc.py`` then sees the whole
entry, as a reader of ``help()`` or the API reference does.
"""

from __future__ import annotations

import re

__all__ = ["DOC_PARAMS", "fill_doc"]

#: name -> the numpydoc entry (the parameter line and its indented description).
DOC_PARAMS = {
    "taxonomy": (
        "taxonomy : Taxonomy\n"
        "    The labels' taxonomy: the one :class:`~skhier.Taxonomy` shared by every step."
    ),
    "sample_weight": (
        "sample_weight : array-like of shape (n_samples,), default=None\n"
        "    Weights of the samples; ``None`` weighs every sample equally."
    ),
    "X_features": (
        "X : {array-like, sparse matrix} of shape (n_samples, n_features)\n"
        "    Input samples: images (n, C, H, W) or feature vectors (n, n_features)."
    ),
    "node": (
        "node : str, int or tuple\n"
        "    A node identifier (an int is an identifier, not an index: ``nodes[i]`` names index ``i``)."
    ),
    "X_tensor": (
        "X : array-like or tensor of shape (n_samples, ...)\n"
        "    Input samples: images (n, C, H, W) or feature vectors (n, n_features)."
    ),
}

_PLACEHOLDER = re.compile(r"(\s*)%\((\w+)\)s")


def fill_doc(obj):
    """Replace every ``%(name)s`` line of ``obj``'s docstring by ``DOC_PARAMS[name]``.

    Parameters
    ----------
    obj : function or class
        What to document; returned as is, its ``__doc__`` filled.

    Returns
    -------
    obj : function or class
        Replace every ``%(name)s`` line of ``obj``'s docstring by ``DOC_PARAMS[name]``.

    Examples
    --------
    >>> from skhier._docs import fill_doc
    >>> @fill_doc
    ... def f(taxonomy):
    ...     '''Parameters
    ...     ----------
    ...     %(taxonomy)s
    ...     '''
    >>> print(f.__doc__.splitlines()[2].strip())
    taxonomy : Taxonomy
    """
    doc = obj.__doc__
    if not doc:
        return obj
    out = []
    for line in doc.split("\n"):
        m = _PLACEHOLDER.fullmatch(line)
        if m is None:
            out.append(line)
            continue
        try:
            entry = DOC_PARAMS[m.group(2)]
        except KeyError:
            raise KeyError(f"{getattr(obj, '__qualname__', obj)!r}: no shared parameter entry {m.group(2)!r}") from None
        out.extend(m.group(1) + part for part in entry.split("\n"))
    obj.__doc__ = "\n".join(out)
    return obj
