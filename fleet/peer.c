/* libvpsfleet: a node's request to another node's remote API, pinned (peer.h). */
#include "fleet/peer.h"

#include "vps/cleanup.h"

#include "curl_socket.h"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#define PEER_BODY_MAX (4u << 20)

struct buf {
        char *p;
        size_t n;
        bool too_big;
        const volatile bool *stop;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct buf *b = userdata;
        size_t n = size * nmemb;
        if (b->n + n > PEER_BODY_MAX) {
                b->too_big = true;
                return 0;
        }
        char *q = realloc(b->p, b->n + n + 1);
        if (!q)
                return 0;
        memcpy(q + b->n, data, n);
        b->p = q;
        b->n += n;
        q[b->n] = '\0';
        return n;
}

static int on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
        const struct buf *b = userdata;
        return b->stop && *b->stop;
}

static void easy_free(CURL **h)
{
        if (*h)
                curl_easy_cleanup(*h);
}

static void slist_free(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

int fleet_peer_request(const struct fleet_peer_call *c, long *ret_status, char **ret_body,
                       vps_error *err)
{
        *ret_body = NULL;
        if (strncmp(c->url, "https://", 8) != 0 || strncmp(c->pin, "sha256//", 8) != 0)
                return vps_err(err, EINVAL, "a peer needs an https:// URL and a pinned key");
        char url[600], cerr[CURL_ERROR_SIZE] = "";
        if ((size_t)snprintf(url, sizeof(url), "%s%s", c->url, c->path) >= sizeof(url))
                return vps_err(err, ENAMETOOLONG, "peer URL too long");
        _cleanup_(easy_free) CURL *h = curl_easy_init();
        _cleanup_(slist_free) struct curl_slist *hdr =
                curl_slist_append(NULL, "Content-Type: application/json");
        if (!h || !hdr)
                return vps_err(err, ENOMEM, "out of memory");
        struct buf b = {.stop = c->stop};
        (void)curl_easy_setopt(h, CURLOPT_URL, url);
        (void)curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
        (void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        if (c->body)
                (void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        (void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        (void)curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        (void)curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        (void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        (void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        (void)curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        (void)curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, fleet_curl_cloexec);
        (void)curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        (void)curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        (void)curl_easy_setopt(h, CURLOPT_XFERINFODATA, &b);
        (void)curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        (void)curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)(c->timeout ? c->timeout : 300));
        /* No authority: the key etcd says the node has, nothing else (checked in the
         * handshake, before the request is sent). */
        (void)curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        (void)curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        (void)curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
        /* No CA store to load either (GnuTLS reads the system's bundle otherwise). */
        (void)curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
        (void)curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        (void)curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        (void)curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
        (void)curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        (void)curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
        CURLcode cr = curl_easy_perform(h);
        if (cr == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
                free(b.p);
                return vps_err(err, EPERM, "%s: its key is not the one it published in etcd",
                               c->url);
        }
        if (cr != CURLE_OK) {
                free(b.p);
                if (b.too_big)
                        return vps_err(err, EMSGSIZE, "%s: answer over %u bytes", c->url,
                                       PEER_BODY_MAX);
                return vps_err(err, cr == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : EHOSTUNREACH,
                               "%s: %s", c->url, cerr[0] ? cerr : curl_easy_strerror(cr));
        }
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
        *ret_body = b.p;
        return 0;
}
