/* libFuzzer target: the browser console's WebSocket parser (vpsd/websocket.c). The input's
 * first byte picks a chunk size; the rest is a client's byte stream, fed to the reassembly
 * whole and in chunks of that size. Checked: both feeds pass on the same messages and end
 * with the same error; no message is over the cap, no control frame over 125 bytes, no text
 * message other than UTF-8, nothing after a close. The same bytes go to the header parser
 * (a header's size within what it was given, an encoded header read back the same) and, as
 * text, to the subprotocol parser. */
#include "websocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_text.h"

struct log {
        unsigned char hash[32]; /* of the messages, in order */
        size_t n;
        bool closed;
};

static void die(const char *what)
{
        fprintf(stderr, "fuzz_ws: %s\n", what);
        abort();
}

static int on_msg(void *ctx, uint8_t op, const uint8_t *data, size_t len)
{
        struct log *l = ctx;
        if (l->closed)
                die("a message after a close");
        if (len > VPSD_WS_MSG_MAX)
                die("a message over the cap");
        if ((op & 0x8) && len > 125)
                die("a control frame over 125 bytes");
        if (op == VPSD_WS_TEXT && !vpsd_ws_utf8_ok(data, len))
                die("a text message that is not UTF-8");
        if (op != VPSD_WS_TEXT && op != VPSD_WS_BINARY && op != VPSD_WS_CLOSE &&
            op != VPSD_WS_PING && op != VPSD_WS_PONG)
                die("a message with another opcode");
        l->closed = op == VPSD_WS_CLOSE;
        /* A running digest of what was passed on (FNV-1a over opcode, length and bytes). */
        uint64_t h = 14695981039346656037ull;
        memcpy(&h, l->hash, sizeof(h));
        h = (h ^ op) * 1099511628211ull;
        h = (h ^ len) * 1099511628211ull;
        for (size_t i = 0; i < len; i++)
                h = (h ^ data[i]) * 1099511628211ull;
        memcpy(l->hash, &h, sizeof(h));
        l->n++;
        return 0;
}

static int run(const uint8_t *data, size_t size, size_t chunk, struct log *l)
{
        struct vpsd_ws_rx rx = {0};
        vps_error err;
        int r = 0;
        memset(l, 0, sizeof(*l));
        for (size_t off = 0; off < size && r == 0; off += chunk) {
                size_t n = size - off < chunk ? size - off : chunk;
                r = vpsd_ws_rx_feed(&rx, data + off, n, on_msg, l, &err);
        }
        if (r < 0 && vpsd_ws_close_code(-r) < 1000)
                die("an error without a close code");
        vpsd_ws_rx_free(&rx);
        return r;
}

static void headers(const uint8_t *data, size_t size)
{
        struct vpsd_ws_frame f;
        vps_error err;
        for (int mask = 0; mask < 2; mask++) {
                ssize_t h = vpsd_ws_frame_parse(data, size, mask, VPSD_WS_MSG_MAX, &f, &err);
                if (h > 0 &&
                    ((size_t)h > size || h > VPSD_WS_HEADER_MAX || f.len > VPSD_WS_MSG_MAX))
                        die("a header parsed past its bounds");
                if (h <= 0 || mask)
                        continue;
                uint8_t out[VPSD_WS_HEADER_MAX];
                struct vpsd_ws_frame g;
                size_t n = vpsd_ws_frame_header(out, f.opcode, f.fin, f.len);
                if (f.masked) /* the server's frames are never masked */
                        continue;
                if (vpsd_ws_frame_parse(out, n, false, VPSD_WS_MSG_MAX, &g, &err) != h ||
                    g.len != f.len || g.opcode != f.opcode || g.fin != f.fin)
                        die("an encoded header reads back otherwise");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        size_t chunk = data[0] % 16 + 1;
        data++;
        size--;
        struct log whole, parts;
        int a = run(data, size, size ? size : 1, &whole);
        int b = run(data, size, chunk, &parts);
        /* In chunks a stream may stop at an error the whole one reached too; the messages up to
         * it are the same. */
        if (a != b || whole.n != parts.n || memcmp(whole.hash, parts.hash, sizeof(whole.hash)))
                die("fed whole and in chunks, the stream reads otherwise");
        headers(data, size);
        char *text = fuzz_text(data, size), tok[128];
        bool console;
        vps_error err;
        if (text && vpsd_ws_protocols(text, &console, tok, sizeof(tok), &err) == 0 &&
            strlen(tok) >= sizeof(tok))
                die("a token past its buffer");
        if (text)
                (void)vpsd_ws_origin_ok(text, "127.0.0.1:8443", true);
        free(text);
        return 0;
}
