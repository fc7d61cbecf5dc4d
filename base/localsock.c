/* libvps: vpsd's local sockets. They are paths in root-only directories (an abstract name is
 * open to every process of the network namespace and can be bound first by anyone), and
 * both ends check SO_PEERCRED: a server serves host root only, a client talks to a listener
 * run by host root only. */
#include "vps/localsock.h"

#include "vps/cleanup.h"
#include "vps/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* dfd must be a directory owned by root that no one else may write to (mode: the most it
 * may allow). */
static int check_dir(int dfd, const char *path, mode_t mode, vps_error *err)
{
        struct stat st;
        if (fstat(dfd, &st) < 0)
                return vps_err_sys(err, errno, "reading %s", path);
        if (st.st_uid != 0)
                return vps_err(err, EPERM, "%s is owned by uid %u, not root: refused", path,
                               (unsigned int)st.st_uid);
        if ((st.st_mode & 07777 & ~mode) && fchmod(dfd, st.st_mode & mode) < 0)
                return vps_err_sys(err, errno, "making %s root-only", path);
        return 0;
}

int vps_run_dir_open(const char *root, char *ret_path, size_t size, vps_error *err)
{
        struct stat st;
        if (stat(root, &st) < 0)
                return vps_err_sys(err, errno, "reading %s", root);
        char path[128];
        (void)snprintf(path, sizeof(path), "%s/state-%llx-%llx", VPS_RUN_DIR,
                       (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
        int r = vps_mkdir_p(VPS_RUN_DIR, 0755, err);
        if (r < 0)
                return r;
        _cleanup_close_ int parent =
                open(VPS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (parent < 0)
                return vps_err_sys(err, errno, "opening %s", VPS_RUN_DIR);
        if ((r = check_dir(parent, VPS_RUN_DIR, 0755, err)) < 0)
                return r;
        const char *name = path + sizeof(VPS_RUN_DIR);
        if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
                return vps_err_sys(err, errno, "creating %s", path);
        _cleanup_close_ int fd =
                openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vps_err_sys(err, errno, "opening %s", path);
        if ((r = check_dir(fd, path, 0700, err)) < 0)
                return r;
        if (ret_path)
                (void)snprintf(ret_path, size, "%s", path);
        return TAKE_FD(fd);
}

uid_t vps_sock_peer_uid(int fd)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
                return (uid_t)-1;
        return cred.uid;
}

bool vps_sock_peer_is_root(int fd)
{
        return vps_sock_peer_uid(fd) == 0;
}

/* A Unix socket of type and the address of path, which must be absolute. */
static int sock_for(const char *path, int type, struct sockaddr_un *sa, vps_error *err)
{
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        if (!path || path[0] != '/' || strlen(path) >= sizeof(sa->sun_path))
                return vps_err(err, EINVAL, "invalid socket path '%.200s'", path ? path : "");
        strcpy(sa->sun_path, path);
        int fd = socket(AF_UNIX, type, 0);
        return fd < 0 ? vps_err_sys(err, errno, "socket") : fd;
}

int vps_sock_listen_path(const char *path, int type, int backlog, vps_error *err)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = sock_for(path, type, &sa, err);
        if (fd < 0)
                return fd;
        int r;
        if (unlink(path) < 0 && errno != ENOENT)
                return vps_err_sys(err, errno, "removing the old %s", path);
        /* fchmod on a socket does not reach its file: the mode comes from the umask. */
        mode_t old = umask(0177);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, backlog) < 0)
                return vps_err_sys(err, errno, "listening on %s", path);
        return TAKE_FD(fd);
}

int vps_sock_connect_root(const char *path, int type, const char *what, vps_error *err)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = sock_for(path, type, &sa, err);
        if (fd < 0)
                return fd;
        int r;
        while ((r = connect(fd, (struct sockaddr *)&sa, sizeof(sa))) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return vps_err_sys(err, errno, "connecting to %s %s", what, path);
        uid_t uid = vps_sock_peer_uid(fd);
        if (uid != 0)
                return vps_err(err, EPERM,
                               "%s %s is not vpsd's: the process listening there runs as uid "
                               "%d, not root",
                               what, path, (int)uid);
        return TAKE_FD(fd);
}
