/* The VPS console: a pty whose master vpsd keeps and whose slave is the init's stdio. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vps/error.h"

/* Opens a pty pair on the host; the slave is owned by the VPS's root (uid) and tty group. */
int vps_console_open(uint32_t uid_base, int *ret_master, int *ret_slave, vps_error *err);

/* Appends data to dir_fd/console.log, rotating to console.log.1 past max_bytes. */
int vps_console_log(int dir_fd, const void *data, size_t len, size_t max_bytes, vps_error *err);
