"""Random reference (baseline) sequences for path attributions: positional permutations and
dinucleotide shuffles of one-hot inputs.

Both take x of shape (N, A, L) (NumPy array or tensor) and return n references per sequence,
(N, n, A, L), of the same kind and dtype. All randomness comes from the `torch.Generator` given, so
a seeded generator makes the draws reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dinuc_shuffle", "permute_positions"]

MAX_SYMBOLS = 64  # distinct columns a dinucleotide shuffle accepts (4 for DNA, a few more with N's)


def permute_positions(x: np.ndarray | torch.Tensor, n: int, generator: torch.Generator) -> np.ndarray | torch.Tensor:
    """n random permutations of each sequence's positions (columns).

    Each permutation is the argsort of independent uniform keys, drawn for all sequences at once.

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Sequences (one-hot or not: whole columns move).
    n : int
        Permutations per sequence.
    generator : torch.Generator
        The source of every random draw.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, n, A, L)
        The permuted sequences, of x's kind, dtype and device.
    """
    x_t = _as_tensor(x)
    n_seq, a, length = x_t.shape
    order = torch.argsort(torch.rand((n_seq, n, length), generator=generator), dim=-1).to(x_t.device)
    out = torch.gather(x_t.unsqueeze(1).expand(n_seq, n, a, length), 3,
                       order.unsqueeze(2).expand(n_seq, n, a, length))
    return out if isinstance(x, torch.Tensor) else out.numpy()


def dinuc_shuffle(x: np.ndarray | torch.Tensor, n: int, generator: torch.Generator) -> np.ndarray | torch.Tensor:
    """n dinucleotide-preserving shuffles of each sequence.

    Altschul-Erickson: the sequence is an Eulerian path through a graph whose vertices are letters
    and whose edges are the adjacent pairs; a random Eulerian path from the first letter is drawn by
    choosing, for every letter but the last one, a random "last" outgoing edge such that these edges
    form a tree that leads to the last letter, shuffling each letter's other outgoing edges, and
    walking. The counts of letters and of the A^2 adjacent pairs, and the first and last letter, are
    kept exactly; every sequence with these counts is equally likely. Columns are treated as symbols,
    so non one-hot columns (e.g. all-zero N's) are shuffled as extra letters. All shuffles of all
    sequences are drawn together (vectorised over rows; a loop over positions only).

    Parameters
    ----------
    x : numpy.ndarray or torch.Tensor, shape (N, A, L)
        Sequences with discrete columns (at most MAX_SYMBOLS distinct ones).
    n : int
        Shuffles per sequence.
    generator : torch.Generator
        The source of every random draw.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (N, n, A, L)
        The shuffled sequences, of x's kind, dtype and device.
    """
    x_np = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x_np.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {x_np.shape}")
    n_seq, a, length = x_np.shape
    columns = np.ascontiguousarray(x_np.transpose(0, 2, 1).reshape(-1, a))
    as_bytes = columns.view(np.dtype((np.void, columns.dtype.itemsize * a))).ravel()  # fast unique rows
    _, first, tokens = np.unique(as_bytes, return_index=True, return_inverse=True)
    symbols = columns[first]
    if len(symbols) > MAX_SYMBOLS:
        raise ValueError(f"dinuc_shuffle needs discrete (one-hot) columns; x holds {len(symbols)} distinct columns")
    tokens = np.repeat(tokens.reshape(n_seq, length), n, axis=0)
    shuffled = _shuffle_tokens(tokens, len(symbols), generator) if length > 2 else tokens
    out = symbols[shuffled].reshape(n_seq, n, length, a).transpose(0, 1, 3, 2).astype(x_np.dtype)
    if isinstance(x, torch.Tensor):
        return torch.from_numpy(np.ascontiguousarray(out)).to(x.device)
    return np.ascontiguousarray(out)


def _shuffle_tokens(tokens: np.ndarray, n_symbols: int, generator: torch.Generator) -> np.ndarray:
    """Random Eulerian walks, one per row of `tokens` (M, L), that keep each row's pair counts."""
    m, length = tokens.shape
    rows = np.arange(m)
    source, target = tokens[:, :-1], tokens[:, 1:]
    counts = np.zeros((m, n_symbols), dtype=np.int64)
    np.add.at(counts, (np.repeat(rows, length - 1), source.ravel()), 1)
    starts = np.cumsum(counts, axis=1) - counts  # first slot of each letter's edges, once grouped
    last_slot = np.maximum(starts + counts - 1, 0)
    end = tokens[:, -1]
    # Edges grouped by source letter, in random order within each group; the group's final edge is
    # the letter's last edge. Redraw the rows whose last edges do not form a tree into `end`.
    ordered = np.empty_like(target)
    todo = rows
    while len(todo):
        keys = torch.rand((len(todo), length - 1), generator=generator, dtype=torch.float64).numpy()
        order = np.argsort(source[todo] + keys, axis=1, kind="stable")
        ordered[todo] = np.take_along_axis(target[todo], order, axis=1)
        last = np.take_along_axis(ordered[todo], last_slot[todo], axis=1)  # (len(todo), n_symbols)
        todo = todo[~_is_tree(last, counts[todo] > 0, end[todo])]
    walk = np.empty_like(tokens)
    walk[:, 0] = tokens[:, 0]
    slot = starts.copy()
    for t in range(1, length):
        here = walk[:, t - 1]
        walk[:, t] = ordered[rows, slot[rows, here]]
        slot[rows, here] += 1
    return walk


def _is_tree(last: np.ndarray, has_edges: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether, per row, following last edges from every letter with outgoing edges reaches `end`."""
    m, n_symbols = last.shape
    rows = np.arange(m)[:, None]
    here = np.broadcast_to(np.arange(n_symbols), (m, n_symbols)).copy()
    for _ in range(n_symbols):
        step = last[rows, here]
        here = np.where(here == end[:, None], here, step)
    return np.all((here == end[:, None]) | ~has_edges, axis=1)


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    x_t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x))
    if x_t.ndim != 3:
        raise ValueError(f"x must have shape (N, A, L); got {tuple(x_t.shape)}")
    return x_t
