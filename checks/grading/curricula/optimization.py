"""Computations of the built-in `optimization` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
