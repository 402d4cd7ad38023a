"""Load a starting function from source through a real module file.

Both implementations read a trainable function's source with ``inspect``, which needs a file;
the task's starting code (a HumanEval prompt with an empty body, the initial game policy) is
written to the run's working directory and imported from there.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable


def load_function(source: str, name: str, work_dir: str, module_name: str) -> Callable:
    """``name`` from ``source``, imported as module ``module_name`` from ``work_dir``."""
    path = os.path.join(work_dir, f"{module_name}.py")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)
