import os

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Several workers share the machine's cores: one intra-op thread each.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    """Bundled digits scaled to [0, 1], with labels: (X, y)."""
    data = load_digits()
    return (data.data / 16.0).astype(np.float64), data.target


@pytest.fixture(scope="session")
def digits_split(digits):
    """A fixed train/test split of the scaled digits: X_train, X_test, y_train, y_test."""
    from sklearn.model_selection import train_test_split

    X, y = digits
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
