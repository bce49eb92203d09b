/* The network stack: lwIP (raw API, NO_SYS) under one lock, its timers on a kernel timer, and the
 * interfaces (loopback, virtio-net) configured from boot.conf. */
#pragma once
#include <stdint.h>

#include "lib/spinlock.h"
#include "net/hostname.h"

struct bootconf;
struct netif;

/* net_lock guards everything inside lwIP (pcbs, pbufs, netifs, its timeouts), the virtio-net
 * driver's rings, and every socket's lwIP-facing state (receive queues, accept queues, pcb
 * pointers). Taken by system calls, by the network interrupt and by the lwIP timer. Never held
 * while sleeping. */
extern struct spinlock net_lock;
uint64_t net_lock_take(void);
/* Releases net_lock, first re-arming the lwIP timer if lwIP now wants to run sooner. */
void net_lock_give(uint64_t flags);
/* With net_lock held: re-arms the lwIP timer if lwIP now wants to run sooner. */
void net_timer_rearm(void);
/* With net_lock held, before it is released in any way: delivers loopback traffic and re-arms
 * the lwIP timer (net_lock_give does this itself). Returns 1 if loopback traffic was delivered
 * (a waiter must then recheck its condition before blocking). */
int net_flush(void);

/* With net_lock held, once the interface has room to transmit again after refusing a frame: sends
 * what TCP holds unsent. lwIP keeps a refused segment unsent and tries it again only on the next
 * ACK or retransmission timer; with nothing in flight neither comes, and the connection (and a
 * writer waiting for room) would wait forever. */
void net_tx_resume(void);
/* With lwjvm.stats=1, at exit: the device's counters and every TCP connection's state. */
void net_report(void);

/* Brings lwIP up with loopback, and the virtio-net interface when there is one and boot.conf
 * gives it an address. */
void net_init(const struct bootconf *bc);

/* At the program's exit, before the VM stops: gives TCP up to max_ns to deliver what the program
 * wrote and has not been acknowledged yet (Linux would go on sending after the process is
 * gone), polling the device and lwIP's timers. Returns at once when nothing is pending. */
void net_drain(uint64_t max_ns);

/* The virtio-net driver's half (drivers/virtio_net.c): 1 if a device was found; its lwIP netif init
 * function. */
int virtio_net_present(void);
signed char virtio_net_netif_init(struct netif *n);
/* Processes what the device has delivered, as its interrupt would (takes net_lock). */
void virtio_net_poll(void);
/* The device's counters: frames received, sent, received by copy, sent by copy, dropped on send. */
void virtio_net_stats(uint64_t out[5]);
/* Prints the device's queue indexes and re-notifications on the kernel log (net_report). */
void virtio_net_report(void);
