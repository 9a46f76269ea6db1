import sys

from checks.rehearsal.run import main

sys.exit(main())
