"""The single place the rlwatch-verl version is declared."""

__version__ = "0.6.0"
