"""Settings for every test directory."""

from __future__ import annotations

import signal

# A run started in the background by a non-interactive shell (`make test &`, `nohup make test`,
# some CI runners) inherits SIGINT ignored, and so would every program the tests start: the JVM
# then installs no handler for it and lwjvm's Ctrl-C path never runs. The tests that send SIGINT
# need it delivered, so the default comes back here (a handled signal is reset for children).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
