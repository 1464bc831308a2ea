"""The ``rlwatch`` command line."""
