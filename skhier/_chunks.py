"""Row blocks: how every (n_rows x width) computation bounds its memory. Torch-free."""

from __future__ import annotations

__all__ = ["row_blocks"]


def row_blocks(n_rows: int, row_width: int, cells: int) -> list[slice]:
    """Slices covering ``range(n_rows)``, each of at most ``cells // row_width`` rows (at least one).

    Examples
    --------
    >>> from skhier._chunks import row_blocks
    >>> row_blocks(5, 10, 20)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 6, None)]
    """
    step = max(1, cells // max(row_width, 1))
    return [slice(start, start + step) for start in range(0, n_rows, step)]
