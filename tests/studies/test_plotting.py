"""What every study's figures share: the paper's model names, probabilities as bits, and figures saved atomically and
reproducibly."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.artist import Artist

from gradcorr.studies.plotting import information_matrix, message_figure, model_type_label, save_figure


def test_model_types_get_the_papers_names():
    assert model_type_label("cnn_deep_exp") == "CNN-deep-exp"
    assert model_type_label("cnn_shallow_relu") == "CNN-shallow-relu"
    assert model_type_label("GABPA") == "GABPA"  # any other key is drawn as it is


def figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 0, 1], label="a line")
    ax.legend()
    return fig


def test_save_figure_writes_pdf_and_png_the_same_bytes_each_time(tmp_path):
    open_before = set(plt.get_fignums())
    for run in ("a", "b"):
        save_figure(figure(), tmp_path / f"{run}.pdf", tmp_path / f"{run}.png")
    assert (tmp_path / "a.pdf").read_bytes()[:5] == b"%PDF-" and (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()  # no time stamps
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert set(plt.get_fignums()) == open_before, "saved figures are closed"


class Broken(Artist):
    def draw(self, renderer):
        raise RuntimeError("cannot draw")


def test_a_failed_save_leaves_no_file(tmp_path):
    fig = figure()
    fig.axes[0].add_artist(Broken())
    with pytest.raises(RuntimeError, match="cannot draw"):
        save_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []  # not even a temporary file
    plt.close(fig)


def test_information_matrix_in_bits():
    info = information_matrix(np.array([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0], [0.5, 0.5, 0.0, 0.0]]))
    assert list(info.columns) == ["A", "C", "G", "T"]
    # probability -> information in logomaker adds no pseudocount (only a ~1e-308 guard in the log): exact bits
    np.testing.assert_allclose(info.sum(axis=1).to_numpy(), [0.0, 2.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(info.iloc[1].to_numpy(), [0.0, 0.0, 2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(info.iloc[2].to_numpy(), [0.5, 0.5, 0.0, 0.0], atol=1e-6)
    # a column a rounding error away from uniform must not make logomaker reject a negative information
    near = np.full((1, 4), 0.25) + np.array([[1e-12, -1e-12, 3e-13, -3e-13]])
    assert information_matrix(near).to_numpy().min() >= 0


def test_a_message_figure_says_only_its_message():
    fig = message_figure("nothing to draw here")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts == ["nothing to draw here"] and not fig.axes[0].axison
    plt.close(fig)
