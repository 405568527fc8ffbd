"""Computations of the built-in `layered_full` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
