from __future__ import annotations

import pytest

from redline.engine import Engine
from redline.policy import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_options()
