"""The machine a benchmark ran on, named as a person would look it up: every table prints it."""
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU's model name (platform.processor() is empty on Linux, and machine() says only "x86_64"), and the
    flags that set bf16's speed."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                platform.processor() or platform.machine())
    flags = [f for f in ("avx512_bf16", "amx_bf16") if f" {f}" in info]
    return name + (f" ({', '.join(flags)})" if flags else "")
