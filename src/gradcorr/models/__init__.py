"""Models and how they are trained.

- `architectures`: CNN-shallow, CNN-deep (gradient-correction paper) and the consistency paper's CNN;
  BatchNorm folding for inference.
- `training`: the published protocol (Adam, BCE, Keras-exact plateau and early stopping).
- `regularizers`: mixup, manifold mixup, input and manifold noise, PGD adversarial training,
  spectral-norm penalty.
- `ensemble`: K models of one architecture trained or run together as one vectorised module.
- `checkpoint`: model files with their configuration and history.
- `keras`: the authors' published Keras weight files.
"""
