"""Read an XSpace file back with jaxlib's own parser (in a subprocess: the test process imports no framework)."""

import json
import subprocess

from conftest import PYTHON

_READ = r"""
import json, sys
from jax.profiler import ProfileData
pd = ProfileData.from_file(sys.argv[1])
out = []
for p in pd.planes:
    lines = []
    for l in p.lines:
        evs = [{"name": e.name, "start_ns": e.start_ns, "duration_ns": e.duration_ns, "stats": dict(e.stats)}
               for e in l.events]
        lines.append({"name": l.name, "events": evs})
    out.append({"name": p.name, "lines": lines})
print(json.dumps(out))
"""


def read_xspace(path) -> list:
    """[{name, lines: [{name, events: [{name, start_ns, duration_ns, stats}]}]}] as jaxlib reads the file."""
    proc = subprocess.run([PYTHON, "-c", _READ, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
