import sys

from cloudrec.cli import main

sys.exit(main())
