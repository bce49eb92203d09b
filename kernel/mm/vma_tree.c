/* The index of the program's areas (see mm/vma_tree.h).
 *
 * An AVL tree keyed by each area's start, threaded into the sorted list of mm->vmas (prev/next),
 * each node augmented with the largest free gap below any area of its subtree (Linux's
 * rb_subtree_gap). Why this and not the others:
 * - the list alone made every lookup a walk: with 65,530 areas (vm.max_map_count) a program's
 *   mprotect and munmap calls and faults walked tens of thousands of entries each (58 s in all
 *   for one program under TCG), and mmap's top-down search for a free gap walked every area
 *   below the mmap base for each new mapping;
 * - a sorted array with binary search finds in O(log n) but inserts and removes in O(n) (moving
 *   half of a 512 KiB array of pointers per mmap or split), and its one large block would have to
 *   grow by reallocation under the mm lock;
 * - a red-black tree does the same as AVL with fewer rotations on change, but AVL keeps the tree
 *   lower (lookups are most calls: every fault) and its rebalancing is a few lines that recompute
 *   heights and gaps on the way back up, the same place the augmentation is refreshed.
 * Lookups, inserts and removals are O(log n); finding the highest gap of a size is O(log n) too
 * (subtrees whose largest gap is too small are skipped). The recursion is at most the tree's
 * height, under 1.45 log2(n + 2): 24 frames at 65,530 areas. Nodes live in struct vma itself
 * (no allocation here), so linking and unlinking cannot fail. Everything runs under mm->lock,
 * as the rest of mm/vma.c. */
#include "mm/vma_tree.h"

static int height(const struct vma *n) { return n ? n->height : 0; }

/* Free bytes between the area before n (or address 0) and n. */
static uint64_t gap_below(const struct vma *n)
{
    uint64_t below = n->prev ? n->prev->end : 0;
    return n->start > below ? n->start - below : 0;
}

/* Recomputes n's height and largest gap from its children (which are up to date). */
static void update(struct vma *n)
{
    int hl = height(n->left), hr = height(n->right);
    n->height = 1 + (hl > hr ? hl : hr);
    uint64_t g = gap_below(n);
    if (n->left && n->left->max_gap > g)
        g = n->left->max_gap;
    if (n->right && n->right->max_gap > g)
        g = n->right->max_gap;
    n->max_gap = g;
}

static struct vma *rotate_right(struct vma *n)
{
    struct vma *l = n->left;
    n->left = l->right;
    l->right = n;
    update(n);
    update(l);
    return l;
}

static struct vma *rotate_left(struct vma *n)
{
    struct vma *r = n->right;
    n->right = r->left;
    r->left = n;
    update(n);
    update(r);
    return r;
}

/* Updates n and restores the AVL balance at n (its subtrees differ in height by at most 2);
 * returns the subtree's new root. */
