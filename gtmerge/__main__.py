import sys

from gtmerge.cli import main

sys.exit(main())
