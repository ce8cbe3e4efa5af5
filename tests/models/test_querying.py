"""lira.models.querying: a model's logits under every query, and its accuracy."""

import numpy as np
import pytest

from lira.core.queries import Query, query_set

torch = pytest.importorskip("torch")

from lira.models import architectures, querying  # noqa: E402
from lira.models.images import to_float_images  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_predict_logits():
    torch.manual_seed(0)
    model = architectures.build_model({"arch": "cnn", "width": 4}, (1, 8, 8), 4, [0.5], [0.3])
    rng = np.random.default_rng(5)
    images = to_float_images(rng.integers(0, 256, size=(10, 1, 8, 8), dtype=np.uint8), torch.device("cpu"))
    queries = query_set(True, 1, 1)  # 18 queries
    model.train()
    logits = querying.predict_logits(model, images, queries, "reflect", batch_size=4)
    assert isinstance(logits, np.ndarray)
    assert logits.dtype == np.float32 and logits.shape == (10, 18, 4)
    assert not model.training  # queried in eval mode
    with torch.no_grad():
        plain = model(images).numpy()
        mirrored = model(images.flip(-1)).numpy()
    np.testing.assert_allclose(logits[:, 0], plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[:, queries.index(Query(True, 0, 0))], mirrored, rtol=1e-5, atol=1e-6)
    # Different queries really are different inputs.
    assert not np.allclose(logits[:, 0], logits[:, 1])


def test_accuracy_counts_correct_predictions():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Identity())  # logits = the pixels
    images = torch.eye(4).view(4, 1, 1, 4)
    assert querying.accuracy(model, images, torch.tensor([0, 1, 2, 0]), batch_size=3) == 0.75
