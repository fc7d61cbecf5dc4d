/* vpsctl: libcurl, loaded when a command first calls it (dlopen) rather than at every start:
 * with what it links (GnuTLS, Kerberos, LDAP, SSH, RTMP, ...), about 20 shared objects and
 * 3-4 ms of CPU that a command on the local socket's streams (backup, restore, console) never
 * needs (bench/README.md). The calls keep libcurl's names: with VPS_CURL_DLOPEN (vpsctl's
 * build against the system's libcurl) they go through the table below; without it (the unit
 * tests, a static libcurl) straight to libcurl. */
#pragma once

#include <curl/curl.h>

#ifdef VPS_CURL_DLOPEN
struct vpsctl_curl_api {
        __typeof__(curl_global_init) *global_init;
        __typeof__(curl_easy_init) *easy_init;
        __typeof__(curl_easy_cleanup) *easy_cleanup;
        __typeof__(curl_easy_setopt) *easy_setopt;
        __typeof__(curl_easy_getinfo) *easy_getinfo;
        __typeof__(curl_easy_perform) *easy_perform;
        __typeof__(curl_easy_send) *easy_send;
        __typeof__(curl_easy_recv) *easy_recv;
        __typeof__(curl_easy_strerror) *easy_strerror;
        __typeof__(curl_free) *free;
        __typeof__(curl_slist_append) *slist_append;
        __typeof__(curl_slist_free_all) *slist_free_all;
        __typeof__(curl_url) *url;
        __typeof__(curl_url_cleanup) *url_cleanup;
        __typeof__(curl_url_get) *url_get;
        __typeof__(curl_url_set) *url_set;
};

/* libcurl's functions, loaded at the first call; a vpsctl without its libcurl says so and
 * exits (1). */
const struct vpsctl_curl_api *vpsctl_curl(void);

/* libcurl's type-checking macros (typecheck-gcc.h) call the functions by name. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(...)    (vpsctl_curl()->global_init(__VA_ARGS__))
#define curl_easy_init(...)      (vpsctl_curl()->easy_init(__VA_ARGS__))
#define curl_easy_cleanup(...)   (vpsctl_curl()->easy_cleanup(__VA_ARGS__))
#define curl_easy_setopt(...)    (vpsctl_curl()->easy_setopt(__VA_ARGS__))
#define curl_easy_getinfo(...)   (vpsctl_curl()->easy_getinfo(__VA_ARGS__))
#define curl_easy_perform(...)   (vpsctl_curl()->easy_perform(__VA_ARGS__))
#define curl_easy_send(...)      (vpsctl_curl()->easy_send(__VA_ARGS__))
#define curl_easy_recv(...)      (vpsctl_curl()->easy_recv(__VA_ARGS__))
#define curl_easy_strerror(...)  (vpsctl_curl()->easy_strerror(__VA_ARGS__))
#define curl_free(...)           (vpsctl_curl()->free(__VA_ARGS__))
#define curl_slist_append(...)   (vpsctl_curl()->slist_append(__VA_ARGS__))
#define curl_slist_free_all(...) (vpsctl_curl()->slist_free_all(__VA_ARGS__))
#define curl_url(...)            (vpsctl_curl()->url(__VA_ARGS__))
#define curl_url_cleanup(...)    (vpsctl_curl()->url_cleanup(__VA_ARGS__))
#define curl_url_get(...)        (vpsctl_curl()->url_get(__VA_ARGS__))
#define curl_url_set(...)        (vpsctl_curl()->url_set(__VA_ARGS__))
#endif
