/* The static hello that `make demo` and `make bench` run under `lwjvm exec`. */
#include <stdio.h>

int main(void)
{
    printf("Hello from lwjvm!\n");
    return 0;
}
