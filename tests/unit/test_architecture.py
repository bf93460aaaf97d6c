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
    code = "import sys, analytics.cli; analytics.cli.build_parser(); print('streamlit' in sys.modules)"
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
