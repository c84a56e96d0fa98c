"""Child side of fwtop: runs inside the workload's own interpreter.

Everything in this folder is stdlib + the framework only (never textual or
fwtop's own dependencies) and Python 3.8 compatible. The parent runs
``bootstrap.py`` by path; the bootstrap loads this folder as the package
``_fwtop_child`` so that a user's own modules named ``common`` or ``models``
never collide with ours. The parent imports the framework-free modules
(protocol, common, models) as ``fwtop.workloads.child.*``.
"""
