"""Where the tests find their files: the project's fixtures and the shared real notice."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
# The real published notice lives beside the checkout (../shared), never copied into it.
DANDONG_NOTICE = (
    TESTS.parents[1] / "shared" / "fixtures" / "dandong-culture-tourism-2025-notice.txt"
)
NOTICE_FIXTURES = TESTS / "fixtures" / "notices"
