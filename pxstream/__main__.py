from pxstream.cli import main

raise SystemExit(main())
