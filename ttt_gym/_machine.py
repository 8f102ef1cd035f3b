"""What a measurement ran on, recorded next to every benchmark result so that two timings can be compared."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

__all__ = ["machine_info"]


def machine_info() -> dict[str, Any]:
    """Platform, CPU model and count, Python, torch version and threads, and whether CUDA is available."""
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
    }
