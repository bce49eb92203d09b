/* The <stdio.h> lwIP includes: snprintf from the kernel's printf (lib/printf.h). */
#pragma once
#include "lib/printf.h"
