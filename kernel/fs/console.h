/* The program's standard streams on the serial consoles. */
#pragma once
#include "fs/vfs.h"

/* Open files on the consoles: writes go to COM1 (stdout) or COM2 (stderr), reads see EOF. */
extern const struct file_ops console_out_ops, console_err_ops;

/* Opens descriptors 0, 1 and 2 on /dev/ttyS0, /dev/ttyS0 and /dev/ttyS1. */
int console_install_std_fds(void);
