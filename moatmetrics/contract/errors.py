"""The error every reader and guard raises when a whole file is unusable.

Its own module so the readers and the XLSX archive guard share it without importing each other.
"""


class StructuralError(ValueError):
    """The whole file is unusable; the message names the problem and the fix."""
