"""The one exception type for errors a user can cause, and lwjvm's own exit codes.

Exit codes are documented in docs/protocol.md (section 5); keep the two in step.
"""

EXIT_STOP_TIMEOUT = 121  # sent a stop signal, the guest did not finish in time and was killed
EXIT_NO_RECORD = 122  # the VM stopped without an exit record
EXIT_PANIC = 123  # the guest kernel panicked or took a fatal exception
EXIT_TIMEOUT = 124  # the guest did not finish in time and was killed
EXIT_USAGE = 125  # lwjvm itself could not run: bad input, missing tool


class LwjvmError(Exception):
    """An error the user can fix; printed as one line, with exit code `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code
