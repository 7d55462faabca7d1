"""The memory analysis core imports nothing from Django, DRF or Channels."""

import subprocess
import sys


def test_memory_core_imports_no_framework():
    code = (
        "import sys, profiling.core.memory.service, profiling.core.workers\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'channels'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
