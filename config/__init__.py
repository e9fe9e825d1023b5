"""Configuration: one frozen settings object built once from the environment.

It will also hold the logging setup (structlog). Nothing outside this package reads
``os.environ``; the settings object is passed down from the composition root.
"""
