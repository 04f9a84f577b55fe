"""The server's layout: imports run one way, and the feedback lane leans only on the server's leaves.

Read from the source with ``ast``, so imports under ``TYPE_CHECKING`` and inside functions count
as much as the ones at the top: a circle drawn only for the type checker is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "swingsync_fast"
SERVER = "swingsync_fast.server"
# What the feedback lane may use of the server: schemas, stored records, the histogram (and the
# packages around them, whose __init__ runs first and imports nothing of the server but these).
LEAVES = (f"{SERVER}.protocol", f"{SERVER}.storage.records", f"{SERVER}.stream.latency")
LEAF_PACKAGES = {SERVER, f"{SERVER}.storage", f"{SERVER}.stream"}


def is_leaf(module: str) -> bool:
    return module in LEAF_PACKAGES or module.startswith(LEAVES)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports, wherever the import statement stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from . import x`` imports the module x; ``from .m import y`` the module m.
            targets = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in modules]
            targets = targets or [module]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    # Importing a.b.c runs a/__init__.py and a/b/__init__.py first, unless they are this module's own
    # packages (already running when it is imported).
    own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
    for target in list(found):
        parts = target.split(".")
        found.update(p for p in (".".join(parts[:i]) for i in range(2, len(parts))) if p in modules)
    found -= own
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports_of(path, modules) for name, path in paths.items()}


def cycle_in(edges: dict[str, set[str]], nodes: set[str]) -> list[str] | None:
    """One import circle among ``nodes``, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node] & nodes):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(nodes):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_server_has_no_import_circle():
    edges = graph()
    server = {m for m in edges if m == SERVER or m.startswith(SERVER + ".")}
    assert len(server) > 30
    circle = cycle_in(edges, server)
    assert circle is None, " -> ".join(circle or ())


def test_the_package_has_no_import_circle():
    edges = graph()
    circle = cycle_in(edges, set(edges))
    assert circle is None, " -> ".join(circle or ())


def test_feedback_imports_only_the_servers_leaves():
    edges = graph()
    for module, targets in edges.items():
        if module.startswith("swingsync_fast.feedback"):
            reached = {t for t in targets if t.startswith(SERVER)}
            strays = {t for t in reached if not is_leaf(t)}
            assert not strays, f"{module} imports {sorted(strays)}"


def test_the_servers_leaves_import_nothing_else_of_the_server():
    edges = graph()
    leaves = {m for m in edges if is_leaf(m)}
    assert len(leaves) > 8
    for leaf in leaves:
        strays = {t for t in edges[leaf] if t.startswith(SERVER) and t not in leaves}
        assert not strays, f"{leaf} imports {sorted(strays)}"


def test_the_hot_path_leans_on_nothing_above_it():
    """stream/ (but its endpoint, which takes the runtime) sees only schemas, storage, auth, settings."""
    edges = graph()
    allowed = (f"{SERVER}.stream", f"{SERVER}.protocol", f"{SERVER}.storage", f"{SERVER}.auth",
               f"{SERVER}.settings", f"{SERVER}.responses")
    for module, targets in edges.items():
        if module.startswith(f"{SERVER}.stream") and module != f"{SERVER}.stream.endpoint":
            strays = {t for t in targets if t.startswith(SERVER) and t != SERVER and not t.startswith(allowed)}
            assert not strays, f"{module} imports {sorted(strays)}"
