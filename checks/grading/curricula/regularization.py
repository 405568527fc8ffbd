"""Computations of the built-in `regularization` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
