"""Load the authors' published Keras weight files (HDF5, `model.save_weights`) into gradcorr's models.

The files of the synthetic study (CNN-shallow and CNN-deep, relu or exponential first layer) list
their layers in the root attribute `layer_names`; each layer with weights is a group
`<layer>/<layer>/<weight>:0`. Conv1D kernels are (width, in, out) in Keras and (out, in, width) in
PyTorch; Dense kernels (in, out) and (out, in); BatchNorm keeps gamma, beta, moving mean and variance
(Keras' epsilon, 1e-3, is the models' own). Keras flattens (length, channels), which
`architectures.KerasFlatten` follows. Layer shapes are read from the file: the published CNN-deep's first
kernel is 11 wide, not 19.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from gradcorr.models.architectures import build_model

# Keras layer type (from its name) -> weights in file order, and the PyTorch module it fills
KERAS_LAYERS = {
    "conv1d": (("kernel", "bias"), nn.Conv1d),
    "batch_normalization": (("gamma", "beta", "moving_mean", "moving_variance"), nn.BatchNorm1d),
    "dense": (("kernel", "bias"), nn.Linear),
}
CONV_LAYERS = {2: "cnn_shallow", 4: "cnn_deep"}
PUBLISHED_NAME = re.compile(r"(cnn_(?:shallow|deep))_(relu|exponential)_(\d+)\.h5$")


def layer_type(name: str) -> str:
    """A Keras layer's type from its default name: 'conv1d_3' -> 'conv1d'."""
    return re.sub(r"_\d+$", "", name)


def published_model_id(path: str | Path) -> tuple[str, str, int]:
    """(arch, activation, trial) of a published file name, e.g. cnn_deep_exponential_7.h5 ->
    ('cnn_deep', 'exp', 7)."""
    match = PUBLISHED_NAME.search(Path(path).name)
    if not match:
        raise ValueError(f"{path}: not a published model name (cnn_{{shallow,deep}}_{{relu,exponential}}_N.h5)")
    arch, activation, trial = match.groups()
    return arch, "exp" if activation == "exponential" else "relu", int(trial)


def _read_weight(group: h5py.Group, path: Path, layer: str, weight: str) -> np.ndarray:
    """Weight `weight` of a layer's group, refused (ValueError naming file, layer and weight) unless it is a
    readable numeric array of finite values: a NaN or inf would otherwise load silently and spoil every output."""
    ds = group[f"{weight}:0"]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "fiu":
        raise ValueError(f"{path}: layer {layer} weight {weight} is not a numeric array")
    try:
        values = ds[()]
    except OSError as err:
        raise ValueError(f"{path}: layer {layer} weight {weight} cannot be read (corrupt file?): {err}") from None
    bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(f"{path}: layer {layer} weight {weight} has {bad} non-finite values (NaN/inf)")
    return values


def read_keras_weights(path: str | Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The layers with weights of a Keras weight file, in model order: (layer name, {weight: array}).
    ValueError naming the file and layer for a layer of unknown type, with missing weights, or with a
    weight that is not numeric, cannot be read or holds NaN or inf."""
    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file: {err}") from err
    with handle as f:
        if "layer_names" not in f.attrs:
            raise ValueError(f"{path}: no layer_names attribute; not a Keras weight file")
        layers = []
        for raw in f.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            group = f.get(f"{name}/{name}")
            if group is None or len(group) == 0:
                continue  # input, activation, dropout, pooling, flatten: no weights
            kind = layer_type(name)
            if kind not in KERAS_LAYERS:
                raise ValueError(f"{path}: layer {name!r} has weights but its type {kind!r} is not one of "
                                 f"{sorted(KERAS_LAYERS)}")
            names = KERAS_LAYERS[kind][0]
            missing = [w for w in names if f"{w}:0" not in group]
            if missing:
                raise ValueError(f"{path}: layer {name!r} lacks weight(s) {missing}")
            layers.append((name, {w: _read_weight(group, path, name, w) for w in names}))
    return layers


def _fill(module: nn.Module, weights: dict[str, np.ndarray], where: str) -> None:
    """Copy one Keras layer's weights into `module`, checking every shape."""
    if isinstance(module, nn.Conv1d):
        values = {"weight": weights["kernel"].transpose(2, 1, 0), "bias": weights["bias"]}
    elif isinstance(module, nn.Linear):
        values = {"weight": weights["kernel"].T, "bias": weights["bias"]}
    else:
        values = {"weight": weights["gamma"], "bias": weights["beta"], "running_mean": weights["moving_mean"],
                  "running_var": weights["moving_variance"]}
    state = module.state_dict()
    for key, value in values.items():
        if tuple(state[key].shape) != value.shape:
            raise ValueError(f"{where}: {key} has shape {value.shape}, the model expects {tuple(state[key].shape)}")
        state[key] = torch.as_tensor(np.ascontiguousarray(value), dtype=state[key].dtype)
    module.load_state_dict(state)


def load_keras_model(path: str | Path, arch: str | None = None, activation: str | None = None,
                     input_length: int = 200) -> nn.Sequential:
    """The gradcorr model (in inference mode) holding the weights of a Keras weight file of CNN-shallow
    or CNN-deep. `arch` and `activation` default to those in a published file's name; the first
    layer's width and filter count are read from the file. Layers of another type, in another order,
    or of other shapes are refused with a message naming them."""
    if arch is None or activation is None:
        named_arch, named_activation, _ = published_model_id(path)
        arch, activation = arch or named_arch, activation or named_activation
    layers = read_keras_weights(path)
    convs = [w for name, w in layers if name.startswith("conv1d")]
    if not convs:
        raise ValueError(f"{path}: no conv1d layer")
    if CONV_LAYERS.get(len(convs)) != arch:
        raise ValueError(f"{path}: {len(convs)} conv1d layers, but {arch} has "
                         f"{next((n for n, a in CONV_LAYERS.items() if a == arch), '?')}")
    width, alphabet, n_filters = convs[0]["kernel"].shape
    model = build_model(arch, activation=activation, n_filters=n_filters, kernel_size=width,
                        input_length=input_length, alphabet=alphabet)
    targets = [m for m in model if isinstance(m, (nn.Conv1d, nn.BatchNorm1d, nn.Linear))]
    if len(targets) != len(layers):
        raise ValueError(f"{path}: {len(layers)} layers with weights ({', '.join(n for n, _ in layers)}); "
                         f"{arch} has {len(targets)}")
    for module, (name, weights) in zip(targets, layers):
        expected = KERAS_LAYERS[layer_type(name)][1]
        if not isinstance(module, expected):
            raise ValueError(f"{path}: layer {name!r} is where {arch} has a {type(module).__name__}")
        _fill(module, weights, f"{path}: layer {name!r}")
    return model.eval()
