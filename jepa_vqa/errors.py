"""Exceptions that mean "the user gave bad input": the CLI prints one line and exits 2."""


class UserError(Exception):
    """Bad input from the user (file, config, question). The message names the problem."""


class ConfigError(UserError, ValueError):
    """An unknown config key, a wrong type, or an invalid value. The message names the key."""
