/* SPDX-License-Identifier: MIT */
#pragma once

/* What the Prometheus endpoint exposes, read from where the Manager already holds it: the wearers'
 * gait engines and day counters, the BlueZ client's link statistics, the MQTT client's counters.
 * Label values are configured names (gateway id, wearer names) and fixed words of our own (foot,
 * window, activity, ...), never anything a device sent. docs/prometheus.md lists every metric. */

#include "bluez.h"
#include "config.h"
#include "mqtt.h"
#include "prometheus.h"
#include "wearer.h"

typedef struct GatewayMetricsSources {
        const Config *config;
        Wearer *const *wearers;
        size_t n_wearers;
        BluezClient *bluez;                      /* may be NULL before start */
        const MqttClient *mqtt;
        uint64_t now_usec;                       /* CLOCK_MONOTONIC */
        uint64_t start_usec;
        uint64_t notifications;
        const PrometheusServer *server;
} GatewayMetricsSources;

/* Writes every metric family. Does not allocate (beyond the writer's buffer). */
int gateway_metrics_collect(const GatewayMetricsSources *src, PromWriter *w);
