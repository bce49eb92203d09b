/* /init of the Linux-guest baseline of `make bench` (lwjvm/linuxguest.py): the whole user space a
 * Debian cloud kernel gets, so it runs the same java command line lwjvm's kernel runs. It loads the
 * modules /modules.list names (virtio over PCI, virtio-blk, virtio-net), mounts the lwjvm root
 * image (/dev/vda, ext4, read-only) with proc, sys, dev and tmp inside it, brings up lo and eth0
 * with the addresses of boot.conf's net.* keys, mounts the second disk (/dev/vdb, ext4) at PATH
 * when the kernel command line has lwjvm.volume=PATH (as lwjvm's kernel mounts its volume),
 * reads exec=, arg=, env= and cwd= from
 * /etc/lwjvm/boot.conf, and runs that program in the image as a child. When it exits, its status
 * goes to QEMU's isa-debug-exit port (as lwjvm's kernel does), so QEMU ends with it.
 * Lines starting "linux-init:" on the console say how far boot got (the bench reads them).
 * Built static: gcc -static -O2 -o init linux-init.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT 0xf4
#define ROOT "/root"
#define MAX_LIST 256
#define WAIT_MS 20000

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    if (write(2, "linux-init: ", 12) < 0 || write(2, buf, n) < 0)
        return;
}

/* Ends QEMU with `code` through isa-debug-exit (QEMU exits (code << 1) | 1); never returns. */
static void __attribute__((noreturn)) finish(int code)
{
    sync();
    if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
        outb((unsigned char)code, DEBUG_EXIT_PORT);
    say("isa-debug-exit failed: %s", strerror(errno));
    for (;;)
        pause();
}

static void __attribute__((noreturn)) fail(const char *what)
{
    say("%s: %s", what, strerror(errno));
    finish(120);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Reads the whole file into a NUL-terminated heap buffer; NULL if it cannot be read. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            close(fd);
            free(buf);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

static void load_modules(void)
{
    char *list = slurp("/modules.list");
    if (!list)
        fail("/modules.list");
    for (char *save, *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
        char path[256];
        snprintf(path, sizeof path, "/modules/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            fail(path);
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            fail(path);
        close(fd);
    }
    free(list);
}

/* Waits for `path` to exist (a device node devtmpfs makes when its driver probes). */
static void wait_for(const char *path)
{
    struct stat st;
    for (int ms = 0; stat(path, &st) != 0; ms += 5) {
        if (ms >= WAIT_MS)
            fail(path);
        sleep_ms(5);
    }
}

static void mount_or_fail(const char *src, const char *dst, const char *type, unsigned long flags)
{
    if (mount(src, dst, type, flags, NULL) != 0)
        fail(dst);
}

/* boot.conf's values, unescaped in place (\\ and \n); keys as lwjvm/bootconf.py writes them. */
struct bootconf {
    char *exec, *cwd, *ipv4, *gateway, *hostname;
    char *argv[MAX_LIST], *env[MAX_LIST];
    int argc, envc;
};

static char *unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 'n' ? '\n' : *p;
        } else {
            *o++ = *p;
        }
    }
    *o = 0;
    return s;
}

static void parse_bootconf(char *text, struct bootconf *c)
{
    memset(c, 0, sizeof *c);
    c->cwd = "/";
    for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = 0;
        char *v = unescape(eq + 1);
        if (!strcmp(line, "exec"))
            c->exec = v;
        else if (!strcmp(line, "arg") && c->argc < MAX_LIST - 1)
            c->argv[c->argc++] = v;
        else if (!strcmp(line, "env") && c->envc < MAX_LIST - 1)
            c->env[c->envc++] = v;
        else if (!strcmp(line, "cwd"))
            c->cwd = v;
        else if (!strcmp(line, "net.ipv4"))
            c->ipv4 = v;
        else if (!strcmp(line, "net.gateway"))
            c->gateway = v;
        else if (!strcmp(line, "net.hostname"))
            c->hostname = v;
    }
}

static void set_addr(struct sockaddr *sa, in_addr_t addr)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = addr;
}

