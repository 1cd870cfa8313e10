"""Keras weight files written as the authors' Keras saved them, with random weights of CNN-shallow or CNN-deep."""

import hashlib
import shutil

import h5py
import numpy as np
from shared_data import SHARED_DATA

from gradcorr.models.keras import published_model_id

PUBLISHED = SHARED_DATA / "paper_models" / "synthetic"  # the authors' 200 files, when ../shared has them

# (filters, width, activation of the block, pool) of each conv block; then dense 96 with BatchNorm
ARCHS = {"cnn_shallow": [(24, 19, None, 50), (48, 3, "relu", 2)],
         "cnn_deep": [(24, 11, None, 1), (32, 7, "relu", 4), (48, 7, "relu", 4), (64, 3, "relu", 3)]}


def keras_layers(arch, rng):
    """Random weights of the Keras model (name, kind, weights) in model order, as Keras names them."""
    layers, c_in, length, counts = [], 4, 200, {"conv1d": 0, "batch_normalization": 0, "dense": 0}

    def name(kind):
        n = counts[kind]
        counts[kind] += 1
        return kind if n == 0 else f"{kind}_{n}"

    def bn(c):
        return (name("batch_normalization"), {"gamma": rng.uniform(0.5, 1.5, c), "beta": rng.normal(0, 0.1, c),
                                               "moving_mean": rng.normal(0, 0.1, c),
                                               "moving_variance": rng.uniform(0.5, 1.5, c)})

    for filters, width, _, pool in ARCHS[arch]:
        layers.append((name("conv1d"), {"kernel": rng.normal(0, (width * c_in) ** -0.5, (width, c_in, filters)),
                                        "bias": rng.normal(0, 0.1, filters)}))
        layers.append(bn(filters))
        c_in, length = filters, length // pool
    layers.append((name("dense"), {"kernel": rng.normal(0, (c_in * length) ** -0.5, (c_in * length, 96)),
                                   "bias": rng.normal(0, 0.1, 96)}))
    layers.append(bn(96))
    layers.append((name("dense"), {"kernel": rng.normal(0, 96**-0.5, (96, 1)), "bias": rng.normal(0, 0.1, 1)}))
    return layers


def write_keras_file(path, layers, extra=("input_1", "activation", "dropout", "flatten")):
    """A weight file in Keras' HDF5 layout: root layer_names, group <name>/<name>/<weight>:0."""
    with h5py.File(path, "w") as f:
        names = [extra[0]] + [n for n, _ in layers] + list(extra[1:])
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for n in names:
            f.create_group(n)
        for n, weights in layers:
            group = f[n].create_group(n)
            for key, value in weights.items():
                group.create_dataset(f"{key}:0", data=value.astype(np.float32))


def weight_file(directory, name, seed):
    """The published file `name` from ../shared when present, else a Keras-layout file of random weights."""
    directory.mkdir(parents=True, exist_ok=True)
    if (PUBLISHED / name).is_file():
        shutil.copy(PUBLISHED / name, directory / name)
    else:
        write_keras_file(directory / name, keras_layers(published_model_id(name)[0], np.random.default_rng(seed)))
    return directory / name


def file_md5(path):
    """The md5 of a file, computed here (not by the code under test)."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def set_weight(path, layer, weight, value):
    """Replace weight `weight` of `layer` in the Keras weight file `path` by `value`, stored as it is (no cast)."""
    with h5py.File(path, "a") as f:
        group = f[f"{layer}/{layer}"]
        del group[f"{weight}:0"]
        group.create_dataset(f"{weight}:0", data=value)
