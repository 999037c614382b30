"""The headless commands' exit codes: 0 done, 1 a job failed or was not saved, 2 bad
input (a usage error, a bad config or candle file), as the README's CLI section says."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
