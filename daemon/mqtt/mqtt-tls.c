/* SPDX-License-Identifier: MIT */

/* TLS for the broker connection, set up once on a libmosquitto handle before it connects. It knows
 * nothing of MqttClient: mqtt-client.c calls it, never the other way round. */

#include <arpa/inet.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "log.h"
#include "mqtt-tls.h"
#include "mqtt.h"

#define MQTT_DEFAULT_CA_PATH "/etc/ssl/certs"

bool mqtt_host_is_numeric(const char *host) {
        unsigned char buf[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static void tls_info_callback(const SSL *ssl, int where, int ret) {
        const char *name;

        /* libmosquitto sets SNI to the address it connects to (here a numeric one, resolved by us);
         * replace it with the configured name before the ClientHello is built. */
        if (!(where & SSL_CB_HANDSHAKE_START))
                return;
        name = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
        if (name)
                (void) SSL_set_tlsext_host_name((SSL *) ssl, name);
}

static int refuse_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1; /* an encrypted key would need someone at a terminal */
}

static const char *openssl_reason(void) {
        const char *reason = ERR_reason_error_string(ERR_peek_last_error());
        return reason ?: "unreadable";
}

/* libmosquitto reads the files only when it connects, so a file that is not what its key says would
 * show up as failed connections, again and again. Loading them once here names the key instead. */
static int tls_check_files(const Config *cfg) {
        SSL_CTX *ctx;
        int r = 0;

        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
                return log_oom();
        SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
        ERR_clear_error();
        if (cfg->tls_ca_file && SSL_CTX_load_verify_locations(ctx, cfg->tls_ca_file, NULL) != 1)
                r = config_log_key(cfg, LOG_ERR, EBADMSG, &cfg->tls_ca_file,
                                   "found '%s', expected CA certificates in PEM (%s)", cfg->tls_ca_file, openssl_reason());
        else if (cfg->tls_cert_file && SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1)
                r = config_log_key(cfg, LOG_ERR, EBADMSG, &cfg->tls_cert_file,
                                   "found '%s', expected a certificate in PEM (%s)", cfg->tls_cert_file, openssl_reason());
        else if (cfg->tls_key_file && SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1)
                r = config_log_key(cfg, LOG_ERR, EBADMSG, &cfg->tls_key_file,
                                   "found '%s', expected a private key in PEM without a passphrase (%s)", cfg->tls_key_file,
                                   openssl_reason());
        else if (cfg->tls_key_file && SSL_CTX_check_private_key(ctx) != 1)
                r = config_log_key(cfg, LOG_ERR, EBADMSG, &cfg->tls_key_file,
                                   "found '%s', expected the private key of cert-file (%s)", cfg->tls_key_file,
                                   openssl_reason());
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return r;
}

int mqtt_tls_setup(struct mosquitto *mosq, const Config *cfg, char *verify_name, size_t size) {
        const char *ca_path = cfg->tls_ca_path;
        X509_VERIFY_PARAM *param;
        SSL_CTX *ctx;
        int r, rc;

        (void) snprintf(verify_name, size, "%s",
                        cfg->tls_server_name && cfg->tls_server_name[0] ? cfg->tls_server_name : cfg->host);

        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
                return log_error_errno(ENOMEM, "MQTT: cannot create a TLS context.");
        /* OpenSSL checks the name during chain verification (RFC 6125 matching, no partial
         * wildcards). We connect to a numeric address we resolved ourselves, which is what
         * libmosquitto would compare against, so its own check is switched off below with
         * mosquitto_tls_insecure_set(): verification itself stays on. */
        param = SSL_CTX_get0_param(ctx);
        if (mqtt_host_is_numeric(verify_name))
                rc = X509_VERIFY_PARAM_set1_ip_asc(param, verify_name);
        else {
                X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                rc = X509_VERIFY_PARAM_set1_host(param, verify_name, 0);
                SSL_CTX_set_app_data(ctx, verify_name);
                SSL_CTX_set_info_callback(ctx, tls_info_callback);
        }
        if (rc != 1) {
                SSL_CTX_free(ctx);
                return config_log_key(cfg, LOG_ERR, EINVAL, cfg->tls_server_name ? (const void *) &cfg->tls_server_name : &cfg->host,
                                      "found '%s', expected a name or address to check the broker's certificate against",
                                      verify_name);
        }
        rc = mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, ctx);
        SSL_CTX_free(ctx); /* libmosquitto holds its own reference */
        if (rc != MOSQ_ERR_SUCCESS)
                return log_error_errno(mqtt_errno_from_mosq(rc), "MQTT: TLS not available: %s", mosquitto_strerror(rc));
        (void) mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 1);

        if (!cfg->tls_ca_file && !ca_path)
                ca_path = MQTT_DEFAULT_CA_PATH;
        r = tls_check_files(cfg);
        if (r < 0)
                return r;
        rc = mosquitto_tls_set(mosq, cfg->tls_ca_file, ca_path, cfg->tls_cert_file, cfg->tls_key_file, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
                return log_error_errno(mqtt_errno_from_mosq(rc), "MQTT: TLS configuration refused: %s",
                                       mosquitto_strerror(rc));
        rc = mosquitto_tls_opts_set(mosq, 1 /* SSL_VERIFY_PEER */, NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_tls_insecure_set(mosq, true);
        if (rc != MOSQ_ERR_SUCCESS)
                return log_error_errno(mqtt_errno_from_mosq(rc), "MQTT: TLS options refused: %s", mosquitto_strerror(rc));
        return 0;
}

