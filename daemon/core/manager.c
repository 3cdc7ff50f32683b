/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "manager.h"

#define STATUS_INTERVAL_USEC (5 * USEC_PER_SEC)

struct Manager {
        Config config;
        char *config_path;

        sd_event *event;
        sd_bus *bus;

        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;
        sd_event_source *status_timer;

        char last_status[256];
};

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        sd_event_source_disable_unref(m->status_timer);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        config_done(&m->config);
        free(m->config_path);
        free(m);
        return NULL;
}

static void manager_update_status(Manager *m) {
        char status[256];

        (void) snprintf(status, sizeof(status), "%zu wearer(s) configured, waiting for insoles", m->config.n_wearers);
        if (streq(status, m->last_status))
                return;
        (void) snprintf(m->last_status, sizeof(m->last_status), "%s", status);
        (void) sd_notifyf(false, "STATUS=%s", status);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_update_status(m);
        return sd_event_source_set_time(s, usec + STATUS_INTERVAL_USEC);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        return sd_event_exit(m->event, 0);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        char error[CONFIG_ERROR_MAX];
        Config next;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = config_load(m->config_path, &next, error, sizeof(error));
        if (r < 0) {
                log_warning("Reload failed, keeping the running configuration: %s", error);
                (void) sd_notify(false, "READY=1");
                return 0;
        }
        r = config_apply_reload(&m->config, &next, error, sizeof(error));
        if (r < 0)
                log_warning("Reloaded what can change at run time; %s", error);
        else
                log_info("Configuration reloaded.");
        config_done(&next);
        (void) sd_notify(false, "READY=1");
        return 0;
}

int manager_new(Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config = *config;
        /* The Manager owns the strings now. */
        *config = (Config) {};
        if (m->config.path) {
                m->config_path = strdup(m->config.path);
                if (!m->config_path)
                        return -ENOMEM;
        }

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_terminate, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_terminate, m);
        if (r < 0)
                return r;
        r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload, m);
        if (r < 0)
                return r;
        /* Pings the service manager from the loop, so a stuck loop gets us restarted. */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

int manager_start(Manager *m) {
        int r;

        /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS, which the tests and the demo use
         * to point us at a private bus with the simulator. */
        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        r = sd_event_add_time_relative(m->event, &m->status_timer, CLOCK_MONOTONIC, 0, USEC_PER_SEC,
                                       on_status_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the status timer: %m");

        (void) sd_notify(false, "READY=1");
        log_info("insole2mqtt %s started: %zu wearer(s), broker %s:%u.", INSOLE2MQTT_VERSION,
                 m->config.n_wearers, m->config.host ? m->config.host : "(none)", m->config.port);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return r;
}
