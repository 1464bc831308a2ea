"""The single place the rlwatch-notify version is declared."""

__version__ = "0.1.0"
