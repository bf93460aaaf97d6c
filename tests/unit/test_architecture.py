"""The shape of the house: a UI-free library, thin pages, all UI text in both languages."""

import ast
import subprocess
import sys

from tests.helpers import REPO


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_analytics_never_imports_streamlit():
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "analytics").rglob("*.py")
        if any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(p))
    ]
    assert offenders == []
    code = ("import sys, analytics.cli.main as m; [m.build_parser(c) for c in m.COMMANDS]; "  # every command's module
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "False"


def test_every_ui_text_has_english_and_chinese():
    from dashboard.i18n import TEXT

    missing = [k for k, v in TEXT.items() if set(v) != {"en", "zh"} or not all(v.values())]
    assert missing == []


def test_pages_use_only_known_text_keys():
    from dashboard.i18n import TEXT

    unknown = []
    for page in [REPO / "dashboard" / "app.py", *sorted((REPO / "dashboard").rglob("views/*.py"))]:
        for node in ast.walk(ast.parse(page.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value not in TEXT
            ):
                unknown.append(f"{page.name}: {node.args[0].value}")
    assert unknown == []


def test_every_routed_page_exists():
    import re

    app = (REPO / "dashboard" / "app.py").read_text(encoding="utf-8")
    files = re.findall(r'"([a-z_]+\.py)"', app)
    assert files, "the router lists no pages"
    assert [f for f in files if not (REPO / "dashboard" / "views" / f).exists()] == []


# -- the layers of the library ---------------------------------------------------------------------
def _module_of(path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _library_imports() -> dict[str, set[str]]:
    """Every analytics module and the analytics modules it imports (at the top or inside a function)."""
    modules = {_module_of(p): p for p in (REPO / "analytics").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:  # `from package import submodule` imports the submodule
                    sub = f"{node.module}.{a.name}"
                    found.add(sub if sub in modules else node.module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_library_has_no_import_cycle():
    graph = _library_imports()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, trail):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_layers_import_only_downwards():
    """store <- query <- query.accel <- query.engine <- features <- cli; nothing climbs back up."""
    features = ("analytics.metrics", "analytics.recsys", "analytics.experiments.analysis", "analytics.metrics.funnels",
                "analytics.metrics.timing", "analytics.metrics.roi", "analytics.recsys.recommend", "analytics.recsys.evaluation",
                "analytics.recsys.similarity", "analytics.recsys.content", "analytics.recsys.audiences", "analytics.ingest",
                "analytics.sample", "analytics.query.facets")
    cli = ("analytics.cli.main", "analytics.cli.commands", "analytics.__main__")
    rules = {
        "analytics.store": ("analytics.query", *features, *cli),
        "analytics.query": (*features, *cli),
        "analytics.query.accel": ("analytics.query.engine",),
    }
    offenders = []
    for module, imported in _library_imports().items():
        for layer, forbidden in rules.items():
            if _under(module, layer):
                offenders += [f"{module} -> {m}" for m in imported if _under(m, *forbidden)]
        if _under(module, *features, *cli):  # features ask the engine, never an accelerator
            offenders += [f"{module} -> {m}" for m in imported if _under(m, "analytics.query.accel")]
    assert offenders == []


def test_only_the_store_touches_a_database_driver():
    drivers = ("duckdb", "pyspark", "py4j")
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "analytics").rglob("*.py")
        if not _under(_module_of(p), "analytics.store")
        and any(m.split(".")[0] in drivers for m in _imports(p))
    ]
    assert offenders == []


def test_feature_modules_take_a_source_not_a_backend():
    """No ``backend`` / ``store_or_backend`` parameters (outside the store, which wraps backends) and
    no ``ibis()`` handed out by the store."""
    offenders = []
    for p in (REPO / "analytics").rglob("*.py"):
        if _under(_module_of(p), "analytics.store"):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for a in node.args.args + node.args.kwonlyargs:
                    flag = a.arg == "index" and "bool" in ast.unparse(a.annotation or ast.Constant(""))
                    if a.arg in ("backend", "store_or_backend") or flag:
                        offenders.append(f"{p.name}:{node.name}({a.arg})")
            if isinstance(node, ast.Attribute) and node.attr == "ibis" and isinstance(node.value, ast.Name):
                offenders.append(f"{p.name}: {node.value.id}.ibis")
    assert offenders == []
