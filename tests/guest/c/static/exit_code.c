/* Exits with the status given as argv[1] (0-255), through exit() after flushing a line. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: exit_code CODE\n");
        return 2;
    }
    int code = atoi(argv[1]);
    printf("exiting with %d\n", code);
    exit(code);
}
