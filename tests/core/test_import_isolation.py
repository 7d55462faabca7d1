import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_profiling_core_imports_no_framework():
    modules = sorted(p.stem for p in (ROOT / "profiling" / "core").rglob("*.py") if p.stem != "__init__")
    packages = sorted(
        str(p.parent.relative_to(ROOT)).replace("/", ".")
        for p in (ROOT / "profiling" / "core").rglob("__init__.py")
    )
    code = (
        "import importlib, pkgutil, sys\n"
        "import profiling.core as core\n"
        f"for pkg in {packages!r}:\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.iter_modules(mod.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'rest_framework', 'channels', 'daphne'})\n"
        "print(len([m for m in sys.modules if m.startswith('profiling.core')]))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded, bad = result.stdout.splitlines()
    assert int(loaded) >= len(modules)  # every core module was imported
    assert bad == ""
