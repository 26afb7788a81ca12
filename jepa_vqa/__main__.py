import sys

from jepa_vqa.cli import main

sys.exit(main())
