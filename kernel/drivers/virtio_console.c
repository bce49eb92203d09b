/* The virtio-console driver (see drivers/virtio_console.h): one port (no MULTIPORT), its transmit
 * queue fed from a pool of 4 KiB buffers that come back when the device has written them out.
 * Small writes are gathered into the current buffer, which goes to the device when it is full or
 * a millisecond after the first byte went into it (a kernel timer), so a program printing line by
 * line costs one notification per 4 KiB, not per line. A writer takes back used buffers by
 * polling the ring; one that finds none (the host is not reading: QEMU throttles the port while
 * its pipe is full) sleeps until the queue's interrupt says the device used one, so the other
 * threads, the kernel's timers and the control channel go on meanwhile, and a signal ends the
 * wait (as a write to a full pipe on Linux). The interrupt is asked for only while someone
 * sleeps. Without an interrupt (none could be set up) the writer polls. Each console has its own
 * lock. */
#include "drivers/virtio_console.h"
#include "arch/x86_64/paging.h"
#include "core/clock.h"
#include "core/timer.h"
#include "drivers/virtio_pci.h"
#include "errno.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "sched/wait.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

/* MULTIPORT: port 0 is QEMU's virtconsole slot, which drops bytes the host side cannot take at
 * once (QEMU's flush_buf for consoles); the stream is port 1, a virtserialport, which QEMU
 * throttles instead. Queues: control receive 2, control transmit 3, port 1 transmit 5. */
#define F_MULTIPORT (1ull << 1)
#define STREAM_PORT 1
#define CTRL_RX 2
#define CTRL_TX 3
#define STREAM_TX (2 * STREAM_PORT + 3)
#define DEVICE_READY 0
#define PORT_ADD 1
#define PORT_READY 3
#define PORT_OPEN 6
#define NCTRL 8
#define NBUF 32
#define BUF_SIZE 4096

struct ctrl_msg {
    uint32_t id;
    uint16_t event, value;
};

#define GATHER_NS 1000000 /* how long a partial buffer may wait */

struct vcon {
    struct ktimer timer;  /* first: the timer's callback finds the console from it */
    struct spinlock lock; /* guards the queue, the buffers and cur */
    struct virtio_dev vdev;
    struct virtq txq, ctrl_rx, ctrl_tx;
    struct ctrl_msg *ctrl_in;  /* NCTRL receive buffers */
    struct ctrl_msg *ctrl_out; /* one message being sent */
    char *free[NBUF];
    int nfree;
    int in_flight;
    char *cur;       /* the buffer being filled, or 0 */
    size_t cur_len;
    int irq;         /* the transmit queue has an interrupt (set at probe) */
    int sleepers;    /* writers waiting for a buffer: the interrupt is on while there are any */
    int polled;      /* a poll found no buffer: the interrupt is on until one comes back */
    struct waitq wq; /* where they wait, and pollers (epoll, poll): woken by the interrupt */
};

static struct vcon *consoles[2]; /* stdout, stderr: set once at boot */

static void reclaim(struct vcon *c)
{
    char *b;
    while ((b = virtq_get(&c->txq, 0))) {
        c->free[c->nfree++] = b;
        c->in_flight--;
    }
}

/* Hands the current buffer to the device (lock held). */
static void submit(struct vcon *c)
{
    if (!c->cur || !c->cur_len)
        return;
    struct virtq_sg sg = {c->cur, (uint32_t)c->cur_len};
    if (virtq_add(&c->txq, &sg, 1, 0, c->cur)) {
        c->free[c->nfree++] = c->cur; /* cannot happen: one descriptor per buffer */
    } else {
        c->in_flight++;
        virtq_kick(&c->txq);
    }
    c->cur = 0;
    c->cur_len = 0;
}

static void gather_timeout(struct ktimer *t)
{
    struct vcon *c = (struct vcon *)t;
    uint64_t fl = spin_lock_irqsave(&c->lock);
    submit(c);
    spin_unlock_irqrestore(&c->lock, fl);
}

/* The transmit queue's interrupt: buffers came back; wakes the writers waiting for one and the
 * pollers. */
