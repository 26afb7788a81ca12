"""jepa-vqa: the shared base (strict config, errors, command-line plumbing, training utilities,
precision). It imports no other project package; the `jepa-vqa` command is the `cli` package."""

__version__ = "0.1.0"
