"""Every failure taskprof can name. The CLI maps InputError to exit 2 and every other one to exit 1."""


class TaskprofError(Exception):
    """Base of every failure that gets a one-line message instead of a traceback."""


class InputError(TaskprofError):
    """The text, name or flags the user gave cannot be used (a usage error, exit 2)."""


class ProfileError(TaskprofError):
    """A profile file is broken or incomplete."""


class ProfileNameError(InputError, ProfileError):
    """A name that cannot be a profile name (a path, upper case, empty)."""


class ProfileNotFound(InputError, ProfileError):
    """No profile has the requested name."""


class ArtifactError(TaskprofError):
    """The classifier artifact is missing, corrupt, or does not match this code."""


class OllamaUnavailable(TaskprofError):
    """The Ollama server cannot be reached."""


class OllamaError(TaskprofError):
    """The Ollama server answered with an error, or the connection broke mid-answer."""

    def __init__(self, message: str, *, resumable: bool = False):
        super().__init__(message)
        self.resumable = resumable  # a broken transfer: the same pull again resumes where it stopped


class InstallRefused(TaskprofError):
    """An install or removal was refused before anything changed: no room, no consent, nothing to use."""


class UsageLogError(TaskprofError):
    """The usage database cannot be opened or written."""


class TrainingError(TaskprofError):
    """Training cannot run: missing extra, too little data, or a worse model."""
