import numpy as np
import pytest

from helpers import plots


def _history(n=3):
    return {
        "accuracy": np.linspace(0.5, 0.9, n),
        "val_accuracy": np.linspace(0.4, 0.8, n),
        "loss": np.linspace(1, 0.2, n),
        "val_loss": np.linspace(1.2, 0.5, n),
    }


def test_plot_history_single_and_many():
    fig = plots.plot_history(_history())
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    fig = plots.plot_history([_history(), _history(5)], labels=["a", "b"])
    assert [len(ax.lines) for ax in fig.axes] == [4, 4]
    assert "a validation" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_history_accepts_keras_history():
    import keras

    h = keras.callbacks.History()
    h.history = _history()
    assert len(plots.plot_history(h).axes) == 2


def test_plot_history_bad_input():
    with pytest.raises(ValueError, match="History"):
        plots.plot_history(42)
    with pytest.raises(ValueError, match="labels"):
        plots.plot_history([_history(), _history()], labels=["one"])
    with pytest.raises(ValueError, match="none of the metrics"):
        plots.plot_history({"mae": [1, 2]})


@pytest.mark.parametrize("shape", [(6, 28, 28), (6, 28, 28, 1), (6, 784)])
def test_image_grid_shapes(shape):
    fig = plots.plot_image_grid(
        np.zeros(shape), labels=np.arange(6), predictions=[0, 1, 2, 0, 0, 0], ncols=3
    )
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == "0\npred 0"
    assert fig.axes[3].title.get_color() == "red"  # label 3, predicted 0


def test_image_grid_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        plots.plot_image_grid(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError, match="not square"):
        plots.plot_image_grid(np.zeros((2, 780)))
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        plots.plot_image_grid(np.zeros((2, 28, 28)), labels=[1, 2, 3])


def test_confusion_matrix_counts_and_plot():
    cm = plots.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], num_classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    fig = plots.plot_confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], class_names=["a", "b", "c"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="differ in length"):
        plots.confusion_matrix([0, 1], [0])


def test_plot_history_validation_only_and_integer_epochs():
    fig = plots.plot_history([_history(), _history()], labels=["a", "b"], splits=("validation",))
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    assert all(float(t).is_integer() for t in fig.axes[0].get_xticks())
    fig = plots.plot_history(_history(), val_label="test")
    assert "test" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    with pytest.raises(ValueError, match="splits"):
        plots.plot_history(_history(), splits=("test",))


def test_submodules_reachable_from_the_package():
    import helpers

    assert helpers.plots.plot_history is plots.plot_history
    with pytest.raises(AttributeError):
        helpers.no_such_thing  # noqa: B018
