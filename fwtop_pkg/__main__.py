"""python -m fwtop"""

from fwtop.tui.cli import main

raise SystemExit(main())
