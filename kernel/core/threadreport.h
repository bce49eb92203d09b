/* The answer to the host's `lwjvm:threads` control request (docs/protocol.md, section 4): what
 * every thread and CPU is doing, so that a host whose program seems stuck can tell a program
 * blocked as it would be on Linux from a kernel that lost a wake-up. */
#pragma once

/* Writes the `threads`, `cpu`, `thread` and `threads-end` records on the kernel log. */
void threadreport_send(void);
