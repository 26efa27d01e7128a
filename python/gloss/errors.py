"""errors: the exceptions of the gloss package.

Every failure the library reports is a GlossError carrying the library's
message (which names the file, line, option or tensor that was wrong) and its
status: `.status` is the status's name ("format error", "invalid argument", ...)
and `.code` the gloss_status number. A subclass per status lets callers catch
one kind. Mistakes the package itself catches before calling the library (a
text that is not a str, an empty list) are TypeError and ValueError."""

from . import _native as _n


class GlossError(Exception):
    """A failure reported by libgloss (status GLOSS_ERROR, or the base of the others)."""

    def __init__(self, message, code=_n.ERROR):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = _n.text(_n.lib.gloss_status_name(code))

    def __str__(self):
        return f"{self.message} [{self.status}]" if self.message else self.status


class GlossMemoryError(GlossError, MemoryError):
    """An allocation failed (GLOSS_NOMEM)."""


class GlossIOError(GlossError):
    """A file could not be opened, read or written (GLOSS_IO)."""


class FormatError(GlossError):
    """A file is malformed or inconsistent: config, weights, vocabulary, data (GLOSS_FORMAT)."""


class InvalidArgumentError(GlossError, ValueError):
    """An option or argument value is unknown or out of range (GLOSS_INVALID)."""


class MisuseError(GlossError):
    """A call made wrongly, e.g. a classifier call on an encoder (GLOSS_MISUSE)."""


class Cancelled(GlossError):
    """A progress callback asked to stop (GLOSS_CANCELLED). After gloss.train a
    checkpoint is in the output directory and resume=True continues."""


_BY_CODE = {
    _n.NOMEM: GlossMemoryError,
    _n.IO: GlossIOError,
    _n.FORMAT: FormatError,
    _n.INVALID: InvalidArgumentError,
    _n.MISUSE: MisuseError,
    _n.CANCELLED: Cancelled,
}


def error_for(code, message):
    """The exception for a status and message."""
    return _BY_CODE.get(code, GlossError)(message, code)


def last_error(code=None):
    """The exception for this thread's last failure in the library; code, when
    given, is the status the failing call returned."""
    message = _n.text(_n.lib.gloss_last_error()) or ""
    if code is None or code == _n.OK:
        code = _n.lib.gloss_last_status()
        if code == _n.OK:  # a failure that left no message
            code = _n.ERROR
    return error_for(code, message)


def check(code):
    """Raise the exception for a status other than GLOSS_OK."""
    if code != _n.OK:
        raise last_error(code)
