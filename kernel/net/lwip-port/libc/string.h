/* The <string.h> lwIP includes: the kernel's own string functions (lib/string.h). */
#pragma once
#include "lib/string.h"
