/* Host test of the areas' index (kernel/mm/vma_tree.c), built with ASan/UBSan by
 * tests/kernel/test_kernel_logic.py. Seeded random links, unlinks and moved ends against a model
 * (a plain array of the areas in address order): after each change the tree is checked whole
 * (order, balance, heights, every subtree's largest gap) and lookups of the first area ending
 * past an address and of the highest gap of a size below an address are compared with the model's
 * answers; then 65,530 areas (vm.max_map_count) are linked and unlinked in a shuffled order.
 * Usage: vma_tree_test SEED OPS */
#include "mm/vma_tree.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void panic(const char *fmt, ...)
{
    (void)fmt;
    abort();
}

#define PAGE 4096ull
#define SPACE 2048 /* pages of address space the random areas live in */
#define MAXN 70000

static struct mm mm;
static struct vma *model[MAXN]; /* the areas in address order */
static int n;
static uint64_t rng_state;

static uint64_t rnd(uint64_t below)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return below ? rng_state % below : 0;
}

static void fail(const char *what, long op)
{
    fprintf(stderr, "op %ld: %s\n", op, what);
    exit(1);
}

static int free_range(uint64_t s, uint64_t e)
{
    for (int i = 0; i < n; i++)
        if (model[i]->start < e && s < model[i]->end)
            return 0;
    return 1;
}

static void add(uint64_t s, uint64_t e)
{
    struct vma *v = calloc(1, sizeof *v);
    v->start = s;
    v->end = e;
    int at = 0;
    while (at < n && model[at]->start < s)
        at++;
    memmove(model + at + 1, model + at, (size_t)(n - at) * sizeof *model);
    model[at] = v;
    n++;
    vma_tree_link(&mm, v, at ? model[at - 1] : 0);
}

static void drop(int at)
{
    struct vma *v = model[at];
    vma_tree_unlink(&mm, v);
    memmove(model + at, model + at + 1, (size_t)(n - at - 1) * sizeof *model);
    n--;
    free(v);
}

static void check_all(long op)
{
    const char *e = vma_tree_check(&mm);
    if (e)
        fail(e, op);
    for (int q = 0; q < 4; q++) {
        uint64_t addr = rnd((SPACE + 8) * PAGE);
        struct vma *want = 0;
        for (int i = 0; i < n && !want; i++)
            if (model[i]->end > addr)
                want = model[i];
        if (vma_tree_first_after(&mm, addr) != want)
            fail("first_after differs from the model", op);
        uint64_t len = (1 + rnd(12)) * PAGE;
        want = 0;
        for (int i = n - 1; i >= 0 && !want; i--) {
            uint64_t below = i ? model[i - 1]->end : 0;
            if (model[i]->start <= addr && model[i]->start - below >= len)
                want = model[i];
        }
        if (vma_tree_gap_below(&mm, addr, len) != want)
            fail("gap_below differs from the model", op);
    }
    if (vma_tree_last(&mm) != (n ? model[n - 1] : 0))
        fail("last differs from the model", op);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vma_tree_test SEED OPS\n");
        return 2;
    }
    rng_state = strtoull(argv[1], 0, 0) * 0x9e3779b97f4a7c15ull | 1;
    long ops = atol(argv[2]);
    for (long op = 0; op < ops; op++) {
        unsigned kind = (unsigned)rnd(10);
        if (kind < 5 || n == 0) {
            uint64_t s = (1 + rnd(SPACE)) * PAGE, e = s + (1 + rnd(8)) * PAGE;
            if (free_range(s, e))
                add(s, e);
        } else if (kind < 8) {
            drop((int)rnd((uint64_t)n));
        } else {
            int at = (int)rnd((uint64_t)n);
            struct vma *v = model[at];
            uint64_t limit = at + 1 < n ? model[at + 1]->start : (SPACE + 16) * PAGE;
            uint64_t e = v->start + (1 + rnd((limit - v->start) / PAGE)) * PAGE;
            vma_tree_set_end(&mm, v, e); /* grows into the gap after it, or shrinks */
        }
        check_all(op);
    }
    while (n)
        drop((int)rnd((uint64_t)n));
    check_all(ops);
    /* vm.max_map_count areas, one page apart, linked in a shuffled order and unlinked again. */
    static uint64_t order[65530];
    for (int i = 0; i < 65530; i++)
        order[i] = (uint64_t)i;
    for (int i = 65529; i > 0; i--) {
        int j = (int)rnd((uint64_t)i + 1);
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    static struct vma big[65530];
    for (int i = 0; i < 65530; i++) {
        struct vma *v = &big[order[i]];
        v->start = (2 * order[i] + 1) * PAGE;
        v->end = v->start + PAGE;
        struct vma *after = vma_tree_first_after(&mm, v->start);
        vma_tree_link(&mm, v, after ? after->prev : vma_tree_last(&mm));
    }
    const char *e = vma_tree_check(&mm);
    if (e)
        fail(e, -1);
    if (mm.tree->height > 24)
        fail("65,530 areas make a tree higher than 24", -1);
    if (vma_tree_gap_below(&mm, ~0ull, 2 * PAGE) != 0 || vma_tree_gap_below(&mm, ~0ull, PAGE) != &big[65529])
        fail("the gaps of 65,530 areas are wrong", -1);
    for (int i = 0; i < 65530; i++)
        vma_tree_unlink(&mm, &big[order[i]]);
    if (mm.tree || mm.vmas)
        fail("areas left after unlinking all", -1);
    printf("ok\n");
    return 0;
}
