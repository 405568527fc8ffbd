"""Computations of the built-in `gradient_checking` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
