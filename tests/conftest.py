"""Shared fixtures: where ../shared is, whether ngspice is there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # the pytest-plugin tests drive pytest with pytester

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = SHARED / "models"


@pytest.fixture
def models_dir() -> Path:
    if not MODELS.is_dir():
        pytest.skip(f"../shared/models is absent (looked in {MODELS}): vendor models are not shipped with stabkit")
    return MODELS


@pytest.fixture
def ngspice_required() -> None:
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed (apt-get install ngspice); it is the reference simulator here")
