"""`python -m console.cli` runs the command line as the installed `support-console` script does."""
from console.cli import main

raise SystemExit(main())
