/* Names and their errors in /tmp, each compared with what Linux answers: trailing slashes, "."
 * and "..", symlinks (dangling, O_NOFOLLOW, O_CREAT through one), hard links, truncate, open
 * modes on directories, rename rules (into itself, onto ".", RENAME_NOREPLACE), empty paths, bad
 * directory descriptors, *at calls on a directory fd, faccessat and chmod. Works in a fresh
 * directory under /tmp and removes it. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"

int main(void)
{
    umask(022);
    char d[64];
    snprintf(d, sizeof d, "/tmp/lwjvm-fsedge-%d", getpid());
    CHECK_OK("mkdir(d, 0755)", mkdir(d, 0755));
    CHECK_OK("chdir(d)", chdir(d));
    CHECK_OK("mkdir(\"a/\", 0755)", mkdir("a/", 0755));
    CHECK_OK("mkdir(\"a//b//\", 0755)", mkdir("a//b//", 0755));
    CHECK_OK("rmdir(\"a/b/\")", rmdir("a/b/"));
    CHECK_ERRNO("rmdir(\"a/.\")", rmdir("a/."), EINVAL);
    CHECK_ERRNO("rmdir(\"a/..\")", rmdir("a/.."), ENOTEMPTY);
    CHECK_ERRNO("unlink(\"a\")", unlink("a"), EISDIR);
    CHECK_ERRNO("unlink(\".\")", unlink("."), EISDIR);
    CHECK_ERRNO("rmdir(\".\")", rmdir("."), EINVAL);
    CHECK("open(\"f\", O_CREAT | O_WRONLY, 0644) >= 0", open("f", O_CREAT | O_WRONLY, 0644) >= 0);
    CHECK_ERRNO("open(\"f/\", O_RDONLY)", open("f/", O_RDONLY), ENOTDIR);
    CHECK_ERRNO("unlink(\"f/\")", unlink("f/"), ENOTDIR);
    CHECK_ERRNO("rename(\"f\", \"a/\")", rename("f", "a/"), ENOTDIR);
    CHECK_ERRNO("rename(\"a\", \"f\")", rename("a", "f"), ENOTDIR);
    CHECK_ERRNO("rename(\"a\", \"a/sub\")", rename("a", "a/sub"), EINVAL);
    CHECK_ERRNO("rename(\"f\", \"f/\")", rename("f", "f/"), ENOTDIR);
    CHECK_OK("symlink(\"f\", \"l\")", symlink("f", "l"));
    CHECK_OK("symlink(\"nowhere\", \"dl\")", symlink("nowhere", "dl"));
    CHECK_ERRNO("open(\"dl\", O_RDONLY)", open("dl", O_RDONLY), ENOENT);
    CHECK("open(\"dl\", O_CREAT | O_WRONLY, 0600) >= 0", open("dl", O_CREAT | O_WRONLY, 0600) >= 0);
    CHECK_OK("access(\"nowhere\", F_OK)", access("nowhere", F_OK));
    CHECK_ERRNO("open(\"l\", O_RDONLY | O_NOFOLLOW)", open("l", O_RDONLY | O_NOFOLLOW), ELOOP);
    CHECK_ERRNO("open(\"l\", O_CREAT | O_EXCL | O_WRONLY, 0600)",
                open("l", O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST);
    CHECK_ERRNO("mkdir(\"l\", 0755)", mkdir("l", 0755), EEXIST);
    CHECK_ERRNO("rmdir(\"l\")", rmdir("l"), ENOTDIR);
    CHECK_OK("unlink(\"l\")", unlink("l"));
    CHECK_ERRNO("access(\"l\", F_OK)", access("l", F_OK), ENOENT);
    CHECK_OK("link(\"f\", \"h\")", link("f", "h"));
    CHECK_ERRNO("link(\"a\", \"h2\")", link("a", "h2"), EPERM);
    CHECK_ERRNO("link(\"nope\", \"h3\")", link("nope", "h3"), ENOENT);
    CHECK_ERRNO("link(\"f\", \"h\")", link("f", "h"), EEXIST);
    struct stat st;
    CHECK_OK("stat(\"h\", &st)", stat("h", &st));
    CHECK_EQ("two names, two links", st.st_nlink, 2);
    CHECK_ERRNO("truncate(\"a\", 0)", truncate("a", 0), EISDIR);
    CHECK_ERRNO("truncate(\"f\", -1)", truncate("f", -1), EINVAL);
    CHECK_ERRNO("truncate(\"nope\", 0)", truncate("nope", 0), ENOENT);
    CHECK_ERRNO("open(\"a\", O_RDWR)", open("a", O_RDWR), EISDIR);
    CHECK_ERRNO("open(\"a\", O_RDONLY | O_TRUNC)", open("a", O_RDONLY | O_TRUNC), EISDIR);
    CHECK_ERRNO("open(\"a\", O_WRONLY | O_CREAT, 0600)",
                open("a", O_WRONLY | O_CREAT, 0600), EISDIR);
    CHECK_ERRNO("chdir(\"f\")", chdir("f"), ENOTDIR);
    CHECK_ERRNO("chdir(\"nope\")", chdir("nope"), ENOENT);
    CHECK_ERRNO("readlink(\"f\", d, 10)", readlink("f", d, 10), EINVAL);
    CHECK_ERRNO("readlink(\"nope\", d, 10)", readlink("nope", d, 10), ENOENT);
    CHECK_ERRNO("readlink(\"dl\", d, 0)", readlink("dl", d, 0), EINVAL);
    CHECK_ERRNO("rename(\"nope\", \"x\")", rename("nope", "x"), ENOENT);
    CHECK_ERRNO("rename(\"f\", \"nodir/x\")", rename("f", "nodir/x"), ENOENT);
    CHECK_ERRNO("rename(\"a\", \".\")", rename("a", "."), EBUSY);
    CHECK_ERRNO("renameat2(AT_FDCWD, \"f\", AT_FDCWD, \"h\", RENAME_NOREPLACE)",
                renameat2(AT_FDCWD, "f", AT_FDCWD, "h", RENAME_NOREPLACE), EEXIST);
    CHECK_ERRNO("renameat2(AT_FDCWD, \"f\", AT_FDCWD, \"h\", 99)",
                renameat2(AT_FDCWD, "f", AT_FDCWD, "h", 99), EINVAL);
    CHECK_ERRNO("mkdir(\"\", 0755)", mkdir("", 0755), ENOENT);
    CHECK_ERRNO("open(\"\", O_RDONLY)", open("", O_RDONLY), ENOENT);
    CHECK_ERRNO("unlink(\"\")", unlink(""), ENOENT);
    CHECK_ERRNO("rmdir(\"\")", rmdir(""), ENOENT);
    CHECK_ERRNO("openat(9999, \"x\", O_RDONLY)", openat(9999, "x", O_RDONLY), EBADF);
    CHECK_ERRNO("openat(0, \"x\", O_RDONLY)", openat(0, "x", O_RDONLY), ENOTDIR);
    CHECK_ERRNO("mkdirat(9999, \"x\", 0755)", mkdirat(9999, "x", 0755), EBADF);
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    CHECK_ERRNO("write(fd, \"x\", 1)", write(fd, "x", 1), EBADF);
    /* (SEEK_END on a directory depends on the filesystem: EINVAL on tmpfs, allowed on ext4.) */
    CHECK("lseek(fd, 0, SEEK_SET) on a directory", lseek(fd, 0, SEEK_SET) == 0);
    CHECK_ERRNO("ftruncate(fd, 0)", ftruncate(fd, 0), EINVAL);
    CHECK_OK("fsync(fd)", fsync(fd));
    CHECK_OK("unlinkat(fd, \"h\", 0)", unlinkat(fd, "h", 0));
    CHECK_ERRNO("unlinkat(fd, \"a\", 0)", unlinkat(fd, "a", 0), EISDIR);
    CHECK_OK("unlinkat(fd, \"a\", AT_REMOVEDIR)", unlinkat(fd, "a", AT_REMOVEDIR));
    CHECK_ERRNO("unlinkat(fd, \"f\", 0x1234)", unlinkat(fd, "f", 0x1234), EINVAL);
    CHECK_OK("faccessat(fd, \"f\", W_OK, 0)", faccessat(fd, "f", W_OK, 0));
    CHECK_ERRNO("faccessat(fd, \"f\", X_OK, 0)", faccessat(fd, "f", X_OK, 0), EACCES);
    CHECK_ERRNO("faccessat(fd, \"f\", 8, 0)", faccessat(fd, "f", 8, 0), EINVAL);
    CHECK_OK("fchmodat(fd, \"f\", 0755, 0)", fchmodat(fd, "f", 0755, 0));
    CHECK_OK("faccessat(fd, \"f\", X_OK, 0)", faccessat(fd, "f", X_OK, 0));
    CHECK_OK("utimensat(fd, \"f\", NULL, 0)", utimensat(fd, "f", NULL, 0));
    CHECK_ERRNO("utimensat(fd, \"nope\", NULL, 0)", utimensat(fd, "nope", NULL, 0), ENOENT);
    CHECK_OK("unlink(\"dl\")", unlink("dl"));
    CHECK_OK("unlink(\"f\")", unlink("f"));
    CHECK_ERRNO("unlink(\"f\")", unlink("f"), ENOENT);
    CHECK_OK("unlink(\"nowhere\") (made through the dangling link)", unlink("nowhere"));
    CHECK_OK("chdir(\"/\")", chdir("/"));
    close(fd);
    CHECK_OK("rmdir(d): everything is gone", rmdir(d));
    /* stdout and stderr are pipes on the host and consoles in the guest: no position either way. */
    CHECK_ERRNO("lseek on stdout", lseek(1, 0, SEEK_CUR), ESPIPE);
    CHECK_ERRNO("pwrite on stderr", pwrite(2, "", 0, 0), ESPIPE);
    return check_done();
}
