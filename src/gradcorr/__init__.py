"""gradcorr: gradient correction and the trustworthiness of gradient-based attributions for genomics.

The three calls most users need:

- `attribute(model, x, method="saliency")`: raw attribution maps of shape (N, A, L);
- `correct(attr)`: remove the off-simplex component (subtract the per-position mean over A);
- `simplex_angle(grad)`: the signed angle (degrees) between each position's gradient and the simplex.

The imports are lazy, so that torch-free modules (gradcorr.data.encode, used by the workflow's DAG code)
import without torch.

The package: a flat core of functions on arrays (`correction`, `attribution`, `baselines`, `metrics`,
`angles`, `kld`, `ensemble_difference`); `models` (architectures, training, the vectorised ensemble,
regularizers, Keras import); `data` (synthetic and ChIP-seq datasets, downloads, files); `studies` (one
module per study, one function per workflow stage); `workflow` (config checks, runtime).
"""

__all__ = ["attribute", "correct", "simplex_angle"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "attribute":
        from gradcorr.attribution import attribute

        return attribute
    if name in ("correct", "simplex_angle"):
        from gradcorr import correction

        return getattr(correction, name)
    raise AttributeError(f"module 'gradcorr' has no attribute {name!r}")
