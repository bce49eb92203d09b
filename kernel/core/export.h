/* The export region (docs/protocol.md section 7): one file handed back to the host at exit. */
#pragma once

/* If the host attached an export region naming a file, copies that file into it. Called once,
 * when the program has exited, before the exit record. */
void export_at_exit(void);