static void vcon_irq(void *arg)
{
    struct vcon *c = arg;
    uint64_t fl = spin_lock_irqsave(&c->lock);
    reclaim(c);
    if (c->polled && c->nfree) {
        c->polled = 0;
        if (!c->sleepers)
            virtq_disable_irq(&c->txq);
    }
    spin_unlock_irqrestore(&c->lock, fl);
    waitq_wake_all(&c->wq);
}

/* Makes sure a free buffer is there (lock held, *fl its flags); 0, -EAGAIN if there is none and
 * the writer does not wait, or -EINTR if a signal came first (the lock is held again either way). */
static int wait_buffer(struct vcon *c, uint64_t *fl, int nonblock)
{
    reclaim(c);
    while (!c->nfree) {
        if (nonblock)
            return -EAGAIN;
        if (!c->irq) {
            __asm__ volatile("pause");
            reclaim(c);
            continue;
        }
        c->sleepers++;
        int rc = 0;
        if (!virtq_enable_irq(&c->txq)) { /* none came back meanwhile: sleep */
            rc = waitq_wait_unlock(&c->wq, &c->lock, *fl, WAIT_FOREVER);
            *fl = spin_lock_irqsave(&c->lock);
        }
        if (--c->sleepers == 0 && !c->polled)
            virtq_disable_irq(&c->txq);
        reclaim(c);
        if (rc == -EINTR && !c->nfree)
            return -EINTR;
    }
    return 0;
}

long virtio_console_write(int which, const char *buf, size_t len, int nonblock)
{
    struct vcon *c = which == 0 || which == 1 ? consoles[which] : 0;
    if (!c)
        return -ENODEV;
    size_t done = 0;
    uint64_t fl = spin_lock_irqsave(&c->lock);
    while (done < len) {
        if (!c->cur) {
            int rc = wait_buffer(c, &fl, nonblock);
            if (rc) {
                spin_unlock_irqrestore(&c->lock, fl);
                return done ? (long)done : rc;
            }
            c->cur = c->free[--c->nfree];
            c->cur_len = 0;
            ktimer_arm(&c->timer, clock_monotonic_ns() + GATHER_NS);
        }
        size_t n = BUF_SIZE - c->cur_len;
        if (n > len - done)
            n = len - done;
        memcpy(c->cur + c->cur_len, buf + done, n);
        c->cur_len += n;
        done += n;
        if (c->cur_len == BUF_SIZE)
            submit(c);
    }
    spin_unlock_irqrestore(&c->lock, fl);
    return (long)done;
}

int virtio_console_poll(int which, struct waitq **wq)
{
    struct vcon *c = which == 0 || which == 1 ? consoles[which] : 0;
    if (!c)
        return -ENODEV;
    uint64_t fl = spin_lock_irqsave(&c->lock);
    reclaim(c);
    int writable = c->cur || c->nfree;
    if (!writable && c->irq && !c->polled) {
        if (virtq_enable_irq(&c->txq)) { /* some came back meanwhile */
            if (!c->sleepers)
                virtq_disable_irq(&c->txq);
            reclaim(c);
            writable = c->nfree != 0;
        } else {
            c->polled = 1;
        }
    }
    spin_unlock_irqrestore(&c->lock, fl);
    /* Without an interrupt nothing would wake a poller: writable, as before (a write then polls). */
    *wq = c->irq ? &c->wq : 0;
    return writable || !c->irq;
}

void virtio_console_flush(void)
{
    for (int i = 0; i < 2; i++) {
        struct vcon *c = consoles[i];
        if (!c)
            continue;
        uint64_t fl = spin_lock_irqsave(&c->lock);
        submit(c);
        for (long spins = 0; c->in_flight && spins < 200000000; spins++) {
            __asm__ volatile("pause");
            reclaim(c);
        }
        spin_unlock_irqrestore(&c->lock, fl);
    }
}

/* Sends one control message and waits (polling) until the device took it; 0 or -EIO. */
static int ctrl_send(struct vcon *c, uint32_t id, uint16_t event, uint16_t value)
{
    *c->ctrl_out = (struct ctrl_msg){id, event, value};
    struct virtq_sg sg = {c->ctrl_out, sizeof *c->ctrl_out};
    if (virtq_add(&c->ctrl_tx, &sg, 1, 0, c->ctrl_out))
        return -EIO;
    virtq_kick(&c->ctrl_tx);
    for (long spins = 0; spins < 100000000; spins++) {
        if (virtq_get(&c->ctrl_tx, 0))
            return 0;
        __asm__ volatile("pause");
    }
    return -EIO;
}