static struct vma *balance(struct vma *n)
{
    update(n);
    int b = height(n->left) - height(n->right);
    if (b > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (b < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

/* v's list links are set before the tree changes: the successor whose gap v changed is always
 * an ancestor of the new leaf, so it is updated on the way back up. */
static struct vma *insert(struct vma *n, struct vma *v)
{
    if (!n) {
        v->left = v->right = 0;
        update(v);
        return v;
    }
    if (v->start < n->start)
        n->left = insert(n->left, v);
    else
        n->right = insert(n->right, v);
    return balance(n);
}

static struct vma *remove_min(struct vma *n, struct vma **min)
{
    if (!n->left) {
        *min = n;
        return n->right;
    }
    n->left = remove_min(n->left, min);
    return balance(n);
}

/* Removes v (already out of the list) from the subtree n. v's successor, whose gap grew, is an
 * ancestor of v, its only child, or the minimum of its right subtree that takes its place: each
 * is updated here. */
static struct vma *remove(struct vma *n, struct vma *v)
{
    if (!n)
        return 0;
    if (v->start < n->start) {
        n->left = remove(n->left, v);
    } else if (v->start > n->start) {
        n->right = remove(n->right, v);
    } else {
        if (!n->left || !n->right) {
            struct vma *c = n->left ? n->left : n->right;
            if (c)
                update(c);
            return c;
        }
        struct vma *m;
        struct vma *r = remove_min(n->right, &m);
        m->left = n->left;
        m->right = r;
        return balance(m);
    }
    return balance(n);
}

/* Recomputes the gaps on the path from n down to the area starting at key. */
static void refresh(struct vma *n, uint64_t key)
{
    if (!n)
        return;
    if (key < n->start)
        refresh(n->left, key);
    else if (key > n->start)
        refresh(n->right, key);
    update(n);
}

void vma_tree_link(struct mm *mm, struct vma *v, struct vma *prev)
{
    v->prev = prev;
    v->next = prev ? prev->next : mm->vmas;
    if (v->next)
        v->next->prev = v;
    if (prev)
        prev->next = v;
    else
        mm->vmas = v;
    mm->tree = insert(mm->tree, v);
}

void vma_tree_unlink(struct mm *mm, struct vma *v)
{
    if (v->prev)
        v->prev->next = v->next;
    else
        mm->vmas = v->next;
    if (v->next)
        v->next->prev = v->prev;
    mm->tree = remove(mm->tree, v);
    v->prev = v->next = v->left = v->right = 0;
}

void vma_tree_set_end(struct mm *mm, struct vma *v, uint64_t end)
{
    v->end = end;
    if (v->next)
        refresh(mm->tree, v->next->start);
}

struct vma *vma_tree_first_after(const struct mm *mm, uint64_t addr)
{
    /* Areas do not overlap: their ends are in the order of their starts. */
    struct vma *best = 0;
    for (struct vma *n = mm->tree; n;) {
        if (n->end > addr) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

struct vma *vma_tree_last(const struct mm *mm)
{
    struct vma *n = mm->tree;
    while (n && n->right)
        n = n->right;
    return n;
}

static struct vma *gap_search(struct vma *n, uint64_t at, uint64_t len)
{
    if (!n || n->max_gap < len)
        return 0;
    if (n->start > at)
        return gap_search(n->left, at, len);
    struct vma *r = gap_search(n->right, at, len);
    if (r)
        return r;
    if (gap_below(n) >= len)
        return n;
    return gap_search(n->left, at, len);
}

struct vma *vma_tree_gap_below(const struct mm *mm, uint64_t at, uint64_t len)
{
    return gap_search(mm->tree, at, len);
}

static const char *check(const struct vma *n, const struct vma **prev, int *h)
{
    if (!n) {
        *h = 0;
        return 0;
    }
    int hl, hr;
    const char *e = check(n->left, prev, &hl);
    if (e)
        return e;
    if (n->prev != *prev || (*prev && (*prev)->next != n))
        return "the tree's order is not the list's";
    if (*prev && (*prev)->end > n->start)
        return "areas overlap or are out of order";
    *prev = n;
    if ((e = check(n->right, prev, &hr)))
        return e;
    if (hl - hr > 1 || hr - hl > 1)
        return "a node is out of balance";
    *h = 1 + (hl > hr ? hl : hr);
    if (n->height != *h)
        return "a height is stale";
    uint64_t g = gap_below(n);
    if (n->left && n->left->max_gap > g)
        g = n->left->max_gap;
    if (n->right && n->right->max_gap > g)
        g = n->right->max_gap;
    if (n->max_gap != g)
        return "a subtree's largest gap is stale";
    return 0;
}

const char *vma_tree_check(const struct mm *mm)
{
    const struct vma *prev = 0;
    int h;
    const char *e = check(mm->tree, &prev, &h);
    if (e)
        return e;
    if (prev ? prev->next != 0 : mm->vmas != 0)
        return "the list goes on past the tree";
    const struct vma *first = mm->tree;
    while (first && first->left)
        first = first->left;
    if (mm->vmas != first)
        return "the list does not start at the tree's first area";
    return 0;
}
