"""Models and how they are trained.

- `architectures`: CNN-shallow, CNN-deep (gradient-correction paper) and the consistency paper's CNN;
  BatchNorm folding for inference; the normal initialisation and the zero-mean (simplex-projected) first
  layer, kept in training or made post hoc (`project_first_layer`, importable from here).
- `training`: the published protocol (Adam, BCE, Keras-exact plateau and early stopping).
- `regularizers`: mixup, manifold mixup, input and manifold noise, PGD adversarial training,
  spectral-norm penalty; the angle penalty.
- `ensemble`: K models of one architecture trained or run together as one vectorised module.
- `checkpoint`: model files with their configuration and history.
- `keras`: the authors' published Keras weight files.
"""

from gradcorr.models.architectures import project_first_layer

__all__ = ["project_first_layer"]
