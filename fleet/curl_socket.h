/* fleet: what its libcurl handles share. */
#pragma once

#include <curl/curl.h>

/* CURLOPT_SOCKOPTFUNCTION: the connection's socket close-on-exec, so no child of vpsd (a
 * job, a template build) inherits a connection to etcd or to another node. */
int fleet_curl_cloexec(void *userdata, curl_socket_t fd, curlsocktype purpose);
