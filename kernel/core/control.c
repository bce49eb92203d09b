/* Host control lines on COM3 (see core/control.h): `lwjvm:signal num=S` sends S to the program as
 * kill(pid, S) would; `lwjvm:volume ...` lines go to the volume (fs/volume.c); `lwjvm:freeze`
 * holds the VM still for a snapshot (core/snapshot.c); `lwjvm:threads` asks what each thread and CPU is doing
 * (core/threadreport.c). Unknown lines are ignored, so older kernels tolerate newer hosts. */
#include "core/control.h"
#include "core/snapshot.h"
#include "core/threadreport.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/serial.h"
#include "fs/volume.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "signal/signal.h"

static char line[128];
static unsigned len;

void control_init(void)
{
    if (ioapic_route(CONTROL_IRQ, VECTOR_CONTROL)) {
        kprintf("lwjvm: no I/O APIC: the host cannot signal the program\n");
        return;
    }
    serial_enable_rx_irq(SERIAL_KLOG);
}

static int parse_uint(const char *s, unsigned *out)
{
    unsigned v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000)
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = v;
    return 0;
}

static void act(const char *l)
{
    static const char sig_cmd[] = "lwjvm:signal num=";
    unsigned sig;
    if (!strcmp(l, "lwjvm:freeze")) {
        snapshot_freeze();
        return;
    }
    if (!strcmp(l, "lwjvm:threads")) {
        threadreport_send();
        return;
    }
    if (!strncmp(l, "lwjvm:volume ", 13)) {
        volume_control(l);
        return;
    }
    if (!strncmp(l, sig_cmd, sizeof sig_cmd - 1) && !parse_uint(l + sizeof sig_cmd - 1, &sig) &&
        sig >= 1 && sig <= NSIG) {
        struct linux_siginfo info;
        memset(&info, 0, sizeof info);
        info.si_signo = (int)sig;
        info.si_code = SI_USER; /* as if sent by kill(2) from outside */
        signal_send_process((int)sig, &info);
    }
}

void control_irq(void)
{
    char c;
    while (serial_read_byte(SERIAL_KLOG, &c)) {
        if (c == '\n') {
            line[len] = 0;
            act(line);
            len = 0;
        } else if (len + 1 < sizeof line) {
            line[len++] = c;
        }
    }
}
