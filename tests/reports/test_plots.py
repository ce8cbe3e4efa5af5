"""lira.reports.plots: figures carry the label of the config that made them, and are reproducible."""

import numpy as np

from lira.reports import plots


def test_figures_carry_their_label_and_are_reproducible(tmp_path):
    def draw(name):
        figure = plots.score_distribution_figure(np.array([0.1, 0.5, 0.9, 0.2]), np.array([True, False, True, False]), "t")
        paths = [tmp_path / f"{name}.png", tmp_path / f"{name}.pdf"]
        plots.save(figure, paths, "experiment tiny, config 0123456789ab")
        return [path.read_bytes() for path in paths]

    first, second = draw("a"), draw("b")
    assert first == second  # no creation date: the same figure, the same bytes
    png, pdf = first
    assert b"experiment tiny, config 0123456789ab" in png and b"experiment tiny, config 0123456789ab" in pdf
