/* vpsctl: a shared library's functions loaded by dlopen at a command's first call to them
 * (curl_dl.c, gnutls_dl.c), so that a command that never calls them never maps the library. */
#pragma once

#include <stddef.h>

struct vpsctl_dl_sym {
        const char *name;
        void **slot;
};

/* soname's symbols into their slots (RTLD_NOW: a symbol missing is found now, not in the
 * middle of a request). A library that cannot be loaded, or lacks a symbol: vpsctl says so in
 * one line, naming what, and exits (1). */
void vpsctl_dl_load(const char *soname, const char *what, const struct vpsctl_dl_sym *syms,
                    size_t n);
