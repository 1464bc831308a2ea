"""The single place the rlwatch-rllib version is declared."""

__version__ = "0.1.0"
