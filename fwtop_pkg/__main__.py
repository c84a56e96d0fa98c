"""python -m fwtop"""

from fwtop.tui.launch import main

raise SystemExit(main())
