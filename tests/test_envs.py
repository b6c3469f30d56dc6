"""Every conda env in envs/ has what the scripts of its rules import (`--sdm conda`).

Each rule's script is read with `ast` and followed through the workflow's own
modules (cifar_compare.* and sibling scripts), so an import deep in a helper
counts; each third-party import must be a package of the rule's env file.
"""

import ast
import re
import sys

import pytest
import yaml
from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"
# Import name -> the package that provides it, where the two differ.
PACKAGE_OF = {"yaml": "pyyaml", "PIL": "pillow"}
# Distributions that provide another's import name (the CPU and GPU builds of TensorFlow).
PROVIDES = {"tensorflow-cpu": "tensorflow"}
# The Keras rules' env is chosen at DAG build (common.smk: keras_conda_env): check both.
ENV_CHOICES = {"KERAS_CONDA_ENV": ["../../envs/keras.yaml", "../../envs/keras-gpu.yaml"]}
# Imports only reached on paths the config cannot select (JAX is not offered:
# config/README.md, `backend`).
NOT_REQUIRED = {"jax"}
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.M | re.S)


def rules_with_envs():
    """(rule, env file, script) of every rule in workflow/rules/ that has a script."""
    found = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            env = re.search(r'conda:\s*\n\s*"?([^"\n]+)"?', body)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', body)
            if script:
                assert env, f"rule {name} runs a script but names no conda env"
                for choice in ENV_CHOICES.get(env[1], [env[1]]):
                    found.append((name, (smk.parent / choice).resolve(), smk.parent / script[1]))
    return found


def own_module(name):
    """The workflow's own file for an import name, or None for anything else."""
    path = SCRIPTS.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def third_party_imports(script):
    """Top-level names of every non-stdlib, non-workflow import reachable from `script`."""
    seen, todo, found = set(), [script.resolve()], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path):
            own = own_module(name)
            if own:
                todo.append(own.resolve())
            elif not own_module(name.split(".")[0]):
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names:
                    found.add(top)
    return found - {"cifar_compare"}


def env_packages(env_file):
    spec = yaml.safe_load(env_file.read_text())
    names = set()
    for entry in spec["dependencies"]:
        for requirement in entry["pip"] if isinstance(entry, dict) else [entry]:
            name = re.split(r"[=<>!~ \[]", requirement, maxsplit=1)[0].lower()
            names.add(PROVIDES.get(name, name))
    return names


RULES = rules_with_envs()
RULE_IDS = [f"{rule}-{env.stem}" for rule, env, _ in RULES]


def test_every_script_rule_was_found():
    assert {"prepare_data", "train_pytorch", "train_keras", "report"} <= {r for r, _, _ in RULES}


@pytest.mark.parametrize("rule, env_file, script", RULES, ids=RULE_IDS)
def test_env_has_every_package_its_script_imports(rule, env_file, script):
    needed = {PACKAGE_OF.get(name, name).lower() for name in third_party_imports(script)}
    missing = needed - {PACKAGE_OF.get(n, n) for n in NOT_REQUIRED} - env_packages(env_file)
    assert not missing, f"{env_file.name} lacks {sorted(missing)} for rule {rule}"


def test_env_pins_match_requirements():
    pins = {}
    requirements = (REPO / "requirements.txt", REPO / "requirements-gpu.txt")
    for line in "\n".join(r.read_text() for r in requirements).splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower()] = version
    for env_file in sorted((REPO / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env_file.read_text())
        for entry in spec["dependencies"]:
            for requirement in entry.get("pip", []) if isinstance(entry, dict) else []:
                name, version = requirement.split("#")[0].strip().split("==")
                assert pins.get(name.lower()) == version, f"{env_file.name}: {requirement}"
