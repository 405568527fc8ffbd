"""Computations of the built-in `planar` assignment (being written; registers nothing yet)."""

__all__: list[str] = []
