/* The VM's host name (boot.conf net.hostname, default "lwjvm"), for uname and
 * /proc/sys/kernel/hostname; kept by net/stack.c. Needs no lwIP headers. */
#pragma once

const char *net_hostname(void);
