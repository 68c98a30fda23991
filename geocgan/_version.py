"""The package's version, apart so that modules below ``geocgan`` can read it without a cycle."""

__version__ = "0.1.0"
