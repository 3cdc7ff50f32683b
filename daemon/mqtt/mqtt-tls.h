/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct mosquitto;

/* A literal IPv4 or IPv6 address (no name to resolve, and an IP to check the certificate against). */
bool mqtt_host_is_numeric(const char *host);

/* TLS with verification on: CA file or directory (default /etc/ssl/certs), client certificate and
 * key (loaded once here, so that a wrong file names its configuration key instead of failing every
 * connection), and the server's name (tls_server_name, else host) checked by OpenSSL and sent as
 * SNI. verify_name receives that name and must outlive mosq (OpenSSL keeps a pointer to it). Logs
 * its failures; returns 0 or -errno. */
int mqtt_tls_setup(struct mosquitto *mosq, const Config *cfg, char *verify_name, size_t size);
