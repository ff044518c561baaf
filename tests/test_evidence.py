"""The evidence store: files kept once by content hash, never written outside the store."""

import hashlib
import io
import os
from pathlib import Path

import pytest

from models.errors import BadInput
from models.evidence import (
    CHUNK,
    EvidencePolicy,
    blob_path,
    discard_unreferenced,
    safe_name,
    store_file,
)
from models.settings import Settings

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
POLICY = EvidencePolicy(max_bytes=1024 * 1024, allowed_types=("pdf", "png", "txt"))


@pytest.fixture
def home(tmp_path) -> Path:
    """Deep inside tmp_path, so a name escaping the store would still land in the tree we check."""
    return tmp_path / "a" / "b" / "c" / "home"


def store(home: Path, content: bytes, name: str, policy: EvidencePolicy = POLICY):
    return store_file(home, io.BytesIO(content), name, policy)


def files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


def leftovers(home: Path) -> list[Path]:
    """Temporary upload files still lying in the store."""
    return [p for p in files_under(home / "evidence") if p.name.startswith(".upload-")]


def test_a_file_is_stored_under_its_sha256(home):
    stored = store(home, PDF, "整改报告.pdf")

    sha = hashlib.sha256(PDF).hexdigest()
    assert stored.sha256 == sha
    assert stored.size == len(PDF)
    assert stored.name == "整改报告.pdf"
    assert stored.content_type == "application/pdf"
    assert files_under(home) == {home / "evidence" / sha[:2] / sha[2:4] / sha}
    assert (home / "evidence" / sha[:2] / sha[2:4] / sha).read_bytes() == PDF


def test_the_same_bytes_twice_are_stored_once(home):
    first = store(home, PDF, "a.pdf")
    second = store(home, PDF, "另一个名字.pdf")

    assert first.sha256 == second.sha256
    assert second.name == "另一个名字.pdf"
    assert len(files_under(home)) == 1


def test_different_bytes_are_stored_apart(home):
    store(home, PDF, "a.pdf")
    store(home, PDF + b"\n", "a.pdf")

    assert len(files_under(home)) == 2


@pytest.mark.parametrize(
    ("given", "bare"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\x.pdf", "x.pdf"),
        ("/abs/path/a.pdf", "a.pdf"),
        ("C:\\Windows\\System32\\a.pdf", "a.pdf"),
        ("a\x00b\n\r\t.pdf", "ab.pdf"),
        ("\x1b[31m红色.pdf", "[31m红色.pdf"),
        ("报告\u202egpj.pdf", "报告gpj.pdf"),
        ("  spaced.pdf  ", "spaced.pdf"),
    ],
)
def test_a_name_is_reduced_to_a_bare_name(given, bare):
    assert safe_name(given) == bare


@pytest.mark.parametrize("given", ["", "   ", ".", "..", "../..", "a/..", "dir/", "\x00\x01", "\\"])
def test_a_name_with_nothing_left_is_refused(given):
    with pytest.raises(BadInput, match="文件名无效"):
        safe_name(given)


def test_an_overlong_name_is_cut_to_255_characters():
    assert len(safe_name("长" * 300 + ".pdf")) == 255


@pytest.mark.parametrize(
    ("given", "content", "bare"),
    [
        ("../../../../x.pdf", PDF, "x.pdf"),
        ("..\\..\\..\\..\\x.pdf", PDF, "x.pdf"),
        ("/abs/path/a.pdf", PDF, "a.pdf"),
        ("../../evidence/../../p.png", PNG, "p.png"),
        ("a\x00/../b\n.txt", b"plain text", "b.txt"),
    ],
)
def test_hostile_names_never_write_outside_the_store(tmp_path, home, given, content, bare):
    stored = store(home, content, given)

    assert stored.name == bare
    written = files_under(tmp_path)
    assert written == {home / "evidence" / stored.sha256[:2] / stored.sha256[2:4] / stored.sha256}


def test_a_path_without_an_extension_is_refused_and_writes_nothing(tmp_path, home):
    with pytest.raises(BadInput, match="不允许的文件类型"):
        store(home, b"root:x:0:0", "../../etc/passwd")

    assert files_under(tmp_path) == set()


@pytest.mark.parametrize("name", ["", "../", "\x00"])
def test_an_empty_name_is_refused(tmp_path, home, name):
    with pytest.raises(BadInput):
        store(home, PDF, name)

    assert files_under(tmp_path) == set()


