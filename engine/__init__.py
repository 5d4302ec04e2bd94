"""specengine: declarative, spec-driven alignment jobs, image recipes and volume pools."""

__all__ = ["__version__"]

__version__ = "0.1.0"
