"""The one exception type the CLI turns into a single clear line and exit code 2."""


class GanforgeError(Exception):
    """A problem with the user's input (paths, presets, data, checkpoints), not a bug."""
