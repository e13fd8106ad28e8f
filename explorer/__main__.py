"""``python -m explorer <verb>``: see ``explorer.cli``."""

from .cli import main

raise SystemExit(main())
