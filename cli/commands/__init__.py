"""One module per command group, each with `register(root: typer.Typer)` (cli/main.py finds them)."""
