"""The package's modules import each other without cycles, and io/ sits below the models."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "geocgan"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str):
    """Dotted names imported anywhere in ``tree`` (functions too; not under TYPE_CHECKING).
    ``from a import b`` names ``a.b``, which is module ``a.b`` or a name in ``a``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports(child, package))
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            yield from (f"{base}.{a.name}" for a in node.names)
        yield from _imports(node, package)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for imported in _imports(ast.parse(path.read_text()), package):
            while imported and imported not in modules:  # a name in a module: the module
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                deps.add(imported)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import p.x\n"
        "def f():\n    from p import y\n"
    )
    assert list(_imports(tree, "p")) == ["typing.TYPE_CHECKING", "p.y"]


def test_the_package_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_io_sits_below_the_models():
    """io/ holds GIS and file formats: it imports no model, trainer, sampler or checkpoint."""
    above = ("models", "train", "simulate", "checkpoint", "job", "evaluate", "cli")
    wrong = {
        (name, dep)
        for name, deps in import_graph().items()
        if name.startswith("geocgan.io")
        for dep in deps
        if dep.split(".")[1:2] and dep.split(".")[1] in above
    }
    assert wrong == set()
