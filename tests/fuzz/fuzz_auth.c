/* libFuzzer target: the remote API's gatekeeping (vpsd/auth.c, authz.c). The input's first
 * line is an Authorization header (the Bearer parser, then the token store's check against
 * one known token), the second a request line "METHOD URL", the rest its body; the request is
 * authorized for a token of VPS 101 with every customer verb. Checked: a parsed token has the
 * form it must, only the known token authenticates, and no token ever reaches an admin route
 * or another VPS. */
#include "auth.h"
#include "authz.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_text.h"

static const char known[] = "vpst-0123456789abcdef-"
                            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static struct vpsd_auth store;

/* One token in the store, as vpsd_token_create keeps it: its ID and the SHA-256 of the whole. */
static void init_store(void)
{
        if (store.tokens)
                return;
        unsigned char h[32];
        char hex[65];
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, known, strlen(known), h) < 0)
                abort();
        for (size_t i = 0; i < sizeof(h); i++)
                (void)sprintf(hex + 2 * i, "%02x", h[i]);
        store.trust = json_array();
        store.tokens = json_pack("[{s:s, s:s, s:s, s:[s], s:[s], s:i, s:i}]", "id",
                                 "0123456789abcdef", "name", "k", "hash", hex, "vps", "101",
                                 "allow", "status", "created", 0, "expires", 0);
        if (!store.tokens)
                abort();
}

static void die(const char *what)
{
        fprintf(stderr, "fuzz_auth: %s\n", what);
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        init_store();
        char *text = fuzz_text(data, size);
        if (!text)
                return 0;
        char *line2 = strchr(text, '\n');
        if (line2)
                *line2++ = '\0';
        char id[VPSD_TOKEN_ID_LEN + 1], tok[VPSD_TOKEN_LEN + 1];
        if (vpsd_auth_parse_bearer(text, id, tok) == 0) {
                if (strlen(id) != VPSD_TOKEN_ID_LEN || strlen(tok) != VPSD_TOKEN_LEN ||
                    strncmp(tok, "vpst-", 5) != 0 || strncmp(tok + 5, id, VPSD_TOKEN_ID_LEN) != 0)
                        die("a parsed token has the wrong form");
        }
        struct vpsd_client c;
        vps_error err;
        if (vpsd_auth_token(&store, text, 1000, &c, &err) == 0 && !strstr(text, known))
                die("an unknown token authenticated");
        int64_t secs;
        (void)vpsd_duration_parse(text, &secs, &err);

        if (line2) {
                char *body = strchr(line2, '\n');
                if (body)
                        *body++ = '\0';
                char *url = strchr(line2, ' ');
                if (url) {
                        *url++ = '\0';
                        memset(&c, 0, sizeof(c));
                        c.kind = VPSD_CLIENT_TOKEN;
                        c.allow = VPSD_TOKEN_VERBS;
                        c.n_vps = 1;
                        strcpy(c.vps[0], "101");
                        struct vpsd_authz z;
                        unsigned int st = 0;
                        size_t blen = body ? strlen(body) : 0;
                        if (vpsd_authorize(&c, line2, url, body ? body : "", blen, &z, &st, &err) ==
                            0) {
                                if (z.verb == VPSD_VERB_ADMIN)
                                        die("a token reached an admin route");
                                if (z.vps[0] && strcmp(z.vps, "101") != 0)
                                        die("a token reached another VPS");
                        }
                }
        }
        free(text);
        return 0;
}
