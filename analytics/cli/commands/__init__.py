"""CLI sub-commands: each module defines ``register(subparsers)``; discovered by :mod:`analytics.cli.main`."""
