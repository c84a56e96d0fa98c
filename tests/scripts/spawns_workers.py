"""A loop that starts two worker processes which never exit on their own (they ignore
their parent's death, unlike well-behaved data-loader workers) and marks its steps with
fwtop's explicit API. Writes the workers' pids to the file named by its first argument.
"""

import subprocess
import sys
import time

import fwtop

workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)]
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(str(w.pid) for w in workers))
import os  # noqa: E402

os.replace(sys.argv[1] + ".tmp", sys.argv[1])
print("workers started", flush=True)
while True:
    time.sleep(0.05)
    fwtop.step(samples=1)
