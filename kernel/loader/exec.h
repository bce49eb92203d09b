/* Starting the program: mapping an ELF executable (and its interpreter) into the address space and
 * building the Linux initial stack. */
#pragma once
#include <stdint.h>

struct regs;

/* Loads `path` with argv/envp (NULL-terminated arrays of kernel strings) into a fresh address
 * space and fills *frame to enter it. Returns 0, or -errno (-ENOENT, -ENOEXEC, -ENOMEM, ...). */
int exec_load(const char *path, char *const argv[], char *const envp[], struct regs *frame);
/* The absolute path of the running executable (for /proc/self/exe). */
const char *exec_path(void);
