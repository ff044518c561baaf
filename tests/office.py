"""LibreOffice and poppler for tests that check documents the way a person opens them."""

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_HINT = "run `bash deploy/office-tools-for-tests.sh` (as root or with sudo) to install it"


def soffice() -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"LibreOffice (soffice) is not installed; {INSTALL_HINT}")


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        pytest.fail(f"{tool} (poppler-utils) is not installed; {INSTALL_HINT}")
    return found


def convert(document: Path, to: str, out: Path, profile: Path) -> Path:
    """Convert headless with a fresh profile; the converted file, or a failure saying why."""
    command = [
        soffice(),
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(out),
        str(document),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    converted = out / f"{document.stem}.{to.split(':')[0]}"
    assert result.returncode == 0 and converted.is_file(), result.stdout + result.stderr
    return converted
