"""The identity params: which code a script runs (import scan), recipes and the study."""

import shutil

from cifar_compare.code_identity import code_digest, code_files
from cifar_compare.identity import recipe, study

FILES = {
    "script.py": "import numpy\nfrom pkg.a import run\nfrom helper import HELP\n",
    "helper.py": "HELP = 1\n",
    "pkg/__init__.py": "",
    "pkg/a.py": "def run():\n    from pkg import b  # lazy\n    return b.VALUE\n",
    "pkg/b.py": "from . import c\nfrom .c import VALUE\n",
    "pkg/c.py": "VALUE = 1\n",
    "pkg/unused.py": "VALUE = 2\n",
}


def scripts(root):
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_code_files_follow_imports_transitively_lazy_and_relative_ones_too(tmp_path):
    root = scripts(tmp_path)
    found = {p.relative_to(root).as_posix() for p in code_files(root / "script.py", root)}
    assert found == set(FILES) - {"pkg/unused.py"}


def test_digest_changes_with_imported_content_only(tmp_path):
    root = scripts(tmp_path / "here")
    before = code_digest(root / "script.py", root)
    (root / "pkg/unused.py").write_text("VALUE = 3  # not imported by the script\n")
    assert code_digest(root / "script.py", root) == before
    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved)  # new folder, new mtimes, same contents
    assert code_digest(moved / "script.py", moved) == before
    (moved / "pkg/c.py").write_text("VALUE = 1  # a comment is a change of content\n")
    assert code_digest(moved / "script.py", moved) != before


def test_a_module_that_does_not_parse_still_counts_by_content(tmp_path):
    root = scripts(tmp_path)
    before = code_digest(root / "script.py", root)
    (root / "pkg/c.py").write_text("VALUE = (\n")
    assert code_digest(root / "script.py", root) != before


MODEL = {
    "framework": "pytorch",
    "optimizer": {"name": "sgd", "lr": 0.1},
    "seeds": [0],
    "enabled": True,
    "test_time_flip": True,
    "test_time_shift": 0,
}


def test_recipe_leaves_out_seeds_and_enabled_and_sorts_keys():
    reordered = {"enabled": True, "seeds": [0, 1], "optimizer": {"lr": 0.1, "name": "sgd"}}
    reordered["framework"] = "pytorch"
    assert repr(recipe(reordered)) == repr(recipe(MODEL))
    assert recipe(MODEL) == {"framework": "pytorch", "optimizer": {"lr": 0.1, "name": "sgd"}}


def test_study_leaves_out_locations_and_disabled_models():
    config = {
        "data": {"url": "/here/cifar.tar.gz", "md5": "0" * 32},
        "weights": {"allow_unofficial": False, "sources": {}},
        "models": {"a": MODEL, "b": {**MODEL, "enabled": False}},
    }
    moved = {**config, "data": {**config["data"], "url": "https://elsewhere/cifar.tar.gz"}}
    assert study(moved) == study(config)
    assert list(study(config)["models"]) == ["a"] and study(config)["models"]["a"]["seeds"] == [0]
    assert "url" not in study(config)["data"]


def test_the_evaluation_policy_is_part_of_the_study_not_of_the_training_recipe():
    """Scoring with shifted views scores the trained models again (the report's study
    changes) without retraining them (the train rule's recipe does not)."""
    shifted = {**MODEL, "test_time_shift": 2}
    assert recipe(shifted) == recipe(MODEL)
    assert "test_time_flip" not in recipe(MODEL)
    config = {
        "data": {"md5": "0" * 32},
        "weights": {"allow_unofficial": False, "sources": {}},
        "models": {"a": MODEL},
    }
    assert study({**config, "models": {"a": shifted}}) != study(config)
