/* vpsctl: a shared library loaded at its first call (dl.h). */
#include "dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void vpsctl_dl_load(const char *soname, const char *what, const struct vpsctl_dl_sym *syms,
                    size_t n)
{
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                fprintf(stderr, "vpsctl: cannot load %s: %s\n", what, dlerror());
                exit(1);
        }
        for (size_t i = 0; i < n; i++)
                if (!(*syms[i].slot = dlsym(h, syms[i].name))) {
                        fprintf(stderr, "vpsctl: %s has no %s\n", soname, syms[i].name);
                        exit(1);
                }
}
