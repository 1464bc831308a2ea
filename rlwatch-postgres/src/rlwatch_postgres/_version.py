"""The single place the rlwatch-postgres version is declared."""

__version__ = "0.6.0"
