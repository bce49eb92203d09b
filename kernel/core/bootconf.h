/* Parsing /etc/lwjvm/boot.conf (docs/protocol.md, section 2). Host-testable. */
#pragma once
#include <stddef.h>

struct bootconf {
    char *exec;
    char **argv; /* NULL-terminated */
    char **envp; /* NULL-terminated */
    char *cwd;
    int argc, envc;
    /* Network (0 when absent: no address configured): net.ipv4=A.B.C.D/LEN, net.gateway=A.B.C.D,
     * net.dns=A.B.C.D, net.hostname=NAME. Parsed by net/netconf.c. */
    char *net_ipv4, *net_gateway, *net_dns, *net_hostname;
};

/* Parses `text` (len bytes and a NUL at text[len], which the last value's terminator may take;
 * modified in place: values are unescaped and NUL-terminated) into *out,
 * allocating the argv/envp arrays with `alloc`. Returns 0, or -1 with a message in err. */
int bootconf_parse(char *text, size_t len, struct bootconf *out, void *(*alloc)(size_t), char *err,
                   size_t errlen);
