"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class TSGFError(Exception):
    """Base class: a problem the user can fix (bad config, bad input file, diverged run)."""


class ConfigError(TSGFError):
    """The configuration is invalid; the message names the key and the value."""


class ClipSetError(TSGFError):
    """A prepared-clip directory is missing, incomplete or inconsistent."""


class NonFiniteLossError(TSGFError):
    """A loss became NaN or Inf; the message names the stage and the iteration."""


class DeviceError(TSGFError):
    """The requested device or precision cannot be used here; the message names it."""
