/* Starting the program: mapping an ELF executable (and its interpreter) into the address space and
 * building the Linux initial stack. */
#pragma once
#include <stdint.h>

struct regs;

/* Loads `path` with argv/envp (NULL-terminated arrays of kernel strings) into a fresh address
 * space and fills *frame to enter it. Returns 0, or -errno (-ENOENT, -ENOEXEC, -ENOMEM, ...). */
int exec_load(const char *path, char *const argv[], char *const envp[], struct regs *frame);
/* The executable's path as exec was given it (AT_EXECFN; its last part is the thread name). */
const char *exec_path(void);
/* The program file's absolute path with symlinks resolved (/proc/self/exe), as Linux keeps it. */
const char *exec_real_path(void);
