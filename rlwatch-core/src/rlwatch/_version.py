"""The single place the rlwatch-core version is declared."""

__version__ = "0.6.0"
