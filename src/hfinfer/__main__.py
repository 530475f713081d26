"""`python -m hfinfer …`: the `hfinfer` command (batch jobs and single calls)."""

from hfinfer._cli import main

raise SystemExit(main())
