/* libvpsfleet: base64 (RFC 4648, padded), the form etcd's JSON gateway gives bytes in. */
#include "fleet/etcd.h"

#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64(const void *data, size_t len)
{
        const unsigned char *p = data;
        char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                unsigned int v = (unsigned int)p[i] << 16;
                if (i + 1 < len)
                        v |= (unsigned int)p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                *o++ = alphabet[(v >> 18) & 63];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
                *o++ = i + 2 < len ? alphabet[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

static int value_of(char c)
{
        const char *at = c ? strchr(alphabet, c) : NULL;
        return at ? (int)(at - alphabet) : -1;
}

char *etcd_unb64(const char *text, size_t *ret_len)
{
        size_t n = strlen(text);
        if (n % 4)
                return NULL;
        char *out = malloc(n / 4 * 3 + 1);
        size_t k = 0;
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 4) {
                int v[4];
                for (int j = 0; j < 4; j++) {
                        bool pad = text[i + j] == '=' && i + 4 == n && j >= 2;
                        v[j] = pad ? 0 : value_of(text[i + j]);
                        if (v[j] < 0 || (j == 3 && text[i + 2] == '=' && text[i + 3] != '=')) {
                                free(out);
                                return NULL;
                        }
                }
                unsigned int w = (unsigned int)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
                out[k++] = (char)(w >> 16);
                if (text[i + 2] != '=')
                        out[k++] = (char)(w >> 8 & 255);
                if (text[i + 3] != '=')
                        out[k++] = (char)(w & 255);
        }
        out[k] = '\0';
        if (ret_len)
                *ret_len = k;
        return out;
}
