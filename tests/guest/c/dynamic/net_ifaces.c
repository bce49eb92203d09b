/* The loopback interface as Linux shows it to programs: SIOCGIFCONF lists it with 127.0.0.1, the
 * SIOCGIF* queries give its flags, index, netmask, MTU and hardware type, if_nametoindex and
 * if_indextoname agree, /proc/net/if_inet6 has its ::1 line (the JDK decides that IPv6 is there
 * from it), and unknown names and bad buffers get Linux's errno. Only lo is looked at: the other
 * interfaces differ between the host and the guest. */
#include "../check.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static int query(int s, unsigned long cmd, const char *name, struct ifreq *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->ifr_name, sizeof r->ifr_name, "%s", name);
    return ioctl(s, cmd, r);
}

static uint32_t ipv4_of(const struct sockaddr *sa)
{
    return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
}

int main(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK("socket", s >= 0);

    struct ifconf c = {.ifc_len = 0, .ifc_buf = NULL};
    CHECK("ifconf length query", ioctl(s, SIOCGIFCONF, &c) == 0 && c.ifc_len > 0 &&
                                     c.ifc_len % (int)sizeof(struct ifreq) == 0);
    struct ifreq list[16];
    c.ifc_len = sizeof list;
    c.ifc_req = list;
    int found = 0;
    if (CHECK("ifconf", ioctl(s, SIOCGIFCONF, &c) == 0)) {
        for (int i = 0; i < c.ifc_len / (int)sizeof(struct ifreq); i++)
            if (!strcmp(list[i].ifr_name, "lo"))
                found = list[i].ifr_addr.sa_family == AF_INET &&
                        ipv4_of(&list[i].ifr_addr) == INADDR_LOOPBACK;
    }
    CHECK("ifconf lists lo with 127.0.0.1", found);
    struct ifconf small = {.ifc_len = sizeof(struct ifreq) - 1, .ifc_req = list};
    CHECK("ifconf with no room for one", ioctl(s, SIOCGIFCONF, &small) == 0 && small.ifc_len == 0);

    struct ifreq r;
    CHECK("lo flags", query(s, SIOCGIFFLAGS, "lo", &r) == 0 &&
                          (r.ifr_flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_BROADCAST)) ==
                              (IFF_UP | IFF_LOOPBACK | IFF_RUNNING));
    CHECK("lo address", query(s, SIOCGIFADDR, "lo", &r) == 0 &&
                            ipv4_of(&r.ifr_addr) == INADDR_LOOPBACK);
    CHECK("lo netmask", query(s, SIOCGIFNETMASK, "lo", &r) == 0 &&
                            ipv4_of(&r.ifr_netmask) == 0xff000000u);
    CHECK("lo mtu", query(s, SIOCGIFMTU, "lo", &r) == 0 && r.ifr_mtu == 65536);
    CHECK("lo hardware type", query(s, SIOCGIFHWADDR, "lo", &r) == 0 &&
                                  r.ifr_hwaddr.sa_family == ARPHRD_LOOPBACK);
    CHECK("lo index", query(s, SIOCGIFINDEX, "lo", &r) == 0 && r.ifr_ifindex == 1);
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 1;
    CHECK("name of index 1", ioctl(s, SIOCGIFNAME, &r) == 0 && !strcmp(r.ifr_name, "lo"));
    CHECK("if_nametoindex", if_nametoindex("lo") == 1);
    char name[IF_NAMESIZE];
    CHECK("if_indextoname", if_indextoname(1, name) && !strcmp(name, "lo"));

    CHECK_ERRNO("unknown name", query(s, SIOCGIFFLAGS, "nosuch0", &r), ENODEV);
    CHECK_ERRNO("unknown index", (memset(&r, 0, sizeof r), r.ifr_ifindex = 999,
                                  ioctl(s, SIOCGIFNAME, &r)), ENODEV);
    CHECK_ERRNO("if_nametoindex unknown", (int)if_nametoindex("nosuch0") - 1, ENODEV);
    CHECK_ERRNO("bad buffer", ioctl(s, SIOCGIFFLAGS, (void *)8), EFAULT);
    CHECK_ERRNO("bad ifconf buffer",
                (c.ifc_len = sizeof list, c.ifc_buf = (void *)8, ioctl(s, SIOCGIFCONF, &c)), EFAULT);
    int fd = open("/dev/null", O_RDONLY);
    CHECK_ERRNO("not a socket", ioctl(fd, SIOCGIFFLAGS, &r), ENOTTY);
    close(fd);

    int u = socket(AF_UNIX, SOCK_DGRAM, 0); /* glibc's if_nametoindex may ask on one */
    CHECK("on a unix socket", query(u, SIOCGIFINDEX, "lo", &r) == 0 && r.ifr_ifindex == 1);
    close(u);

    FILE *f = fopen("/proc/net/if_inet6", "r");
    char line[128];
    int lo6 = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strcmp(line, "00000000000000000000000000000001 01 80 10 80       lo\n"))
            lo6 = 1;
    if (f)
        fclose(f);
    CHECK("if_inet6 has lo's ::1 as Linux prints it", lo6);
    close(s);
    return check_failures ? 1 : 0;
}
