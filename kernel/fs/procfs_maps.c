/* /proc/self/maps (see fs/procfs_maps.h): one line per area, exactly as Linux prints it:
 * "start-end perms offset major:minor inode", padded to column 73 before a path or a [name]. */
#include "fs/procfs_maps.h"
#include "lib/printf.h"
#include "lib/string.h"

#define PAGE 4096ul
/* Linux pads the fixed fields to 25 + 6 * sizeof(void *) - 1 chars, then adds a space. */
#define PAD_TO 72

/* Appends to buf at *len (always counting, writing only within size). */
static void put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++, (*len)++)
        if (*len + 1 < size)
            buf[*len] = s[k];
}

static int same_name(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

int procfs_format_maps(char *buf, size_t size, const struct vma *list,
                       void (*describe)(const struct vma *v, struct maps_file *out))
{
    size_t len = 0;
    for (const struct vma *v = list; v;) {
        struct maps_file mf = {0, 0, 0, 0};
        if (v->inode)
            describe(v, &mf);
        uint64_t end = v->end;
        const struct vma *w = v->next;
        /* Merge the following areas Linux would have kept as one. */
        while (w && w->start == end && w->flags == v->flags && same_name(w->name, v->name) &&
               !!w->inode == !!v->inode) {
            if (v->inode) {
                struct maps_file wf = {0, 0, 0, 0};
                describe(w, &wf);
                if (wf.dev != mf.dev || wf.ino != mf.ino ||
                    w->pgoff != v->pgoff + (end - v->start) / PAGE)
                    break;
            }
            end = w->end;
            w = w->next;
        }
        char line[128];
        uint32_t major = (uint32_t)((mf.dev >> 8) & 0xfff);
        uint32_t minor = (uint32_t)((mf.dev & 0xff) | ((mf.dev >> 12) & 0xfff00));
        int n = snprintf(line, sizeof line, "%08lx-%08lx %c%c%c%c %08lx %02x:%02x %lu ", v->start,
                         end, (v->flags & VM_READ) ? 'r' : '-', (v->flags & VM_WRITE) ? 'w' : '-',
                         (v->flags & VM_EXEC) ? 'x' : '-', (v->flags & VM_SHARED) ? 's' : 'p',
                         v->inode ? v->pgoff * PAGE : 0, major, minor, mf.ino);
        put(buf, size, &len, line, (size_t)n);
        const char *name = v->inode ? mf.path : v->name;
        if (name) {
            for (int k = n; k < PAD_TO; k++)
                put(buf, size, &len, " ", 1);
            put(buf, size, &len, " ", 1);
            put(buf, size, &len, name, strlen(name));
            if (v->inode && mf.deleted)
                put(buf, size, &len, " (deleted)", 10);
        }
        put(buf, size, &len, "\n", 1);
        v = w;
    }
    if (size)
        buf[len < size ? len : size - 1] = 0;
    return (int)len;
}
