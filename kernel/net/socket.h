/* Sockets: files in the descriptor table whose operations go to a protocol (net/tcp_sock.c,
 * net/udp_sock.c). This header is what the protocols and the system calls (linux/socket.c) share:
 * the socket object, program addresses in kernel form, and scatter-gather over program buffers. */
#pragma once
#include <stdint.h>

#include "fs/vfs.h"
#include "include/linux_abi.h"
#include "sched/wait.h"
#include "lwip/ip_addr.h"

#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK 04000
#define SOCK_CLOEXEC 02000000

#define MSG_OOB 1
#define MSG_PEEK 2
#define MSG_DONTROUTE 4
#define MSG_TRUNC 0x20
#define MSG_DONTWAIT 0x40
#define MSG_EOR 0x80
#define MSG_WAITALL 0x100
#define MSG_NOSIGNAL 0x4000
#define MSG_MORE 0x8000
#define MSG_CMSG_CLOEXEC 0x40000000

#define SHUT_RD 0
#define SHUT_WR 1
#define SHUT_RDWR 2

/* An address as the program gives it, in kernel form. */
struct kaddr {
    ip_addr_t ip;
    uint16_t port; /* host byte order */
    uint8_t valid; /* set by a protocol that reports a sender */
    /* AF_UNIX: sun_path's bytes (a leading NUL for the abstract namespace; a path is kept without
     * its terminating NUL); path_len 0 for an unnamed socket. */
    uint16_t path_len;
    char path[108];
};

/* One received unit: a TCP segment's pbuf chain, or a UDP datagram with its sender. */
struct rxent {
    struct rxent *next;
    struct pbuf *p;
    struct kaddr from;
};

/* A program's iovec array, copied in, with a cursor. */
struct uio {
    struct linux_iovec iov[64];
    int cnt, idx;
    uint64_t off;   /* into iov[idx] */
    uint64_t resid; /* bytes left in all */
};
/* Copies the user iovec array (cnt entries at uiov) in; 0, -EINVAL or -EFAULT. */
int uio_init(struct uio *u, const void *uiov, uint64_t cnt);
/* A single buffer as a uio. */
void uio_single(struct uio *u, void *ubuf, uint64_t len);
/* Copies n bytes from src to the program (advancing); 0 or -EFAULT. */
int uio_out(struct uio *u, const void *src, uint64_t n);
/* Copies n bytes from the program into dst (advancing); 0 or -EFAULT. */
int uio_in(struct uio *u, void *dst, uint64_t n);

struct sock;

/* What a protocol does. Called with net_lock held (fl: the flags to give it back with when the
 * call must sleep, through sock_wait). Return 0/bytes or -errno as the system call would. */
struct sock_ops {
    int (*bind)(struct sock *s, const struct kaddr *a);
    int (*listen)(struct sock *s, int backlog);
    int (*accept)(struct sock *s, struct sock **out, uint64_t *fl);
    int (*connect)(struct sock *s, const struct kaddr *a, uint64_t *fl);
    int64_t (*send)(struct sock *s, struct uio *u, const struct kaddr *to, int flags, uint64_t *fl);
    /* from: set (valid) to the sender when the protocol has one; *mflags gets MSG_TRUNC for a
     * datagram cut short. */
    int64_t (*recv)(struct sock *s, struct uio *u, struct kaddr *from, int flags, int *mflags,
                    uint64_t *fl);
    int (*shutdown)(struct sock *s, int how);
    /* 0, or -ENOTCONN when peer and there is none. */
    int (*name)(struct sock *s, struct kaddr *out, int peer);
    uint32_t (*poll)(struct sock *s);
    /* The file is gone: let go of the protocol state; the socket is freed when this returns 1,
     * else the protocol frees it later with sock_free. */
    int (*close)(struct sock *s);
    /* Readable bytes (FIONREAD). */
    int (*nread)(struct sock *s);
    /* Applies an option already stored in s (SO_KEEPALIVE, TCP_NODELAY...) to the pcb. */
    void (*apply)(struct sock *s);
};