def test_an_empty_file_is_refused_and_leaves_no_temp_file(home):
    with pytest.raises(BadInput, match="文件为空"):
        store(home, b"", "空的.txt")

    assert files_under(home) == set()


def test_a_file_of_exactly_the_limit_is_accepted(home):
    content = PDF.ljust(100, b"x")
    policy = EvidencePolicy(max_bytes=100, allowed_types=("pdf",))

    stored = store(home, content, "a.pdf", policy)

    assert stored.size == 100
    assert leftovers(home) == []


def test_a_file_one_byte_over_the_limit_is_refused_and_leaves_no_temp_file(home):
    content = PDF.ljust(101, b"x")
    policy = EvidencePolicy(max_bytes=100, allowed_types=("pdf",))

    with pytest.raises(BadInput, match="文件过大"):
        store(home, content, "a.pdf", policy)

    assert files_under(home) == set()


def test_the_limit_holds_across_read_chunks(home):
    policy = EvidencePolicy(max_bytes=CHUNK + 10, allowed_types=("pdf",))

    accepted = store(home, PDF.ljust(CHUNK + 10, b"x"), "ok.pdf", policy)
    with pytest.raises(BadInput, match="文件过大"):
        store(home, PDF.ljust(CHUNK + 11, b"x"), "big.pdf", policy)

    assert accepted.size == CHUNK + 10
    assert files_under(home) == {
        home / "evidence" / accepted.sha256[:2] / accepted.sha256[2:4] / accepted.sha256
    }


def test_a_type_not_allowed_is_refused(home):
    with pytest.raises(BadInput, match=r"不允许的文件类型“\.exe”"):
        store(home, b"MZ\x90\x00", "setup.exe")

    assert files_under(home) == set()


def test_the_extension_is_compared_case_insensitively(home):
    assert store(home, PDF, "SCAN.PDF").name == "SCAN.PDF"


@pytest.mark.parametrize(
    ("name", "content"),
    [("scan.pdf", PNG), ("photo.png", PDF), ("renamed.pdf", b"MZ\x90\x00 executable")],
)
def test_content_not_matching_its_extension_is_refused(home, name, content):
    with pytest.raises(BadInput, match="文件内容与扩展名不符"):
        store(home, content, name)

    assert files_under(home) == set()


def test_allowed_types_are_configurable_and_normalised():
    settings = Settings(evidence_allowed_types="pdf, PNG")

    assert settings.evidence_allowed_types == ["pdf", "png"]


def test_allowed_types_from_the_environment_lose_dots_spaces_and_case(monkeypatch):
    monkeypatch.setenv("RECTIFY_EVIDENCE_ALLOWED_TYPES", " .PDF ,jpg,, OFD ")

    assert Settings().evidence_allowed_types == ["pdf", "jpg", "ofd"]


# --- a failed upload's bytes, and other uploads of the same bytes ----------------------------


def test_the_bytes_of_a_failed_upload_are_removed_without_a_trace(session, home):
    failed = store(home, PDF, "照片.pdf")
    assert failed.created
    discard_unreferenced(session, home, [failed])
    assert files_under(home) == set()


def test_bytes_another_upload_just_took_survive_the_first_upload_failing(session, home):
    """Two desks upload the same file; the first's action fails while the second has not
    committed yet (so nothing in the database refers to the blob): the blob stays."""
    first = store(home, PDF, "照片.pdf")
    second = store(home, PDF, "照片副本.pdf")
    assert first.created and not second.created
    discard_unreferenced(session, home, [first])
    assert blob_path(home, second.sha256).read_bytes() == PDF
    assert files_under(home) == {blob_path(home, second.sha256)}


def test_an_upload_after_the_blob_was_moved_aside_stores_its_own_copy(session, home, monkeypatch):
    first = store(home, PDF, "照片.pdf")
    real_replace = os.replace
    later: list = []

    def replace_then_upload(source, target):
        real_replace(source, target)
        if ".discard-" in str(target) and not later:  # right after the move aside
            later.append(store(home, PDF, "照片副本.pdf"))

    monkeypatch.setattr(os, "replace", replace_then_upload)
    discard_unreferenced(session, home, [first])
    monkeypatch.undo()
    assert later[0].created  # it found no blob, and wrote its own
    assert blob_path(home, first.sha256).read_bytes() == PDF
