"""The one exception type for problems a user can fix."""

from __future__ import annotations


class UserError(Exception):
    """A bad flag, config, path or choice. The CLI prints ``fwtop: <message>`` and exits 2."""

    exit_status = 2
