"""Research: many backtests of one strategy, to find and test its parameters.

A client of the engine, like the headless runner: every trial is an ordinary backtest
(``ats.trading_job.backtest.run_backtest``) on candles loaded once. The engine never
imports this package.
"""
