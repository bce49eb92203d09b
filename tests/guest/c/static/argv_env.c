/* Echoes argc, every argument and every environment entry, in order, plus what the initial stack
 * says about them (argv[argc] is NULL, envp follows argv). argv[0] is printed as its basename,
 * since the directory differs between the host and the image. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv, char **envp)
{
    printf("argc=%d\n", argc);
    const char *slash = strrchr(argv[0], '/');
    printf("argv[0] basename=%s\n", slash ? slash + 1 : argv[0]);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=<%s> len=%zu\n", i, argv[i], strlen(argv[i]));
    printf("argv[argc]==NULL: %d\n", argv[argc] == NULL);
    printf("envp==argv+argc+1: %d\n", envp == argv + argc + 1);
    int n = 0;
    for (char **e = envp; *e; e++)
        printf("env[%d]=<%s>\n", n++, *e);
    printf("envc=%d\n", n);
    return 0;
}
