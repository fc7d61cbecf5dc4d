/* libvpsfleet: one HTTPS request from a node's vpsd to another node's remote API
 * (create --node). The peer is not checked against any authority: its key is pinned to the
 * one it published in etcd (sha256//BASE64 of its public key), and this node presents its
 * own remote-API certificate as the client's, which the peer finds among the fingerprints
 * the nodes published in etcd. Blocking: vpsd calls it from a thread of its own. */
#pragma once

#include "vps/error.h"

#include <stdbool.h>
#include <stddef.h>

struct fleet_peer_call {
        const char *url;  /* the peer's advertise URL, "https://ADDR:PORT" */
        const char *pin;  /* "sha256//BASE64" of its public key, from etcd */
        const char *cert; /* this node's certificate and key files (PEM) */
        const char *key;
        const char *method;        /* "POST" */
        const char *path;          /* "/v1/vps" */
        const char *body;          /* JSON, or NULL */
        unsigned int timeout;      /* seconds, the whole request */
        const volatile bool *stop; /* ends the request early when it turns true */
};

/* 0, the peer's HTTP status and body (malloc'd, NUL-terminated), or a negative errno:
 * EHOSTUNREACH when it cannot be reached, EPERM when its key is not the pinned one. */
int fleet_peer_request(const struct fleet_peer_call *c, long *ret_status, char **ret_body,
                       vps_error *err);
