/* The export region (docs/protocol.md section 7): a second, writable ivshmem device through which
 * a boot hands one file back to the host when the program exits. The guest has no disk; this is how
 * lwjvm build runs the class-data training run and dump inside the VM and gets their class list and
 * archive back. The host names the file in the region's header; the kernel copies the file after it
 * and writes its length and a status, the status last. The region holds the guest's output only:
 * the host treats it as untrusted bytes. */
#include "core/export.h"
#include "arch/x86_64/paging.h"
#include "drivers/pci.h"
#include "fs/vfs.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux_abi.h"

#define PCI_VENDOR_REDHAT 0x1af4
#define PCI_DEVICE_IVSHMEM 0x1110
#define PCI_COMMAND 0x04
#define CMD_MEMORY 0x2

#define EXPORT_MAGIC 0x3158455f4d564a4cull /* "LJVM_EX1" */
#define EXPORT_DATA 4096

enum { EXPORT_NONE, EXPORT_OK, EXPORT_NOT_FOUND, EXPORT_TOO_LARGE, EXPORT_READ_ERROR };

struct export_header {
    uint64_t magic;   /* host: EXPORT_MAGIC */
    char path[240];   /* host: the guest file to export, NUL-terminated */
    uint32_t status;  /* kernel, written last: EXPORT_* */
    uint32_t reserved;
    uint64_t length;  /* kernel: bytes of the file at EXPORT_DATA */
};
_Static_assert(sizeof(struct export_header) == 264, "export header layout");

/* The region's mapping, or 0: an ivshmem device whose memory is not decoded yet (the root image's
 * is, find_root_image mapped it first) and whose header carries the magic. */
static struct export_header *find_region(uint64_t *size)
{
    for (uint8_t slot = 0; slot < 32; slot++) {
        struct pci_dev d = {.bus = 0, .dev = slot, .fn = 0};
        uint32_t id = pci_read32(&d, 0);
        if ((id & 0xffff) != PCI_VENDOR_REDHAT || (id >> 16) != PCI_DEVICE_IVSHMEM)
            continue;
        if (pci_read16(&d, PCI_COMMAND) & CMD_MEMORY)
            continue;
        d.vendor = PCI_VENDOR_REDHAT, d.device = PCI_DEVICE_IVSHMEM;
        uint64_t bar = pci_map_bar64(&d, 2, size);
        if (!bar || *size <= EXPORT_DATA)
            continue;
        struct export_header *h = kmap_ram(bar, *size);
        if (h && h->magic == EXPORT_MAGIC)
            return h;
    }
    return 0;
}

void export_at_exit(void)
{
    static int done;
    if (done++)
        return;
    uint64_t size;
    struct export_header *h = find_region(&size);
    if (!h)
        return;
    char path[sizeof h->path];
    memcpy(path, h->path, sizeof path);
    path[sizeof path - 1] = 0;
    h->length = 0;
    struct inode *ino;
    uint32_t status = EXPORT_OK;
    if (vfs_lookup(0, path, 1, &ino)) {
        status = EXPORT_NOT_FOUND;
    } else {
        if ((ino->mode & S_IFMT) != S_IFREG) {
            status = EXPORT_NOT_FOUND;
        } else if (ino->size > size - EXPORT_DATA) {
            status = EXPORT_TOO_LARGE;
        } else {
            int64_t n = inode_read(ino, 0, (uint8_t *)h + EXPORT_DATA, ino->size);
            if (n < 0 || (uint64_t)n != ino->size)
                status = EXPORT_READ_ERROR;
            else
                h->length = (uint64_t)n;
        }
        inode_put(ino);
    }
    __asm__ volatile("mfence" ::: "memory"); /* the data and length before the status */
    h->status = status;
    kprintf("lwjvm: exported %s: %s (%lu bytes)\n", path,
            status == EXPORT_OK ? "ok" : status == EXPORT_TOO_LARGE ? "too large for the region"
                                                                    : "not a readable file",
            h->length);
}
