"""jepa-vqa: shared plumbing (strict config, errors, command line, training utilities)."""

__version__ = "0.1.0"
