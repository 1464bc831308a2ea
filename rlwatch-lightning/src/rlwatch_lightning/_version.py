"""The single place the rlwatch-lightning version is declared."""

__version__ = "0.1.0"
