"""Reports written as files: self-contained HTML pages of a backtest or a sweep."""
