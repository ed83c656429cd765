"""The one exception type the CLI turns into a single clear line and exit code 2."""


class GanforgeError(Exception):
    """A problem with the user's input (paths, presets, data, checkpoints), not a bug."""


def output_folder(path, flag: str = "--out"):
    """`path` as a folder that exists and can be written, or one GanforgeError naming the flag, the path and why."""
    import os
    from pathlib import Path

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"{flag} {folder}: cannot make this folder ({exc.strerror or exc})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GanforgeError(f"{flag} {folder}: this folder is not writable")
    return folder


def output_file(path, flag: str = "--out", example: str = "results.json"):
    """`path` as a file that can be written: not a folder, in a folder that exists (made if need be) and is writable."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise GanforgeError(f"{flag} {path}: a folder; give a file's name, e.g. {path / example}")
    output_folder(path.parent, flag)
    return path
