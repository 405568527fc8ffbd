"""gradref's checker: finite differences, the autograd oracle, diagnosis, validation and grading."""

__all__: list[str] = []
