"""The single place the rlwatch-trl version is declared."""

__version__ = "0.1.0"