/* The MULTIPORT handshake (virtio 1.x 5.3.6.2): device ready, then the stream port announced by
 * the device is made ready and opened from our side. Polls the control queue; -ENODEV if the
 * device never announces the port. */
static int open_stream_port(struct vcon *c)
{
    for (int i = 0; i < NCTRL; i++) {
        struct virtq_sg sg = {&c->ctrl_in[i], sizeof c->ctrl_in[i]};
        virtq_add(&c->ctrl_rx, &sg, 0, 1, &c->ctrl_in[i]);
    }
    virtq_kick(&c->ctrl_rx);
    if (ctrl_send(c, 0, DEVICE_READY, 1))
        return -EIO;
    for (long spins = 0; spins < 400000000; spins++) {
        uint32_t len;
        struct ctrl_msg *m = virtq_get(&c->ctrl_rx, &len);
        if (!m) {
            __asm__ volatile("pause");
            continue;
        }
        struct ctrl_msg msg = *m;
        struct virtq_sg sg = {m, sizeof *m};
        virtq_add(&c->ctrl_rx, &sg, 0, 1, m);
        virtq_kick(&c->ctrl_rx);
        if (len < sizeof msg || msg.event != PORT_ADD)
            continue;
        if (ctrl_send(c, msg.id, PORT_READY, msg.id == STREAM_PORT))
            return -EIO;
        if (msg.id == STREAM_PORT)
            return ctrl_send(c, STREAM_PORT, PORT_OPEN, 1);
    }
    return -ENODEV;
}

int virtio_console_probe(struct pci_dev *d, unsigned type)
{
    (void)type;
    int which = consoles[0] ? 1 : 0;
    if (consoles[1])
        return -EBUSY;
    struct vcon *c = kzalloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->lock = (struct spinlock)SPINLOCK_INIT(which ? "console-stderr" : "console-stdout");
    ktimer_init(&c->timer, gather_timeout);
    waitq_init(&c->wq, which ? "console-stderr" : "console-stdout");
    c->ctrl_in = kzalloc(NCTRL * sizeof *c->ctrl_in);
    c->ctrl_out = kzalloc(sizeof *c->ctrl_out);
    int rc = c->ctrl_in && c->ctrl_out ? virtio_pci_init(&c->vdev, d, VIRTIO_ID_CONSOLE) : -ENOMEM;
    if (!rc)
        rc = virtio_negotiate(&c->vdev, F_MULTIPORT | VIRTIO_F_RING_EVENT_IDX);
    if (!rc && !(c->vdev.features & F_MULTIPORT))
        rc = -ENODEV;
    if (!rc)
        rc = virtio_queue_setup(&c->vdev, &c->ctrl_rx, CTRL_RX, NCTRL, VIRTIO_POLLED);
    if (!rc)
        rc = virtio_queue_setup(&c->vdev, &c->ctrl_tx, CTRL_TX, 4, VIRTIO_POLLED);
    /* The transmit queue's interrupt, for writers waiting for a buffer; polled without one. */
    if (!rc)
        c->irq = virtio_irq_setup(&c->vdev, 1, vcon_irq, c) == 0;
    if (!rc)
        rc = virtio_queue_setup(&c->vdev, &c->txq, STREAM_TX, NBUF, c->irq ? 0 : VIRTIO_POLLED);
    if (!rc) {
        for (int i = 0; i < NBUF; i++) {
            uint64_t page = palloc_alloc(0);
            if (!page) {
                rc = -ENOMEM;
                break;
            }
            c->free[c->nfree++] = phys_to_virt(page);
        }
    }
    if (!rc) {
        virtq_disable_irq(&c->txq); /* reclaimed by polling, until a writer sleeps */
        virtio_ready(&c->vdev);
        rc = open_stream_port(c);
    }
    if (rc) {
        virtio_fail(&c->vdev);
        return rc; /* the stream stays on its UART; memory taken so far is not worth returning */
    }
    consoles[which] = c;
    return 0;
}
