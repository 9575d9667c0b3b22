"""What every headless command shares: its exit statuses."""

#: The command did what was asked.
EXIT_OK = 0
#: Input that cannot be read or decoded, or a request that cannot be met: one line on stderr, no traceback.
EXIT_INPUT = 2
