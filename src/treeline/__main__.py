from treeline.cli import main

raise SystemExit(main())
