/* Linux's view of the network interfaces (net/netdev.c): lo and eth0 by name and index, as
 * /proc/net/if_inet6 and the netdevice ioctls (SIOCGIFCONF and the SIOCGIF* queries) show them. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* /proc/net/if_inet6's text into buf (at most size bytes); returns its whole length, as snprintf. */
int net_gen_if_inet6(char *buf, size_t size);
/* A netdevice ioctl on a socket (cmd, user pointer arg); -ENOTTY if cmd is not one. */
long netdev_ioctl(uint32_t cmd, uint64_t arg);
