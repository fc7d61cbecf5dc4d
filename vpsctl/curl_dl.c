/* vpsctl: libcurl loaded at its first call (curl_dl.h). */
#include "curl_dl.h"

#ifdef VPS_CURL_DLOPEN
#include "dl.h"

#include <pthread.h>

static struct vpsctl_curl_api api;

static void load(void)
{
        const struct vpsctl_dl_sym syms[] = {
                {"curl_global_init", (void **)&api.global_init},
                {"curl_easy_init", (void **)&api.easy_init},
                {"curl_easy_cleanup", (void **)&api.easy_cleanup},
                {"curl_easy_setopt", (void **)&api.easy_setopt},
                {"curl_easy_getinfo", (void **)&api.easy_getinfo},
                {"curl_easy_perform", (void **)&api.easy_perform},
                {"curl_easy_send", (void **)&api.easy_send},
                {"curl_easy_recv", (void **)&api.easy_recv},
                {"curl_easy_strerror", (void **)&api.easy_strerror},
                {"curl_free", (void **)&api.free},
                {"curl_slist_append", (void **)&api.slist_append},
                {"curl_slist_free_all", (void **)&api.slist_free_all},
                {"curl_url", (void **)&api.url},
                {"curl_url_cleanup", (void **)&api.url_cleanup},
                {"curl_url_get", (void **)&api.url_get},
                {"curl_url_set", (void **)&api.url_set},
        };
        vpsctl_dl_load(VPS_CURL_SONAME, "libcurl", syms, sizeof(syms) / sizeof(syms[0]));
}

const struct vpsctl_curl_api *vpsctl_curl(void)
{
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        (void)pthread_once(&once, load);
        return &api;
}
#endif
