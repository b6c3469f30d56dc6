"""Which files of the workflow a script runs, and one digest of their contents.

Snakemake judges a script rule's code by the script file's mtime alone, so a
`git checkout` reruns it and a change in a module it imports does not. The rules
pass `code_digest` as a param instead (workflow/rules/common.smk): the script
plus every module under the scripts folder it imports, directly or through
other modules, found by reading the import statements (lazy ones inside
functions too). Imports of anything outside that folder are ignored.
"""

import ast
import hashlib
from functools import cache
from pathlib import Path


def module_files(dotted, root):
    """Files under `root` that `import <dotted>` executes: each package's __init__, the module."""
    files = []
    folder = root
    for part in dotted.split("."):
        package, module = folder / part / "__init__.py", folder / f"{part}.py"
        if package.is_file():
            files.append(package)
        elif module.is_file():
            files.append(module)
        else:
            break
        folder = folder / part
    return files


def imported_modules(tree, package):
    """Dotted names of every module `tree` may import, `from a import b` giving a and a.b;
    `package` (a tuple of names) is the importing module's, for relative imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:  # relative (`from . import x`, `from ..a import x`)
                above = package[: len(package) - node.level + 1]
                base = ".".join([*above, base] if base else above)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


@cache
def direct_imports(path, root):
    """Files under `root` that the module at `path` imports itself."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError:
        return ()  # it fails when run; its own content still counts in the digest
    names = imported_modules(tree, path.relative_to(root).parts[:-1])
    return tuple(file for name in names if name for file in module_files(name, root))


def code_files(script, root):
    """`script` and every file under `root` it imports, transitively, sorted."""
    root = Path(root).resolve()
    pending, seen = [Path(script).resolve()], set()
    while pending:
        path = pending.pop()
        if path not in seen:
            seen.add(path)
            pending.extend(direct_imports(path, root))
    return sorted(seen)


def code_digest(script, root):
    """sha256 over the names (relative to `root`) and contents of `code_files`."""
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for path in code_files(script, root):
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{path.relative_to(root).as_posix()} {content}\n".encode())
    return digest.hexdigest()
