/* The smallest guest program: one line through stdio, exit status 0. */
#include <stdio.h>

int main(void)
{
    printf("Hello from lwjvm!\n");
    return 0;
}
