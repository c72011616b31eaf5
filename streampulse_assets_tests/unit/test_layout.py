"""Every test file sits in one of the three layer folders, so the folder marks it."""

from pathlib import Path

from streampulse_assets_tests.conftest import LAYERS, TESTS_ROOT, layer_of


def test_every_test_file_sits_in_a_layer_folder():
    files = sorted(TESTS_ROOT.rglob("test_*.py")) + sorted(TESTS_ROOT.rglob("*_test.py"))
    outside = [str(f.relative_to(TESTS_ROOT)) for f in files if layer_of(f) is None]
    folders = ", ".join(f"{layer}/" for layer in LAYERS)
    assert not outside, f"test files outside {folders} (move them with git mv): {outside}"


def test_each_layer_folder_is_a_package():
    for layer in LAYERS:
        assert (TESTS_ROOT / layer / "__init__.py").is_file(), layer
    assert layer_of(TESTS_ROOT / "unit" / "test_layout.py") == "unit"
    assert layer_of(TESTS_ROOT / "test_flat.py") is None
    assert layer_of(Path("/elsewhere/unit/test_x.py")) is None