/* Gives interface `name` the address `addr`/`prefix` and brings it up. */
static void if_up(int s, const char *name, in_addr_t addr, int prefix)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    set_addr(&ifr.ifr_addr, addr);
    if (ioctl(s, SIOCSIFADDR, &ifr) != 0)
        fail("SIOCSIFADDR");
    set_addr(&ifr.ifr_netmask, prefix ? htonl(~0u << (32 - prefix)) : 0);
    if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0)
        fail("SIOCSIFNETMASK");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        fail("SIOCGIFFLAGS");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0)
        fail("SIOCSIFFLAGS");
}

static void setup_network(const struct bootconf *c)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        fail("socket");
    if_up(s, "lo", htonl(INADDR_LOOPBACK), 8);
    if (!c->ipv4) {
        close(s);
        return;
    }
    char addr[64];
    snprintf(addr, sizeof addr, "%s", c->ipv4);
    char *slash = strchr(addr, '/');
    int prefix = slash ? atoi(slash + 1) : 24;
    if (slash)
        *slash = 0;
    wait_for("/sys/class/net/eth0");
    if_up(s, "eth0", inet_addr(addr), prefix);
    if (c->gateway) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        set_addr(&rt.rt_dst, 0);
        set_addr(&rt.rt_genmask, 0);
        set_addr(&rt.rt_gateway, inet_addr(c->gateway));
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = "eth0";
        if (ioctl(s, SIOCADDRT, &rt) != 0)
            fail("SIOCADDRT");
    }
    close(s);
    if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) != 0)
        fail("sethostname");
}

/* lwjvm.volume=PATH on the kernel command line: /dev/vdb (ext4) is mounted at PATH in the image,
 * whose directory PATH must exist (the root is read-only). */
static void mount_volume(void)
{
    char *cmd = slurp("/proc/cmdline");
    if (!cmd)
        fail("/proc/cmdline");
    for (char *save, *w = strtok_r(cmd, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
        if (strncmp(w, "lwjvm.volume=", 13) != 0)
            continue;
        char where[512];
        snprintf(where, sizeof where, ROOT "%s", w + 13);
        wait_for("/dev/vdb");
        mount_or_fail("/dev/vdb", where, "ext4", 0);
        say("volume /dev/vdb on %s", w + 13);
    }
    free(cmd);
}

int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    int con = open("/dev/console", O_RDWR);
    if (con >= 0) {
        dup2(con, 0);
        dup2(con, 1);
        dup2(con, 2);
        if (con > 2)
            close(con);
    }
    say("start");
    mount_or_fail("proc", "/proc", "proc", 0);
    mount_or_fail("sysfs", "/sys", "sysfs", 0);
    load_modules();
    wait_for("/dev/vda");
    mount_or_fail("/dev/vda", ROOT, "ext4", MS_RDONLY);
    char *text = slurp(ROOT "/etc/lwjvm/boot.conf");
    if (!text)
        fail(ROOT "/etc/lwjvm/boot.conf");
    struct bootconf c;
    parse_bootconf(text, &c);
    if (!c.exec || c.argc == 0) {
        say("boot.conf has no exec= or arg= line");
        finish(120);
    }
    setup_network(&c);
    mount_volume();
    mount_or_fail("proc", ROOT "/proc", "proc", 0);
    mount_or_fail("sysfs", ROOT "/sys", "sysfs", 0);
    mount_or_fail("devtmpfs", ROOT "/dev", "devtmpfs", 0);
    mount_or_fail("tmpfs", ROOT "/tmp", "tmpfs", 0);
    if (chroot(ROOT) != 0 || chdir(c.cwd) != 0)
        fail("chroot");
    say("exec %s", c.exec);
    pid_t child = fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        execve(c.exec, c.argv, c.env);
        fail(c.exec);
    }
    /* PID 1 reaps every orphan; the program's own status ends the VM. */
    for (;;) {
        int status;
        pid_t pid = wait(&status);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0)
            fail("wait");
        if (pid != child)
            continue;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        say("exit %d", code);
        finish(code);
    }
}
