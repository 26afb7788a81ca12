"""``python -m cli ...``: the same as the ``jepa-vqa`` console script."""

import sys

from cli.main import main

sys.exit(main())
