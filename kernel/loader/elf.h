/* ELF64 header and program-header checks for x86_64 programs. Host-testable: works on bytes only. */
#pragma once
#include <stdint.h>

#define PT_LOAD 1
#define PT_INTERP 3
#define PT_PHDR 6
#define PT_GNU_STACK 0x6474e551
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define ET_EXEC 2
#define ET_DYN 3

struct elf64_ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "Elf64_Ehdr");
_Static_assert(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");

#define ELF_MAX_PHNUM 64

/* Checks that the 64 bytes at `ehdr` start an ELF64 little-endian x86_64 executable (ET_EXEC or
 * ET_DYN) whose program headers lie inside a file of file_size bytes; returns 0 or -ENOEXEC. */
int elf_check_header(const struct elf64_ehdr *ehdr, uint64_t file_size);
/* Checks the program headers: PT_LOAD segments with filesz <= memsz, offset and address congruent
 * modulo the page size, inside the file and the user half once moved by `bias`; at most one
 * PT_INTERP. Returns 0 or -ENOEXEC; sets *lo and *hi to the page-aligned span of the PT_LOADs. */
int elf_check_phdrs(const struct elf64_phdr *ph, unsigned phnum, uint64_t file_size, uint64_t *lo,
                    uint64_t *hi);
