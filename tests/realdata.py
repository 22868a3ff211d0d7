"""Real public trace data in ../shared/data (beside the repository); tests skip when it is absent."""

from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"

realdata = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"real data folder {DATA_DIR} is absent"),
]
