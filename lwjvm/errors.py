"""The one exception type for errors a user can cause, and lwjvm's own exit codes.

Exit codes are documented in docs/protocol.md (section 5); keep the two in step.
"""

EXIT_STOP_TIMEOUT = 121  # sent a stop signal, the guest did not finish in time and was killed
EXIT_NO_RECORD = 122  # the VM stopped without an exit record
EXIT_PANIC = 123  # the guest kernel panicked or took a fatal exception
EXIT_TIMEOUT = 124  # the guest did not finish in time and was killed
EXIT_USAGE = 125  # lwjvm itself could not run: bad input, missing tool


def one_line(text: str) -> str:
    """`text` with control characters (a newline or an escape sequence in a user's path or value)
    written as Python escapes, so that it prints as one line and cannot drive the terminal."""
    if all(" " <= c != "\x7f" for c in text):
        return text
    return "".join(c if " " <= c != "\x7f" else repr(c)[1:-1] for c in text)


class LwjvmError(Exception):
    """An error the user can fix; printed as one line, with exit code `code`. Control characters
    in the message (from the user's input) are escaped unless `multiline` (a report that quotes
    a console, for the bench)."""

    def __init__(self, message: str, code: int = EXIT_USAGE, multiline: bool = False) -> None:
        super().__init__(message if multiline else one_line(message))
        self.code = code
