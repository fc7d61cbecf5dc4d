/* vpsd: console output goes to the bounded console log and to every attached client; what a
 * client types goes to the console. A client is a raw stream (`vpsctl console`) or a peer
 * with a protocol of its own (a browser's WebSocket: ws_console.c) behind its ops. */
#include "console.h"

#include "log.h"
#include "sandbox/sandbox.h"
#include "loop.h"
#include "vpsd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONSOLE_LOG_MAX (1024 * 1024)

/* A `vpsctl console` connection (an upgraded HTTP socket). */
struct console_client {
        struct vpsd_source w;
        int fd;
        struct MHD_UpgradeResponseHandle *urh;
        struct vps_inst *vi;
        const struct vpsd_console_peer *ops; /* NULL: a raw stream */
        void *peer;
        bool dead; /* its stream broke: dropped by its own source (on_client) */
        struct console_client *next;
};

static void write_all_nb(int fd, const char *buf, size_t len)
{
        /* Best effort: a client too slow to read loses output rather than stalling vpsd. */
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n <= 0)
                        return;
                buf += n;
                len -= (size_t)n;
        }
}

static void drop_client(struct vpsd *d, struct console_client *c)
{
        struct vps_loop *l = vpsd_loop_of(c->vi);
        for (struct console_client **p = l ? &l->clients : NULL; p && *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        vpsd_event_del(&d->ev, &c->w);
        (void)MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
        d->mhd_kick = true;
        if (c->ops)
                c->ops->free(c->peer);
        free(c);
}

void vpsd_console_drop_all(struct vpsd *d, struct vps_inst *vi)
{
        struct vps_loop *l = vpsd_loop_of(vi);
        while (l && l->clients)
                drop_client(d, l->clients);
}

static void on_client(struct vpsd_source *s, uint32_t revents, void *userdata)
{
        struct vpsd *d = userdata;
        struct console_client *c = vpsd_container_of(s, struct console_client, w);
        char buf[4096];
        if (c->dead) {
                drop_client(d, c);
                return;
        }
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                drop_client(d, c);
                return;
        }
        if (c->ops) {
                if (c->ops->input(c->peer, c->fd, c->vi->console_fd, buf, (size_t)n) < 0)
                        drop_client(d, c);
                return;
        }
        if (c->vi->console_fd >= 0 && write(c->vi->console_fd, buf, (size_t)n) < 0)
                vpsd_log("VPS %s: console write: %s", c->vi->cfg.id, strerror(errno));
}

static int attach(struct vpsd *d, struct vps_inst *vi, int fd,
                  struct MHD_UpgradeResponseHandle *urh, const struct vpsd_console_peer *ops,
                  void *peer)
{
        struct vps_loop *l = vpsd_loop_of(vi);
        if (!l || vi->console_fd < 0)
                return -ENODEV;
        struct console_client *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (struct console_client){.fd = fd, .urh = urh, .vi = vi, .ops = ops, .peer = peer};
        vps_error err;
        int r = vpsd_event_add(&d->ev, &c->w, fd, EPOLLIN | EPOLLRDHUP, on_client, d, &err);
        if (r < 0) {
                free(c);
                return r;
        }
        c->next = l->clients;
        l->clients = c;
        return 0;
}

int vpsd_console_attach_peer(struct vpsd *d, struct vps_inst *vi, int fd,
                             struct MHD_UpgradeResponseHandle *urh,
                             const struct vpsd_console_peer *ops, void *peer)
{
        return attach(d, vi, fd, urh, ops, peer);
}

int vpsd_console_attach(struct vpsd *d, struct vps_inst *vi, int fd,
                        struct MHD_UpgradeResponseHandle *urh, const char *extra, size_t len)
{
        int r = attach(d, vi, fd, urh, NULL, NULL);
        if (r < 0)
                return r;
        if (len > 0 && write(vi->console_fd, extra, len) < 0)
                vpsd_log("VPS %s: console write: %s", vi->cfg.id, strerror(errno));
        return 0;
}

/* One read of the console: to the log and the clients. Returns false when nothing is left to
 * read now (EAGAIN) or ever (no slave open any more: polling it stops). */
static bool console_pump(struct vpsd *d, struct vps_inst *vi)
{
        char buf[16384];
        ssize_t n = read(vi->console_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return false;
        struct vps_loop *l = vpsd_loop_of(vi);
        if (n <= 0) {
                if (l->console_watched)
                        vpsd_event_del(&d->ev, &l->w_console);
                l->console_watched = false;
                return false;
        }
        vps_error err;
        if (vps_console_log(vi->dir_fd, buf, (size_t)n, CONSOLE_LOG_MAX, &err) < 0)
                vpsd_log("VPS %s: %s", vi->cfg.id, err.msg);
        for (struct console_client *c = l->clients; c; c = c->next) {
                if (c->dead)
                        continue;
                if (!c->ops) {
                        write_all_nb(c->fd, buf, (size_t)n);
                } else if (c->ops->output(c->peer, c->fd, buf, (size_t)n) < 0) {
                        /* Not freed here: an event of its source may be waiting in this round
                         * of the loop. The hangup makes its source run and drop it. */
                        c->dead = true;
                        (void)shutdown(c->fd, SHUT_RDWR);
                }
        }
        return true;
}

void vpsd_console_on_master(struct vpsd *d, struct vps_inst *vi)
{
        (void)console_pump(d, vi);
}

void vpsd_console_drain(struct vpsd *d, struct vps_inst *vi)
{
        /* The init's last words (a shutdown's "Powering off") may still sit in the pty when its
         * exit is seen; a read also flushes what the tty layer has not passed on yet. Bounded,
         * so a console that never runs dry (a surviving writer) cannot hold the loop. */
        if (vi->console_fd < 0 || !vpsd_loop_of(vi))
                return;
        for (int i = 0; i < 64 && console_pump(d, vi); i++)
                ;
}
