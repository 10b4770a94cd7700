"""python -m edge_agent: the zamio-agent command line."""

from edge_agent.cli import main

raise SystemExit(main())
