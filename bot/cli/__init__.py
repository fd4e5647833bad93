"""The offline subcommands of `cyclewatch` (fetch, status, check, test, backtest, regime)."""
