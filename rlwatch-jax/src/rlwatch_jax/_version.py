"""The single place the rlwatch-jax version is declared."""

__version__ = "0.1.0"
