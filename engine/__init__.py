"""specengine: declarative, spec-driven alignment jobs (and, later, image recipes and volume pools)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
