"""Where the tests' files are, for tests in any sub-package."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
TEST_DATA = REPOSITORY / "tests" / "data"
AUTOLOG_FIXTURES = REPOSITORY / "tests" / "fixtures" / "autolog"
