"""gradcorr: gradient correction and the trustworthiness of gradient-based attributions for genomics.

The three calls most users need:

- `attribute(model, x, method="saliency")`: raw attribution maps of shape (N, A, L);
- `correct(attr)`: remove the off-simplex component (subtract the per-position mean over A);
- `simplex_angle(grad)`: the signed angle (degrees) between each position's gradient and the simplex.
"""

from gradcorr.attribution import attribute
from gradcorr.correction import correct, simplex_angle

__all__ = ["attribute", "correct", "simplex_angle"]
__version__ = "0.1.0"
