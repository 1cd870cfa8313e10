"""What every study's figures share: the paper's model names, and figures saved atomically and reproducibly."""

import matplotlib.pyplot as plt
import pytest
from matplotlib.artist import Artist

from gradcorr.studies.plotting import model_type_label, save_figure


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
