/* The program's standard streams on the serial consoles. */
#pragma once
#include "fs/vfs.h"

/* Opens descriptors 0, 1 and 2 on the consoles. */
int console_install_std_fds(void);
