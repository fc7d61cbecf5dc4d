/* Cleanup attributes: resources are released when the variable leaves scope; ownership is
 * handed on with TAKE_PTR / TAKE_FD. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void vps_freep(void *p)
{
        free(*(void **)p);
}

static inline void vps_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
                *fd = -1;
        }
}

static inline void vps_fclosep(FILE **f)
{
        if (*f) {
                int saved = errno;
                (void)fclose(*f);
                errno = saved;
        }
}

static inline void vps_closedirp(DIR **d)
{
        if (*d) {
                int saved = errno;
                (void)closedir(*d);
                errno = saved;
        }
}

static inline void vps_strvfreep(char ***v)
{
        if (*v) {
                for (char **p = *v; *p; p++)
                        free(*p);
                free(*v);
        }
}

#define _cleanup_(f)       __attribute__((cleanup(f)))
#define _cleanup_free_     _cleanup_(vps_freep)
#define _cleanup_close_    _cleanup_(vps_closep)
#define _cleanup_fclose_   _cleanup_(vps_fclosep)
#define _cleanup_closedir_ _cleanup_(vps_closedirp)
#define _cleanup_strv_     _cleanup_(vps_strvfreep)

#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -1;                                                                         \
                _fd;                                                                               \
        })

/* A DIR stream over a duplicate of dir_fd, which stays open (the two share the offset):
 * NULL with errno set on failure. */
/* A listing of dir_fd from its start: a new open of "." rather than a dup, whose offset
 * would be shared with dir_fd and with every earlier listing of it. */
static inline DIR *vps_opendir_fd(int dir_fd)
{
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d && fd >= 0) {
                int e = errno;
                close(fd);
                errno = e;
        }
        return d;
}

/* jansson: json_t references. */
#define _cleanup_json_ _cleanup_(vps_json_decrefp)
struct json_t;
void vps_json_decrefp(void *p);
