/* /proc/self/maps as the JVM reads it: the test makes mappings with known protections and checks
 * how they appear (exact bounds, perms, offset and path of a file mapping, split by mprotect, gone
 * after munmap), plus the program, libc, [stack], [heap] and [vdso] lines. Prints only facts. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"

#define PG 4096UL
#define MAX_LINES 512

struct region {
    uintptr_t start, end;
    char perms[5];
    unsigned long long offset;
    char path[256];
};

static struct region maps[MAX_LINES];
static int nmaps;

/* Reads and parses /proc/self/maps; returns the number of lines that did not parse. */
static int load_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    char line[512];
    int bad = 0;
    nmaps = 0;
    while (fgets(line, sizeof line, f) && nmaps < MAX_LINES) {
        struct region *r = &maps[nmaps];
        unsigned long long start, end, inode;
        unsigned dev_major, dev_minor;
        int path_at = 0;
        r->path[0] = 0;
        if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, r->perms, &r->offset,
                   &dev_major, &dev_minor, &inode, &path_at) < 7) {
            bad++;
            continue;
        }
        r->start = start;
        r->end = end;
        if (path_at > 0) {
            snprintf(r->path, sizeof r->path, "%s", line + path_at);
            r->path[strcspn(r->path, "\n")] = 0;
        }
        nmaps++;
    }
    fclose(f);
    return bad;
}

static const struct region *find(const void *p)
{
    for (int i = 0; i < nmaps; i++)
        if ((uintptr_t)p >= maps[i].start && (uintptr_t)p < maps[i].end)
            return &maps[i];
    return NULL;
}

static int exact(const void *p, size_t len, const char *perms)
{
    const struct region *r = find(p);
    return r && r->start == (uintptr_t)p && r->end == (uintptr_t)p + len &&
           strcmp(r->perms, perms) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void *thread_local_addr(void *arg)
{
    (void)arg;
    int local = 0;
    load_maps();
    const struct region *r = find(&local);
    return (void *)(intptr_t)(r && strcmp(r->perms, "rw-p") == 0 && r->path[0] == 0);
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    /* Three pages of PROT_NONE around one rw page and one r-- page so that nothing merges. */
    char *g = mmap(NULL, 5 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(g != MAP_FAILED);
    mprotect(g + PG, PG, PROT_READ | PROT_WRITE);
    mprotect(g + 3 * PG, PG, PROT_READ);
    g[PG] = 1;
    int fd = open(argv[1], O_RDONLY);
    REQUIRE(fd >= 0);
    char *fm = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
    REQUIRE(fm != MAP_FAILED);
    char *heap = malloc(64);
    int local = 0;

    CHECK_EQ("every line parses", load_maps(), 0);
    CHECK("there are lines", nmaps > 5);
    int sorted = 1;
    for (int i = 1; i < nmaps; i++)
        sorted &= maps[i].start >= maps[i - 1].end;
    CHECK("lines are sorted and do not overlap", sorted);
    CHECK("the rw page appears exactly, as rw-p", exact(g + PG, PG, "rw-p"));
    CHECK("the r-- page appears exactly, as r--p", exact(g + 3 * PG, PG, "r--p"));
    CHECK("the PROT_NONE pages appear as ---p",
          exact(g, PG, "---p") && exact(g + 2 * PG, PG, "---p") && exact(g + 4 * PG, PG, "---p"));
    const struct region *r = find(g + PG);
    CHECK("an anonymous mapping has no path and offset 0", r && r->path[0] == 0 && r->offset == 0);
    r = find(fm);
    CHECK("the file mapping appears as r--p", r && exact(fm, 2 * PG, "r--p"));
    CHECK("the file mapping has offset 0x1000", r && r->offset == PG);
    CHECK("the file mapping names the file", r && r->path[0] == '/' &&
                                                 ends_with(r->path, strrchr(argv[1], '/')));

    int exec_text = 0, libc_text = 0, stack = 0, heap_ok = 0, vdso = 0;
    for (int i = 0; i < nmaps; i++) {
        exec_text |= ends_with(maps[i].path, "/" PROG_NAME) && strcmp(maps[i].perms, "r-xp") == 0;
        libc_text |= strstr(maps[i].path, "/libc.so.6") && strcmp(maps[i].perms, "r-xp") == 0;
        vdso |= strcmp(maps[i].path, "[vdso]") == 0 && strcmp(maps[i].perms, "r-xp") == 0;
    }
    r = find(&local);
    stack = r && strcmp(r->path, "[stack]") == 0 && strcmp(r->perms, "rw-p") == 0;
    r = find(heap);
    heap_ok = r && strcmp(r->path, "[heap]") == 0 && strcmp(r->perms, "rw-p") == 0;
    CHECK("the program's code is r-xp with its path", exec_text);
    CHECK("libc.so.6's code is r-xp", libc_text);
    CHECK("a local variable is in [stack], rw-p", stack);
    CHECK("a small malloc is in [heap], rw-p", heap_ok);
    CHECK("[vdso] is r-xp", vdso);

    /* mprotect splits a mapping into three lines; munmap removes it. */
    char *s = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(s != MAP_FAILED);
    mprotect(s + PG, PG, PROT_READ);
    load_maps();
    const struct region *lo = find(s), *hi = find(s + 2 * PG);
    CHECK("mprotect of the middle page splits it", exact(s + PG, PG, "r--p") && lo && hi &&
                                                       lo->end == (uintptr_t)s + PG &&
                                                       hi->start == (uintptr_t)s + 2 * PG);
    mprotect(s + PG, PG, PROT_READ | PROT_WRITE);
    load_maps();
    r = find(s);
    CHECK("restoring the protection merges it again", r && r->start <= (uintptr_t)s &&
                                                          r->end >= (uintptr_t)s + 3 * PG);
    munmap(s, 3 * PG);
    munmap(g + PG, PG);
    load_maps();
    CHECK("unmapped ranges are gone", find(s) == NULL && find(s + 2 * PG) == NULL &&
                                          find(g + PG) == NULL);

    /* A thread's stack is an anonymous rw-p mapping. */
    pthread_t t;
    void *ret;
    start_thread(&t, NULL, thread_local_addr, NULL);
    pthread_join(t, &ret);
    CHECK("a thread's local variable is in an anonymous rw-p mapping", ret != NULL);
    return check_done();
}
