import sys

from kiosk.cli.parser import main

sys.exit(main())
