/* Saving and restoring a thread's x87/SSE/AVX/AVX-512 state (XSAVE, or FXSAVE without it). The
 * kernel itself never touches these registers, so they hold the running thread's state. */
#pragma once
#include <stdint.h>

/* Allocates a state area in the initial (reset) state; 0 when memory is exhausted. */
void *fpu_alloc(void);
void fpu_free(void *area);
void fpu_save(void *area);
void fpu_restore(const void *area);
/* Bytes of an area (and of the FP part of a signal frame, without the trailing magic). */
uint32_t fpu_size(void);
