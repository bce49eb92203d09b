/* The boot configuration parser (see core/bootconf.h and docs/protocol.md, section 2). */
#include "core/bootconf.h"
#include "lib/printf.h"
#include "lib/string.h"

#define HEADER "lwjvm-boot 1"

/* Unescapes value [v, end) in place (\\n and \\\\); returns its new end, or 0 on a bad escape. */
static char *unescape(char *v, char *end)
{
    char *w = v;
    for (char *r = v; r < end; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        if (++r == end)
            return 0;
        if (*r == 'n')
            *w++ = '\n';
        else if (*r == '\\')
            *w++ = '\\';
        else
            return 0;
    }
    return w;
}

int bootconf_parse(char *text, size_t len, struct bootconf *out, void *(*alloc)(size_t), char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    int nargs = 0, nenv = 0;
    for (size_t i = 0; i + 4 <= len; i++) {
        if ((i == 0 || text[i - 1] == '\n') && !strncmp(text + i, "arg=", 4))
            nargs++;
        if ((i == 0 || text[i - 1] == '\n') && i + 4 <= len && !strncmp(text + i, "env=", 4))
            nenv++;
    }
    out->argv = alloc(sizeof(char *) * (size_t)(nargs + 1));
    out->envp = alloc(sizeof(char *) * (size_t)(nenv + 1));
    if (!out->argv || !out->envp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *p = text, *limit = text + len;
    int lineno = 0;
    while (p < limit) {
        char *eol = p;
        while (eol < limit && *eol != '\n')
            eol++;
        lineno++;
        char *line = p;
        p = eol + 1;
        if (lineno == 1) {
            if ((size_t)(eol - line) != strlen(HEADER) || strncmp(line, HEADER, strlen(HEADER))) {
                snprintf(err, errlen, "line 1: expected \"%s\"", HEADER);
                return -1;
            }
            continue;
        }
        if (eol == line || line[0] == '#')
            continue;
        char *eq = line;
        while (eq < eol && *eq != '=')
            eq++;
        if (eq == eol) {
            snprintf(err, errlen, "line %d: expected key=value", lineno);
            return -1;
        }
        char *vend = unescape(eq + 1, eol);
        if (!vend) {
            snprintf(err, errlen, "line %d: bad escape (only \\n and \\\\ exist)", lineno);
            return -1;
        }
        *vend = 0;
        size_t klen = (size_t)(eq - line);
        char *val = eq + 1;
        if (klen == 4 && !strncmp(line, "exec", 4)) {
            out->exec = val;
        } else if (klen == 3 && !strncmp(line, "arg", 3)) {
            out->argv[out->argc++] = val;
        } else if (klen == 3 && !strncmp(line, "env", 3)) {
            if (!strchr(val, '=')) {
                snprintf(err, errlen, "line %d: env needs NAME=VALUE", lineno);
                return -1;
            }
            out->envp[out->envc++] = val;
        } else if (klen == 3 && !strncmp(line, "cwd", 3)) {
            out->cwd = val;
        } else if (klen == 8 && !strncmp(line, "net.ipv4", 8)) {
            out->net_ipv4 = val;
        } else if (klen == 11 && !strncmp(line, "net.gateway", 11)) {
            out->net_gateway = val;
        } else if (klen == 7 && !strncmp(line, "net.dns", 7)) {
            out->net_dns = val;
        } else if (klen == 12 && !strncmp(line, "net.hostname", 12)) {
            out->net_hostname = val;
        } else {
            snprintf(err, errlen, "line %d: unknown key \"%.*s\"", lineno, (int)klen, line);
            return -1;
        }
    }
    if (lineno == 0) {
        snprintf(err, errlen, "empty file");
        return -1;
    }
    out->argv[out->argc] = 0;
    out->envp[out->envc] = 0;
    if (!out->exec || !out->exec[0]) {
        snprintf(err, errlen, "exec= must name a file");
        return -1;
    }
    if (out->argc == 0) {
        snprintf(err, errlen, "at least one arg= is required");
        return -1;
    }
    if (!out->cwd)
        out->cwd = "/";
    return 0;
}
