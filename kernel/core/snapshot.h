/* Warm snapshots (docs/protocol.md, section 8): on the host's `lwjvm:freeze` line the kernel stops
 * every CPU, says `frozen` and waits, polling COM3, for `lwjvm:thaw rt=NS`, which a restored copy
 * of the VM (or the same VM, if the host lets it go on) receives: the wall clock is set to the
 * host's, the TSC-seeded generator reseeded, and every CPU resumes where it stopped. */
#pragma once
#include <stdint.h>

/* The control line `lwjvm:freeze`, on the CPU that took COM3's interrupt (interrupts off):
 * returns after the thaw, or at once with a `frozen ok=0` record if the CPUs could not be
 * stopped. */
void snapshot_freeze(void);
/* The freeze IPI on every other CPU: spins with interrupts off until the thaw. */
void snapshot_hold(void);
