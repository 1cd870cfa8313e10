"""Random attribution maps with a known ground truth, for the angle statistics and their figures."""

import numpy as np

BACKGROUND = 0.25


def random_maps(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random raw maps with an off-simplex part, one-hot x, and ground truth with motif columns
    (some one-hot, some soft, some weak) in background; a few zero gradient vectors (NaN angle)."""
    rng = np.random.default_rng(seed)
    gt = np.full((n, 4, length), BACKGROUND)
    for i in range(n):
        for start in rng.choice(length - 6, size=2, replace=False):
            cols = rng.dirichlet(np.full(4, rng.choice([0.1, 0.5, 50.0])), size=6).T
            gt[i, :, start:start + 6] = cols
    x = np.zeros_like(gt)
    letters = rng.integers(0, 4, size=(n, length))
    np.put_along_axis(x, letters[:, None, :], 1.0, axis=1)
    raw = rng.normal(size=gt.shape) + rng.normal(scale=1.5, size=(n, 1, length))
    raw[:, :, :3] = 0.0  # zero vectors: NaN angles, left out everywhere
    return raw, x, gt
