"""nox session definitions, one module per package or concern."""
