"""The package's layout: no two modules import each other, however indirectly (lazy imports inside functions count)."""
import ast
import re
from pathlib import Path

import ganforge

PACKAGE = Path(ganforge.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each ganforge module -> the ganforge modules it imports (packages' __init__ left out: they import nothing)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # `from . import x` may name a module
                    targets.add(f"{module}.{alias.name}" if f"{module}.{alias.name}" in paths else module)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                targets |= {n for n in names if n in paths}
        graph[name] = {t for t in targets if t in paths and t != name and not paths[t].name == "__init__.py"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports, or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert "ganforge.sampling.load" in graph["ganforge.sampling.export"]  # the graph sees the package's imports
    assert "ganforge.studies.study" in graph["ganforge.studies.study_report"]
    assert _cycle(graph) is None


# The layers, lowest first: a module imports only from its own layer or the ones below it. Training is built from the
# parts below it; the studies and the command line run it; nothing below `train` reaches up into it.
LAYERS = [
    {"errors", "config", "run_folder", "checkpoint", "device", "determinism", "viz", "nets", "data"},
    {"metrics", "sampling", "interop", "summary", "web"},
    {"train"},
    {"studies"},
    {"cli", "__main__"},
]


def _layer(module: str) -> int:
    top = module.split(".")[1]
    (index,) = [i for i, layer in enumerate(LAYERS) if top in layer]
    return index


def _modules() -> dict[str, set[str]]:
    return {m: t for m, t in import_graph().items() if m != "ganforge"}  # the empty package __init__


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_ones():
    graph = _modules()
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets if _layer(t) > _layer(m))
    assert upward == []
    assert not any(t.startswith("ganforge.train") for m, targets in graph.items() if _layer(m) < _layer("ganforge.train")
                   for t in targets)


def test_packages_import_each_other_without_a_loop():
    graph = _modules()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(module.split(".")[1], set()).update(t.split(".")[1] for t in targets)
    assert _cycle({p: targets - {p} for p, targets in packages.items()}) is None
    assert "sampling" in packages["metrics"] and "nets" in packages["sampling"]  # the graph sees across packages


def test_docs_layout_names_every_module():
    """docs/layout.md is the map of the package: a module it does not name is a room nobody is shown."""
    text = (PACKAGE.parent / "docs" / "layout.md").read_text()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" and path.parent != PACKAGE / "data":
            continue
        relative = path.relative_to(PACKAGE)
        named = str(relative) in text or (len(relative.parts) > 1 and f"{relative.parts[0]}/" in text and path.name in text)
        if not named:
            missing.append(str(relative))
    assert missing == []


def test_code_points_to_the_docs_not_to_issue_numbers_or_screen_letters():
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.toml"), *(root / "bench").glob("*"), *(root / "tools").glob("*.py")]
    cited = [f"{path.relative_to(root)}: {match.group(0)}" for path in files if path.is_file()
             for match in re.finditer(r"(?<!clean-fid )(?<![/\w])(issue \d+|screen [A-Z]\d*)\b", path.read_text())]
    assert cited == []
