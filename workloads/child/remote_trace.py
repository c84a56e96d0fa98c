"""Capture a trace through a JAX or TensorFlow profiler server, run by path in an
interpreter that has TensorFlow (whose profiler client speaks to both servers):

    python remote_trace.py PORT DURATION_MS LOGDIR

Prints one JSON line: {"ok": true, "files": [[path, bytes], ...]} or
{"ok": false, "error": "..."}. Stdlib + the framework only; Python 3.8.
"""

import json
import os
import sys


def _files(root):
    out = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            out.append([path, os.path.getsize(path)])
    return sorted(out)


def main(argv):
    port, duration_ms, logdir = int(argv[0]), int(argv[1]), argv[2]
    try:
        from tensorflow.python.profiler import profiler_client
    except ImportError as exc:
        print(
            json.dumps(
                {
                    "ok": False,
                    "error": "capturing through a profiler server needs TensorFlow's profiler client in %s "
                    "(pip install tensorflow-cpu, or pass --python an interpreter that has it): %s"
                    % (sys.executable, exc),
                }
            )
        )
        return 3
    try:
        profiler_client.trace("grpc://127.0.0.1:%d" % port, logdir, duration_ms)
    except Exception as exc:  # noqa: BLE001 - reported as one line to the parent
        message = " ".join(str(exc).split())[:300]
        print(json.dumps({"ok": False, "error": "no trace from the profiler server on port %d: %s" % (port, message)}))
        return 1
    print(json.dumps({"ok": True, "files": _files(logdir)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
