"""Errors the product reports to its users: one clear line each, in Chinese."""


class RectifyError(Exception):
    """Anything a user did or supplied that Rectify refuses; the message is shown as is."""


class NotFound(RectifyError):
    """A person, task or other record named by the user does not exist."""


class Refused(RectifyError):
    """The workflow refuses an action: wrong stage, wrong role, separation of duties."""


class ChangedMeanwhile(RectifyError):
    """Optimistic locking: someone else changed the record after it was read."""


class BadInput(RectifyError):
    """Input data (a file, a date, a row) is malformed; nothing was written."""
