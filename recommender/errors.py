"""Every failure taskprof can name. The CLI turns these into one line and exit 1."""


class TaskprofError(Exception):
    """Base of every failure that gets a one-line message instead of a traceback."""


class ProfileError(TaskprofError):
    """A profile file is broken, incomplete, or a name is not a valid profile name."""


class ProfileNotFound(ProfileError):
    """No profile has the requested name."""


class ArtifactError(TaskprofError):
    """The classifier artifact is missing, corrupt, or does not match this code."""


class InputError(TaskprofError):
    """The text or data the user gave cannot be used."""


class OllamaUnavailable(TaskprofError):
    """The Ollama server cannot be reached."""


class OllamaError(TaskprofError):
    """The Ollama server answered with an error."""


class InstallRefused(TaskprofError):
    """An install was refused before any download: no room, no consent, nothing to do."""


class UsageLogError(TaskprofError):
    """The usage database cannot be opened or written."""


class TrainingError(TaskprofError):
    """Training cannot run: missing extra, too little data, or a worse model."""
