/* lwIP's configuration for the kernel: the raw API only (NO_SYS), driven by net/stack.c under
 * the one network lock (net_lock); memory from the kernel heap; IPv4 and IPv6, TCP, UDP, ICMP,
 * loopback; checksums offloaded per interface where virtio-net offers it. */
#pragma once

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0 /* every call into lwIP holds net_lock (net/stack.h) */
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_CALLBACK_API 1
#define LWIP_TIMERS 1

#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DNS 0 /* glibc's resolver speaks DNS over our UDP sockets */
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_AUTOCONFIG 1
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 1
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define IPV6_FRAG_COPYHEADER 1 /* 64-bit pointers do not fit in the fragment header */

#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_SUPPORT_CUSTOM_PBUF 1
#define ETH_PAD_SIZE 0
#define PBUF_LINK_ENCAPSULATION_HLEN 12 /* room for virtio-net's header in every frame sent */

/* Memory: the kernel heap for everything (no fixed pools to size or exhaust). */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define mem_clib_malloc lwip_port_malloc
#define mem_clib_free lwip_port_free
#define mem_clib_calloc lwip_port_calloc
#include <stddef.h>
void *lwip_port_malloc(size_t size);
void lwip_port_free(void *p);
void *lwip_port_calloc(size_t n, size_t size);
#define MEMP_NUM_TCP_PCB 4096
#define MEMP_NUM_TCP_PCB_LISTEN 256
#define MEMP_NUM_UDP_PCB 1024
#define MEMP_NUM_TCP_SEG 8192
#define MEMP_NUM_REASSDATA 64
#define MEMP_NUM_FRAG_PBUF 64
#define MEMP_NUM_ARP_QUEUE 64
#define MEMP_NUM_ND6_QUEUE 64
#define PBUF_POOL_SIZE 256

/* TCP: a 1460-byte MSS on Ethernet, windows of 256 KiB with window scaling. */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define TCP_SNDLOWAT 16384
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 0xff
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_MSL 10000UL /* TIME_WAIT lasts 2 MSL: 20 s (Linux: 60 s) */
#define SO_REUSE 1
#define LWIP_TCP_PCB_NUM_EXT_ARGS 0

#define LWIP_STATS 0
#define LWIP_DEBUG 0
#define LWIP_PERF 0
