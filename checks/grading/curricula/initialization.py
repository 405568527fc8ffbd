"""Computations of the built-in `initialization` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
