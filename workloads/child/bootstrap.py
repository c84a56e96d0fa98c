"""fwtop child bootstrap, executed by path: ``python bootstrap.py``.

The parent passes the workload spec as JSON in FWTOP_SPEC, and two inherited
pipe fds in FWTOP_EVENT_FD (events out) and FWTOP_CONTROL_FD (commands in).
Stdlib only; Python 3.8 compatible.
"""

import os
import sys
import time

STARTED = time.time()


def _load_child_package():
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    # Python put our own folder first on sys.path; keep it off the workload's path.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        sys.path.pop(0)
    spec = importlib.util.spec_from_file_location(
        "_fwtop_child", os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["_fwtop_child"] = module
    spec.loader.exec_module(module)
    return module


def main():
    _load_child_package()
    from _fwtop_child import runtime

    return runtime.main(STARTED)


if __name__ == "__main__":
    sys.exit(main())
