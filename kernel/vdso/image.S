/* The vDSO image (built from vdso/vdso.c by the Makefile) inside the kernel, page-aligned so its
 * pages can be mapped into the program as they are. VDSO_SO is the path of the stripped image. */
    .section .rodata.vdso, "a"
    .balign 4096
    .global vdso_image_start, vdso_image_end
vdso_image_start:
    .incbin VDSO_SO
vdso_image_end:
    .balign 4096
    .section .note.GNU-stack, "", @progbits
