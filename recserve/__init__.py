"""recserve: low-latency online recommendations from live event streams.

The packages follow the architecture's dependency direction
``training -> export -> (bundle files) <- service``; this package only holds
the ``recserve`` console entry point that dispatches to each role's CLI.
"""

__version__ = "0.1.0"
