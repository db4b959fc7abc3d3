import sys

from stabkit.cli import main

sys.exit(main())
