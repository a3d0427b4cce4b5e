import sys

from restore.cli.main import main

sys.exit(main())