struct sock {
    struct inode inode; /* first: what fstat sees (S_IFSOCK) */
    int domain, type, protocol;
    const struct sock_ops *ops;
    struct file *file;  /* the open file, 0 once closed (or before accept) */
    struct waitq wq;    /* woken whenever readiness may have changed */
    void *pcb;          /* the lwIP pcb, 0 once lwIP freed it */
    int err;            /* pending error (SO_ERROR), as a positive errno */
    int state;
    int connect_async; /* a non-blocking connect said EINPROGRESS; the next connect reports */
    int shut_rd, shut_wr;
    /* TCP: a writer or a poller found too little send space; the ACK that frees enough wakes
     * the queue and clears it (Linux's SOCK_NOSPACE). Other ACKs wake nobody. */
    int tx_nospace;
    /* Received data, oldest first (rx_off bytes of the head consumed). */
    struct rxent *rx_head, *rx_tail;
    uint32_t rx_off;
    uint32_t rx_bytes;
    int rx_eof;
    /* Listening: connections not yet accepted (a list through accept_next). */
    struct sock *accept_head, *accept_tail, *accept_next;
    int backlog, accept_len;
    struct kaddr peer;  /* UDP: the connected peer */
    int peer_set;
    /* Options. */
    int reuseaddr, reuseport, keepalive, nodelay, broadcast, v6only, tos;
    int mcast_hops; /* IPV6_MULTICAST_HOPS (UDP over IPv6: lwIP's one multicast TTL) */
    int keepidle, keepintvl, keepcnt;
    int rcvbuf, sndbuf;
    int linger_on, linger_s;
    uint64_t rcvtimeo_ns, sndtimeo_ns;
};

enum { SS_NEW, SS_BOUND, SS_LISTENING, SS_CONNECTING, SS_CONNECTED, SS_CLOSED };

/* A new socket of the protocol (no file yet); 0 when out of memory. */
struct sock *sock_alloc(int domain, int type, int protocol, const struct sock_ops *ops);
/* Frees a socket whose protocol state is gone (net_lock held). */
void sock_free(struct sock *s);
/* Wraps s in an open file; 0 when out of memory (s is then freed). */
struct file *sock_file(struct sock *s, uint32_t flags);
/* Installs s as a descriptor (flags: SOCK_NONBLOCK, SOCK_CLOEXEC); returns it, or -errno with s
 * freed. */
long sock_install(struct sock *s, int flags);
/* The socket behind descriptor fd: -EBADF, or -ENOTSOCK for another kind of file. */
struct sock *sock_from_fd(int fd, int *err, struct file **filep);
/* Sleeps until s's wait queue is woken, with net_lock released meanwhile; deadline_ns 0 for none.
 * Returns 0, -EAGAIN at the deadline, -ERESTARTSYS or -EINTR (a signal; EINTR when a timeout
 * option is set, as Linux). */
int sock_wait(struct sock *s, uint64_t *fl, uint64_t deadline_ns);
/* Whether the caller must not block: O_NONBLOCK on the file or MSG_DONTWAIT. */
int sock_nonblock(const struct sock *s, int flags);
/* The deadline for a blocking receive or send from SO_RCVTIMEO/SO_SNDTIMEO (0: none). */
uint64_t sock_deadline(uint64_t timeo_ns);
/* Wakes everyone waiting on or polling s. */
void sock_wake(struct sock *s);
/* Appends p (with its sender, if any) to s's receive queue; -ENOMEM leaves p to the caller. */
int sock_rx_push(struct sock *s, struct pbuf *p, const struct kaddr *from);
/* Drops the head of the receive queue (and its pbuf). */
void sock_rx_pop(struct sock *s);
/* Empties the receive queue. */
void sock_rx_clear(struct sock *s);
/* accept for a listening socket whose protocol queues its connections on accept_head: waits
 * (unless non-blocking; SO_RCVTIMEO applies) and takes the oldest. 0 or -errno. */
int sock_accept_queued(struct sock *s, struct sock **out, uint64_t *fl);
/* recv of one datagram from the receive queue (UDP, unix datagram): waits as the flags and
 * SO_RCVTIMEO say; MSG_PEEK, MSG_TRUNC. Returns its length (cut to the buffer) or -errno. */
int64_t sock_recv_datagram(struct sock *s, struct uio *u, struct kaddr *from, int flags, int *mflags,
                           uint64_t *fl);
/* A byte stream's receive: copies what is queued into u (consuming it unless peek) and returns
 * the bytes copied; *fault is set if a program address failed (the count stops there). */
uint32_t sock_rx_copy_stream(struct sock *s, struct uio *u, int peek, int *fault);
/* Copies n bytes of chain p from offset off to the program; 0 or -EFAULT. */
int pbuf_to_uio(struct pbuf *p, uint32_t off, uint32_t n, struct uio *u);

extern const struct sock_ops tcp_sock_ops, udp_sock_ops;

/* The lwIP address for a program's sockaddr; 0, -EINVAL (short), -EAFNOSUPPORT, -EFAULT. */
int kaddr_from_user(const struct sock *s, const void *uaddr, uint32_t len, struct kaddr *out);
/* Writes a sockaddr for a (in the socket's family) to the program, truncated to *ulen as Linux
 * does, and stores the full length in *ulen (a program pointer). 0 or -EFAULT/-EINVAL. */
int kaddr_to_user(const struct sock *s, const struct kaddr *a, void *uaddr, uint32_t *ulen);
