/* The guest's memory figure, sent to the host on its request (core/memreport.c). */
#pragma once

/* Writes the `mem` control record (docs/protocol.md, section 4) on the kernel log. */
void memreport_send(void);
