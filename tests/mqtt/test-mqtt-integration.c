/* SPDX-License-Identifier: MIT */

/* MqttClient against a real mosquitto broker started by the test on a free loopback port, with a
 * persistent libmosquitto subscriber (clean session false, QoS 1) asserting what arrives:
 *   - plain: topics and payloads (checked against docs/schema), birth/last will, discovery,
 *     re-announce on homeassistant/status "online";
 *   - the broker stopped and restarted mid-stream: no QoS 1 message lost, none duplicated;
 *   - TLS with verification (certificates made with openssl at test time), server-name override,
 *     and a wrong CA / wrong name refused;
 *   - multi-gateway: a second gateway fetching the retained step counters. */

#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "json-parse.h"
#include "mqtt.h"
#include "schema-check.h"

/* ---------------------------------------------------------------- broker */

typedef struct Broker {
        char dir[64];
        uint16_t port;
        pid_t pid;
        bool tls;
        bool auth; /* client certificate and user name/password required */
} Broker;

static uint16_t free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        close(fd);
        return ntohs(a.sin_port);
}

static void run(const char *fmt, ...) _printf_(1, 2);
static void run(const char *fmt, ...) {
        char cmd[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(cmd, sizeof cmd, fmt, ap);
        va_end(ap);
        if (system(cmd) != 0)
                fail_msg("command failed: %s", cmd);
}

static void make_certs(const char *dir) {
        const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

        run("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 -subj /CN=i2m-test-ca 2>/dev/null", dir, ec);
        run("cd %s && openssl req -x509 %s -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=i2m-other-ca 2>/dev/null",
            dir, ec);
        run("cd %s && openssl req %s -keyout server.key -out server.csr -subj /CN=broker.test 2>/dev/null", dir, ec);
        run("cd %s && printf 'subjectAltName=DNS:broker.test,IP:127.0.0.1\\n' > ext.cnf", dir);
        run("cd %s && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
            "-days 2 -extfile ext.cnf 2>/dev/null", dir);
        run("cd %s && openssl req %s -keyout client.key -out client.csr -subj /CN=gateway 2>/dev/null", dir, ec);
        run("cd %s && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt "
            "-days 2 2>/dev/null", dir);
        run("chmod 644 %s/server.key", dir);
}

static void broker_write_config(Broker *b) {
        char in_path[4096], out_path[256], line[512];
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        FILE *in, *out;

        assert_non_null(root);
        snprintf(in_path, sizeof in_path, "%s/tests/mqtt/mosquitto-test.conf.in", root);
        snprintf(out_path, sizeof out_path, "%s/mosquitto.conf", b->dir);
        in = fopen(in_path, "re");
        assert_non_null(in);
        out = fopen(out_path, "we");
        assert_non_null(out);
        while (fgets(line, sizeof line, in)) {
                char *p;
                char buf[1024];
                if ((p = strstr(line, "@PORT@"))) {
                        *p = 0;
                        snprintf(buf, sizeof buf, "%s%u%s", line, b->port, p + 6);
                        strcpy(line, buf);
                }
                while ((p = strstr(line, "@DIR@"))) {
                        *p = 0;
                        snprintf(buf, sizeof buf, "%s%s%s", line, b->dir, p + 5);
                        strcpy(line, buf);
                }
                fputs(line, out);
        }
        if (b->tls)
                fprintf(out, "cafile %s/ca.crt\ncertfile %s/server.crt\nkeyfile %s/server.key\n", b->dir, b->dir, b->dir);
        if (b->auth) {
                run("mosquitto_passwd -b -c %s/passwd gateway s3cret-pass >/dev/null 2>&1", b->dir);
                run("chmod 644 %s/passwd", b->dir);
                fprintf(out, "require_certificate true\nallow_anonymous false\npassword_file %s/passwd\n", b->dir);
        }
        fclose(in);
        fclose(out);
}

static bool port_open(uint16_t port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool ok = connect(fd, (struct sockaddr *) &a, sizeof a) == 0;
        close(fd);
        return ok;
}

/* Brokers still running when a test fails (cmocka jumps out of the test, its Broker is gone with
 * the stack frame): the teardown stops them from this copy. PR_SET_PDEATHSIG alone is not enough,
 * mosquitto drops privileges and that clears it. */
typedef struct LiveBroker {
        pid_t pid;
        char dir[64];
} LiveBroker;
static LiveBroker live_brokers[4];

static void broker_register(const Broker *b, bool live) {
        for (size_t i = 0; i < ELEMENTSOF(live_brokers); i++)
                if (live ? live_brokers[i].pid == 0 : live_brokers[i].pid == b->pid) {
                        live_brokers[i].pid = live ? b->pid : 0;
                        snprintf(live_brokers[i].dir, sizeof live_brokers[i].dir, "%s", b->dir);
                        return;
                }
}

static void broker_start(Broker *b) {
        char conf[256];

        snprintf(conf, sizeof conf, "%s/mosquitto.conf", b->dir);
        b->pid = fork();
        assert_true(b->pid >= 0);
        if (b->pid == 0) {
                /* die with the test, and do not hold its stdout open (a pipe to a TAP reader) */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (null >= 0) {
                        (void) dup2(null, STDIN_FILENO);
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                execlp("mosquitto", "mosquitto", "-c", conf, (char *) NULL);
                _exit(127);
        }
        broker_register(b, true);
        for (int i = 0; i < 250; i++) {
                if (port_open(b->port))
                        return;
                usleep(20000);
        }
        fail_msg("mosquitto did not start on port %u", b->port);
}

static void broker_stop(Broker *b) {
        int status;

        if (b->pid <= 0)
                return;
        broker_register(b, false);
        kill(b->pid, SIGTERM);
        for (int i = 0; i < 250; i++) {
                if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
                        b->pid = 0;
                        return;
                }
                usleep(20000);
        }
        kill(b->pid, SIGKILL);
        (void) waitpid(b->pid, &status, 0);
        b->pid = 0;
}

static void broker_init_full(Broker *b, bool tls, bool auth) {
        memset(b, 0, sizeof *b);
        b->auth = auth;
        strcpy(b->dir, "/tmp/i2m-mqtt-test-XXXXXX");
        assert_non_null(mkdtemp(b->dir));
        chmod(b->dir, 0755);
        /* mosquitto started as root drops to its own user: let it write its database and log */
        if (geteuid() == 0) {
                struct passwd *pw = getpwnam("mosquitto");
                if (pw)
                        assert_int_equal(chown(b->dir, pw->pw_uid, pw->pw_gid), 0);
        }
        b->tls = tls;
        b->port = free_port();
        if (tls)
                make_certs(b->dir);
        broker_write_config(b);
        broker_start(b);
}

static void broker_init(Broker *b, bool tls) {
        broker_init_full(b, tls, false);
}

static void broker_done(Broker *b) {
        broker_stop(b);
        run("rm -rf %s", b->dir);
}

/* ---------------------------------------------------------------- subscriber */

typedef struct Received {
        char *topic;
        char *payload;
        bool retain;
} Received;

typedef struct Subscriber {
        struct mosquitto *mosq;
        pthread_mutex_t lock;
        Received msgs[4096];
        size_t n;
        bool connected;
        const char *filters[4];
} Subscriber;

static void sub_on_connect(struct mosquitto *m, void *ud, int rc) {
        Subscriber *s = ud;
        if (rc != 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(s->filters) && s->filters[i]; i++)
                mosquitto_subscribe(m, NULL, s->filters[i], 1);
        pthread_mutex_lock(&s->lock);
        s->connected = true;
        pthread_mutex_unlock(&s->lock);
}

static void sub_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
        Subscriber *s = ud;

        pthread_mutex_lock(&s->lock);
        if (s->n < ELEMENTSOF(s->msgs)) {
                s->msgs[s->n].topic = strdup(msg->topic);
                s->msgs[s->n].payload = strndup(msg->payload ?: "", (size_t) msg->payloadlen);
                s->msgs[s->n].retain = msg->retain;
                s->n++;
        }
        pthread_mutex_unlock(&s->lock);
}

static void subscriber_start(Subscriber *s, const Broker *b, const char *id, const char *filter1, const char *filter2) {
        memset(s, 0, sizeof *s);
        pthread_mutex_init(&s->lock, NULL);
        s->filters[0] = filter1;
        s->filters[1] = filter2;
        s->mosq = mosquitto_new(id, false, s); /* persistent session */
        assert_non_null(s->mosq);
        if (b->tls) {
                char ca[128];
                snprintf(ca, sizeof ca, "%s/ca.crt", b->dir);
                assert_int_equal(mosquitto_tls_set(s->mosq, ca, NULL, NULL, NULL, NULL), MOSQ_ERR_SUCCESS);
        }
        mosquitto_connect_callback_set(s->mosq, sub_on_connect);
        mosquitto_message_callback_set(s->mosq, sub_on_message);
        mosquitto_reconnect_delay_set(s->mosq, 1, 1, false);
        assert_int_equal(mosquitto_connect(s->mosq, "127.0.0.1", b->port, 10), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_loop_start(s->mosq), MOSQ_ERR_SUCCESS);
        for (int i = 0; i < 250; i++) {
                bool ok;
                pthread_mutex_lock(&s->lock);
                ok = s->connected;
                pthread_mutex_unlock(&s->lock);
                if (ok)
                        break;
                usleep(20000);
        }
        usleep(100000); /* the SUBACK */
}

static void subscriber_stop(Subscriber *s) {
        mosquitto_disconnect(s->mosq);
        mosquitto_loop_stop(s->mosq, true);
        mosquitto_destroy(s->mosq);
        for (size_t i = 0; i < s->n; i++) {
                free(s->msgs[i].topic);
                free(s->msgs[i].payload);
        }
        pthread_mutex_destroy(&s->lock);
}

static size_t subscriber_count(Subscriber *s, const char *topic, const char *payload_part) {
        size_t n = 0;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->msgs[i].topic, topic) && (!payload_part || strstr(s->msgs[i].payload, payload_part)))
                        n++;
        pthread_mutex_unlock(&s->lock);
        return n;
}

/* Copy of the last payload on topic, or NULL. */
static char *subscriber_last(Subscriber *s, const char *topic) {
        char *p = NULL;

        pthread_mutex_lock(&s->lock);
        for (size_t i = s->n; i > 0; i--)
                if (streq(s->msgs[i - 1].topic, topic)) {
                        p = strdup(s->msgs[i - 1].payload);
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        return p;
}

/* ---------------------------------------------------------------- helpers */

static void make_config(Config *c, const Broker *b, const char *gateway) {
        memset(c, 0, sizeof *c);
        c->host = (char *) "127.0.0.1";
        c->port = b->port;
        c->protocol_version = 311;
        c->keepalive_sec = 10;
        c->qos = 1;
        c->outbox_max = 5000;
        snprintf(c->gateway_id, sizeof c->gateway_id, "%s", gateway);
        strcpy(c->base_topic, "insole");
        strcpy(c->homeassistant_prefix, "homeassistant");
        c->homeassistant = true;
        c->n_wearers = 1;
        strcpy(c->wearers[0].name, "anna");
        c->wearers[0].has_device[DEVICE_ROLE_LEFT] = true;
        c->wearers[0].has_device[DEVICE_ROLE_RIGHT] = true;
}

static uint64_t now_mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t now_real(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

typedef bool (*Condition)(void *userdata);

/* Runs the loop until cond() or the timeout; returns cond()'s last value. */
static bool run_until(sd_event *e, uint64_t timeout_usec, Condition cond, void *userdata) {
        uint64_t end = now_mono() + timeout_usec;

        while (now_mono() < end) {
                if (cond(userdata))
                        return true;
                assert_true(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
        }
        return cond(userdata);
}

static bool cond_connected(void *userdata) {
        return mqtt_client_is_connected(userdata);
}

static bool cond_outbox_empty(void *userdata) {
        MqttClientStats st;
        mqtt_client_get_stats(userdata, &st);
        return st.connected && st.outbox_depth == 0;
}

typedef struct CountWait {
        Subscriber *s;
        const char *topic;
        const char *part;
        size_t want;
} CountWait;

static bool cond_count(void *userdata) {
        CountWait *w = userdata;
        return subscriber_count(w->s, w->topic, w->part) >= w->want;
}

static void sleep_loop(sd_event *e, uint64_t usec) {
        uint64_t end = now_mono() + usec;
        while (now_mono() < end)
                assert_true(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
}

/* How often the loop wakes up in `usec` while nothing is published: EPOLLOUT must be off while
 * libmosquitto has nothing to write, or the loop would spin. */
static unsigned idle_wakeups(sd_event *e, uint64_t usec) {
        uint64_t end = now_mono() + usec;
        unsigned n = 0;

        while (now_mono() < end) {
                int r = sd_event_run(e, 50 * USEC_PER_MSEC);
                assert_true(r >= 0);
                n += r > 0;
        }
        return n;
}

/* The daemon's one publish path: begin (topic, timestamp, seq), the builder appends, queue. */
static int publish_steps(MqttClient *c, const char *wearer, const MqttSteps *steps) {
        MqttMessage m;
        return mqtt_message_queue(&m, mqtt_payload_steps(mqtt_message_begin(&m, c, MQTT_MESSAGE_STEPS, wearer,
                                                                            _DEVICE_ROLE_INVALID, now_real(), NULL, 0),
                                                         steps));
}

/* A gait-like payload: {"timestamp":...,"seq":N,"cadence_spm":104.5,"stance_time_ms":612}, or
 * {...,"n":n} when n > 0, or the stamp alone when n < 0. */
static int publish_gait_like(MqttClient *c, const char *wearer, int n) {
        MqttMessage m;
        JsonWriter *w = mqtt_message_begin(&m, c, MQTT_MESSAGE_GAIT, wearer, _DEVICE_ROLE_INVALID, now_real(), NULL, 0);

        json_object_begin(w);
        if (n > 0)
                json_kv_uint(w, "n", (unsigned) n);
        else if (n == 0) {
                json_kv_double(w, "cadence_spm", 104.5, 1);
                json_kv_uint(w, "stance_time_ms", 612);
        }
        json_object_end(w);
        return mqtt_message_queue(&m, w->error);
}

static void assert_schema(const char *schema_name, const char *payload) {
        char err[512];

        if (schema_check(schema_name, payload, err, sizeof err) < 0)
                fail_msg("payload does not match %s: %s\n%s", schema_name, err, payload);
}

/* ---------------------------------------------------------------- tests */

static void test_plain_topics_and_reannounce(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *c = NULL;
        sd_event *e = NULL;
        Broker b;
        Subscriber s;
        Config cfg;
        MqttSteps steps = { .steps_today = 1234, .steps_total = 5678, .day = "2026-11-22" };
        CountWait w;
        char *p;
        size_t n_discovery;

        broker_init(&b, false);
        subscriber_start(&s, &b, "i2m-test-sub-plain", "insole/#", "homeassistant/#");
        assert_int_equal(sd_event_new(&e), 0);
        make_config(&cfg, &b, "gw1");
        cfg.host = (char *) "localhost"; /* resolved off the loop with getaddrinfo_a() */

        assert_int_equal(mqtt_client_new(e, &cfg, &c), 0);
        assert_int_equal(mqtt_client_start(c), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_connected, c));

        assert_int_equal(mqtt_publish_discovery(c, "0.1.0", NULL), 1 - 1); /* returns 0 */
        for (int i = 0; i < 2; i++) { /* the second time unchanged */
                MqttMessage m;
                assert_int_equal(mqtt_message_queue(&m, mqtt_payload_availability(mqtt_message_begin(&m, c, MQTT_MESSAGE_AVAILABILITY, "anna",
                                                                                                   _DEVICE_ROLE_INVALID, 0, NULL, 0),
                                                                                true, "gw1")),
                                 1 - i);
        }
        assert_int_equal(publish_steps(c, "anna", &steps), 1);
        {
                MqttMessage m;
                assert_int_equal(mqtt_message_queue(&m, mqtt_payload_activity(mqtt_message_begin(&m, c, MQTT_MESSAGE_ACTIVITY, "anna",
                                                                                               _DEVICE_ROLE_INVALID, now_real(), NULL, 0),
                                                                            ACTIVITY_WALKING, ACTIVITY_STANDING, 2 * USEC_PER_SEC)),
                                 1);
        }
        for (int i = 0; i < 20; i++)
                assert_int_equal(publish_gait_like(c, "anna", 0), 1);
        {
                MqttMessage m;
                assert_int_equal(mqtt_message_queue(&m, mqtt_payload_battery(mqtt_message_begin(&m, c, MQTT_MESSAGE_BATTERY, "anna",
                                                                                              DEVICE_ROLE_LEFT, now_real(), NULL, 0),
                                                                           DEVICE_ROLE_LEFT, 81)),
                                 1);
        }
        /* a hostile name never becomes a topic */
        assert_int_equal(publish_gait_like(c, "evil/#", -1), -EINVAL);
        assert_int_equal(publish_steps(c, "$SYS", &steps), -EINVAL);

        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_outbox_empty, c));
        w = (CountWait) { &s, "insole/anna/gait", NULL, 20 };
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_count, &w));
        /* published after the gait messages: wait for it too (the subscriber has its own thread) */
        w = (CountWait) { &s, "insole/anna/left/battery", NULL, 1 };
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_count, &w));

        assert_int_equal(subscriber_count(&s, "insole/bridge/gw1/state", "{\"state\":\"online\"}"), 1);
        assert_int_equal(subscriber_count(&s, "insole/anna/availability", "online"), 1);
        p = subscriber_last(&s, "insole/anna/steps");
        assert_non_null(p);
        assert_schema("steps", p);
        assert_non_null(strstr(p, "\"seq\":1,\"steps_today\":1234,\"steps_total\":5678"));
        free(p);
        p = subscriber_last(&s, "insole/anna/activity");
        assert_non_null(p);
        assert_schema("activity", p);
        free(p);
        p = subscriber_last(&s, "insole/anna/gait");
        assert_schema("gait", p);
        assert_non_null(strstr(p, "\"seq\":20,\"cadence_spm\":104.5"));
        free(p);
        p = subscriber_last(&s, "insole/anna/left/battery");
        assert_schema("battery", p);
        free(p);
        p = subscriber_last(&s, "homeassistant/sensor/anna/insole2mqtt_steps_today/config");
        assert_non_null(p);
        assert_schema("homeassistant-discovery", p);
        free(p);
        n_discovery = subscriber_count(&s, "homeassistant/sensor/anna/insole2mqtt_cadence/config", NULL);
        assert_int_equal(n_discovery, 1);
        /* discovery is not sent again when nothing changed */
        assert_int_equal(mqtt_publish_discovery(c, "0.1.0", NULL), 0);
        sleep_loop(e, 200 * USEC_PER_MSEC);
        assert_int_equal(subscriber_count(&s, "homeassistant/sensor/anna/insole2mqtt_cadence/config", NULL), 1);

        /* Home Assistant restarts: discovery, availability and states are announced again */
        assert_int_equal(mosquitto_publish(s.mosq, NULL, "homeassistant/status", 6, "online", 1, false), MOSQ_ERR_SUCCESS);
        w = (CountWait) { &s, "homeassistant/sensor/anna/insole2mqtt_cadence/config", NULL, 2 };
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_count, &w));
        w = (CountWait) { &s, "insole/anna/steps", NULL, 2 };
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_count, &w));
        /* The subscriber reads on its own thread: wait for each re-announced state, not just one. */
        w = (CountWait) { &s, "insole/anna/availability", "online", 2 };
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_count, &w));
        w = (CountWait) { &s, "insole/bridge/gw1/state", "online", 2 };
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_count, &w));
        assert_int_equal(subscriber_count(&s, "insole/anna/availability", "online"), 2);
        assert_int_equal(subscriber_count(&s, "insole/bridge/gw1/state", "online"), 2);
        /* events are not repeated */
        assert_int_equal(subscriber_count(&s, "insole/anna/gait", NULL), 20);

        /* health: real RSS and the transport counters */
        {
                MqttHealth h = { .uptime_usec = 5 * USEC_PER_SEC };
                CountWait hw = { &s, "insole/bridge/gw1/health", NULL, 1 };
                assert_int_equal(mqtt_read_rss_bytes(&h.memory_rss_bytes), 0);
                assert_true(h.memory_rss_bytes > 100000);
                mqtt_health_fill_transport(&h, c);
                assert_true(h.mqtt_published >= 20);
                MqttMessage m;
                JsonWriter *jw = mqtt_message_begin(&m, c, MQTT_MESSAGE_BRIDGE_HEALTH, NULL, _DEVICE_ROLE_INVALID,
                                                    now_real(), NULL, 0);
                assert_int_equal(mqtt_message_queue(&m, mqtt_payload_bridge_health(jw, &h)), 1);
                assert_true(run_until(e, 5 * USEC_PER_SEC, cond_count, &hw));
                p = subscriber_last(&s, "insole/bridge/gw1/health");
                assert_schema("bridge-health", p);
                free(p);
        }

        /* idle: the 1 s housekeeping timer, nothing more */
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_outbox_empty, c));
        sleep_loop(e, 100 * USEC_PER_MSEC);
        {
                unsigned n = idle_wakeups(e, 1500 * USEC_PER_MSEC);
                print_message("# plain: %u wakeups in 1.5 s idle\n", n);
                assert_true(n <= 4);
        }

        /* clean stop: "offline" goes out before the disconnect */
        assert_int_equal(mqtt_client_stop(c, 2 * USEC_PER_SEC), 0);
        for (unsigned tries = 0; tries < 100; tries++) { /* the subscriber's thread: up to 5 s */
                p = subscriber_last(&s, "insole/bridge/gw1/state");
                if (p && strcmp(p, "{\"state\":\"offline\"}") == 0)
                        break;
                free(p);
                p = NULL;
                usleep(50000);
        }
        p = p ?: subscriber_last(&s, "insole/bridge/gw1/state");
        assert_string_equal(p, "{\"state\":\"offline\"}");
        free(p);

        c = mqtt_client_free(c);
        subscriber_stop(&s);
        sd_event_unref(e);
        broker_done(&b);
}

typedef struct Streamer {
        MqttClient *client;
        unsigned sent;
        unsigned total;
        sd_event_source *timer;
} Streamer;

/* max_inflight_messages in mosquitto-test.conf.in */
#define BROKER_MAX_INFLIGHT 20u

static int on_stream_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        Streamer *st = userdata;
        if (st->sent < st->total) {
                assert_int_equal(publish_gait_like(st->client, "anna", (int) st->sent + 1), 1);
                st->sent++;
        }
        sd_event_source_set_time_relative(es, 10 * USEC_PER_MSEC);
        return 0;
}

static bool cond_streamed(void *userdata) {
        Streamer *st = userdata;
        return st->sent >= st->total;
}

static void test_broker_restart_zero_loss(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *c = NULL;
        sd_event *e = NULL;
        Broker b;
        Subscriber s;
        Config cfg;
        Streamer st = { .total = 400 };
        MqttClientStats stats;
        CountWait w;
        unsigned *seen;
        unsigned lost = 0, dup = 0, dup_too_old = 0, sent_at_stop, outstanding_at_stop, inflight_at_stop;
        size_t n_gait = 0;

        broker_init(&b, false);
        subscriber_start(&s, &b, "i2m-test-sub-restart", "insole/anna/gait", "insole/bridge/gw1/state");
        assert_int_equal(sd_event_new(&e), 0);
        make_config(&cfg, &b, "gw1");
        cfg.homeassistant = false;
        assert_int_equal(mqtt_client_new(e, &cfg, &c), 0);
        assert_int_equal(mqtt_client_start(c), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_connected, c));

        st.client = c;
        assert_int_equal(sd_event_add_time_relative(e, &st.timer, CLOCK_MONOTONIC, 0, 0, on_stream_tick, &st), 0);
        sd_event_source_set_enabled(st.timer, SD_EVENT_ON);

        sleep_loop(e, 800 * USEC_PER_MSEC);      /* ~80 messages out */
        /* QoS 1 is at least once, on both legs. The client sends again what the broker took but
         * whose PUBACK it never read: at most what is in flight now, among the newest outbox_depth
         * (the loop does not run during the stop, so nothing else is handed over). The broker sends
         * again, from its saved session, what the subscriber had not acknowledged: at most its
         * max_inflight_messages, the newest before the stop. Anything older twice is a fault. */
        mqtt_client_get_stats(c, &stats);
        sent_at_stop = st.sent;
        outstanding_at_stop = stats.outbox_depth;
        inflight_at_stop = stats.inflight;
        broker_stop(&b);                          /* mid-stream */
        {
                char db[128];
                snprintf(db, sizeof db, "%s/mosquitto.db", b.dir);
                assert_int_equal(access(db, F_OK), 0); /* the subscriber's session survives */
        }
        sleep_loop(e, 1500 * USEC_PER_MSEC);     /* publishing goes on into the outbox */
        mqtt_client_get_stats(c, &stats);
        assert_false(stats.connected);
        assert_true(stats.outbox_depth > 0);
        broker_start(&b);
        assert_true(run_until(e, 15 * USEC_PER_SEC, cond_streamed, &st));
        assert_true(run_until(e, 10 * USEC_PER_SEC, cond_outbox_empty, c));
        w = (CountWait) { &s, "insole/anna/gait", NULL, st.total };
        (void) run_until(e, 8 * USEC_PER_SEC, cond_count, &w);
        sleep_loop(e, 300 * USEC_PER_MSEC); /* late duplicates would show up here */

        seen = calloc(st.total + 1, sizeof *seen);
        pthread_mutex_lock(&s.lock);
        for (size_t i = 0; i < s.n; i++) {
                const char *q = strstr(s.msgs[i].payload, "\"seq\":");
                unsigned long seq = q ? strtoul(q + 6, NULL, 10) : 0;
                if (!streq(s.msgs[i].topic, "insole/anna/gait"))
                        continue;
                n_gait++;
                assert_true(seq >= 1 && seq <= st.total);
                seen[seq]++;
        }
        pthread_mutex_unlock(&s.lock);
        for (unsigned i = 1; i <= st.total; i++) {
                if (seen[i] == 0)
                        lost++;
                else if (seen[i] > 1) {
                        dup += seen[i] - 1;
                        if (i + outstanding_at_stop + BROKER_MAX_INFLIGHT <= sent_at_stop || i > sent_at_stop)
                                dup_too_old++;
                }
        }
        mqtt_client_get_stats(c, &stats);
        print_message("# sent %u, received %zu, lost %u, duplicated %u (%u in flight at the stop), reconnects %" PRIu64
                      ", dropped %" PRIu64 "\n",
                      st.total, n_gait, lost, dup, inflight_at_stop, stats.reconnects, stats.dropped);
        assert_int_equal(lost, 0);
        assert_int_equal(dup_too_old, 0);
        assert_true(dup <= inflight_at_stop + BROKER_MAX_INFLIGHT);
        assert_true(stats.reconnects >= 1);
        assert_int_equal(stats.dropped, 0);
        /* the birth is a retained state: sent again after the reconnect */
        assert_true(subscriber_count(&s, "insole/bridge/gw1/state", "online") >= 2);
        free(seen);

        sd_event_source_disable_unref(st.timer);
        c = mqtt_client_free(c);
        subscriber_stop(&s);
        sd_event_unref(e);
        broker_done(&b);
}

typedef struct ConnResult {
        int calls;
        bool connected;
        int error;
} ConnResult;

static void on_connection(MqttClient *c, bool connected, int error, void *userdata) {
        ConnResult *r = userdata;
        r->calls++;
        r->connected = connected;
        r->error = error;
}

static bool cond_conn_result(void *userdata) {
        ConnResult *r = userdata;
        return r->calls > 0;
}

static void tls_config(Config *cfg, const Broker *b, char *ca, size_t ca_size, const char *ca_name) {
        make_config(cfg, b, "gw-tls");
        cfg->homeassistant = false;
        cfg->tls = true;
        snprintf(ca, ca_size, "%s/%s", b->dir, ca_name);
        cfg->tls_ca_file = ca;
        cfg->tls_server_name = (char *) "broker.test"; /* we connect to 127.0.0.1 */
}

static void test_tls(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *c = NULL, *bad = NULL, *wrong_name = NULL;
        sd_event *e = NULL;
        Broker b;
        Subscriber s;
        Config cfg, bad_cfg, name_cfg;
        char ca[128], other_ca[128], ca2[128];
        MqttSteps steps = { .steps_today = 1, .steps_total = 2, .day = "2026-11-22" };
        ConnResult bad_result = {}, name_result = {};
        CountWait w;

        broker_init(&b, true);
        subscriber_start(&s, &b, "i2m-test-sub-tls", "insole/#", NULL);
        assert_int_equal(sd_event_new(&e), 0);

        tls_config(&cfg, &b, ca, sizeof ca, "ca.crt");
        assert_int_equal(mqtt_client_new(e, &cfg, &c), 0);
        assert_int_equal(mqtt_client_start(c), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_connected, c));
        assert_int_equal(publish_steps(c, "anna", &steps), 1);
        w = (CountWait) { &s, "insole/anna/steps", "\"steps_today\":1,", 1 };
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_count, &w));
        assert_true(run_until(e, 2 * USEC_PER_SEC, cond_outbox_empty, c));
        sleep_loop(e, 100 * USEC_PER_MSEC);
        {
                unsigned n = idle_wakeups(e, 1500 * USEC_PER_MSEC);
                print_message("# tls: %u wakeups in 1.5 s idle\n", n);
                assert_true(n <= 4);
        }

        /* a certificate from another CA is refused, and that is final */
        tls_config(&bad_cfg, &b, other_ca, sizeof other_ca, "other-ca.crt");
        strcpy(bad_cfg.gateway_id, "gw-bad");
        assert_int_equal(mqtt_client_new(e, &bad_cfg, &bad), 0);
        mqtt_client_set_connection_handler(bad, on_connection, &bad_result);
        assert_int_equal(mqtt_client_start(bad), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_conn_result, &bad_result));
        assert_false(bad_result.connected);
        assert_true(bad_result.error < 0);
        assert_false(mqtt_client_is_connected(bad));

        /* the right CA but a name the certificate does not carry */
        tls_config(&name_cfg, &b, ca2, sizeof ca2, "ca.crt");
        strcpy(name_cfg.gateway_id, "gw-name");
        name_cfg.tls_server_name = (char *) "evil.test";
        assert_int_equal(mqtt_client_new(e, &name_cfg, &wrong_name), 0);
        mqtt_client_set_connection_handler(wrong_name, on_connection, &name_result);
        assert_int_equal(mqtt_client_start(wrong_name), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_conn_result, &name_result));
        assert_false(name_result.connected);
        assert_true(name_result.error < 0);
        /* neither reached the broker: no birth from them */
        assert_int_equal(subscriber_count(&s, "insole/bridge/gw-bad/state", NULL), 0);
        assert_int_equal(subscriber_count(&s, "insole/bridge/gw-name/state", NULL), 0);
        assert_int_equal(subscriber_count(&s, "insole/bridge/gw-tls/state", "online"), 1);

        wrong_name = mqtt_client_free(wrong_name);
        bad = mqtt_client_free(bad);
        c = mqtt_client_free(c);
        subscriber_stop(&s);
        sd_event_unref(e);
        broker_done(&b);
}

static void test_client_certificate_and_password(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *good = NULL, *bad_pw = NULL, *no_cert = NULL;
        sd_event *e = NULL;
        Broker b;
        Config cg, cp, cn;
        char ca[3][128], cert[128], key[128];
        ConnResult pw_result = {}, cert_result = {};

        broker_init_full(&b, true, true);
        assert_int_equal(sd_event_new(&e), 0);
        snprintf(cert, sizeof cert, "%s/client.crt", b.dir);
        snprintf(key, sizeof key, "%s/client.key", b.dir);

        tls_config(&cg, &b, ca[0], sizeof ca[0], "ca.crt");
        cg.tls_cert_file = cert;
        cg.tls_key_file = key;
        cg.username = (char *) "gateway";
        cg.password = (char *) "s3cret-pass";
        assert_int_equal(mqtt_client_new(e, &cg, &good), 0);
        assert_int_equal(mqtt_client_start(good), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_connected, good));

        /* a wrong password is refused by the broker (CONNACK 5): final, reported as -EACCES */
        tls_config(&cp, &b, ca[1], sizeof ca[1], "ca.crt");
        strcpy(cp.gateway_id, "gw-pw");
        cp.tls_cert_file = cert;
        cp.tls_key_file = key;
        cp.username = (char *) "gateway";
        cp.password = (char *) "wrong";
        assert_int_equal(mqtt_client_new(e, &cp, &bad_pw), 0);
        mqtt_client_set_connection_handler(bad_pw, on_connection, &pw_result);
        assert_int_equal(mqtt_client_start(bad_pw), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_conn_result, &pw_result));
        assert_false(pw_result.connected);
        assert_int_equal(pw_result.error, -EACCES);

        /* no client certificate: the broker ends the handshake */
        tls_config(&cn, &b, ca[2], sizeof ca[2], "ca.crt");
        strcpy(cn.gateway_id, "gw-nocert");
        cn.username = (char *) "gateway";
        cn.password = (char *) "s3cret-pass";
        assert_int_equal(mqtt_client_new(e, &cn, &no_cert), 0);
        mqtt_client_set_connection_handler(no_cert, on_connection, &cert_result);
        assert_int_equal(mqtt_client_start(no_cert), 0);
        (void) run_until(e, 4 * USEC_PER_SEC, cond_conn_result, &cert_result);
        assert_false(mqtt_client_is_connected(no_cert));
        assert_true(mqtt_client_is_connected(good));

        no_cert = mqtt_client_free(no_cert);
        bad_pw = mqtt_client_free(bad_pw);
        good = mqtt_client_free(good);
        sd_event_unref(e);
        broker_done(&b);
}

/* A peer that accepts TCP (the kernel completes the handshake) but never answers CONNECT: the
 * attempt is abandoned after the connect timeout and retried, instead of waiting for ever. */
static void test_connect_timeout(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *c = NULL;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        sd_event *e = NULL;
        Broker fake = {};
        Config cfg;
        MqttClientStats st;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &len), 0);
        fake.port = ntohs(a.sin_port);

        assert_int_equal(sd_event_new(&e), 0);
        make_config(&cfg, &fake, "gw-timeout");
        cfg.homeassistant = false;
        assert_int_equal(mqtt_client_new(e, &cfg, &c), 0);
        mqtt_client_set_connect_timeout(c, 500 * USEC_PER_MSEC);
        assert_int_equal(mqtt_client_start(c), 0);
        sleep_loop(e, 1200 * USEC_PER_MSEC);
        mqtt_client_get_stats(c, &st);
        assert_false(st.connected);
        assert_true(st.connect_failures >= 1);
        /* still retrying, with the birth waiting in the outbox */
        assert_int_equal(st.outbox_depth, 1);

        c = mqtt_client_free(c);
        close(fd);
        sd_event_unref(e);
}

typedef struct Fetched {
        int calls;
        int error;
        uint64_t today, total;
        char day[11];
} Fetched;

static void on_fetched(MqttClient *c, const char *topic, const void *payload, size_t len, int error, void *userdata) {
        Fetched *f = userdata;

        f->calls++;
        f->error = error;
        if (error == 0) {
                /* what another gateway reads from it is core's remote_steps_parse() (tests/core) */
                _cleanup_(json_document_freep) JsonDocument *doc = NULL;
                const JsonValue *root;
                const char *day;
                size_t day_len;

                assert_int_equal(json_parse(payload, len, NULL, &doc, NULL), 0);
                root = json_document_root(doc);
                assert_int_equal(json_value_get_uint64(json_value_member(root, "steps_today"), UINT64_MAX, &f->today), 0);
                assert_int_equal(json_value_get_uint64(json_value_member(root, "steps_total"), UINT64_MAX, &f->total), 0);
                assert_int_equal(json_value_get_string(json_value_member(root, "day"), &day, &day_len), 0);
                assert_true(day_len < sizeof(f->day));
                memcpy(f->day, day, day_len + 1);
        }
}

/* A gateway that takes over a wearer reads the retained <base>/<wearer>/steps first. */
static int fetch_steps(MqttClient *c, const Config *config, const char *wearer, uint64_t timeout_usec,
                       MqttRetainedHandler h, void *userdata) {
        char topic[MQTT_TOPIC_MAX];
        int r;

        r = mqtt_topic_wearer(topic, sizeof topic, config->base_topic, wearer, MQTT_WEARER_STEPS);
        if (r < 0)
                return r;
        return mqtt_client_fetch_retained(c, topic, timeout_usec, h, userdata);
}

static bool cond_fetched(void *userdata) {
        Fetched *f = userdata;
        return f->calls > 0;
}

static void test_multi_gateway_fetch(void **state) {
        _cleanup_(mqtt_client_freep) MqttClient *a = NULL, *b2 = NULL;
        sd_event *e = NULL;
        Broker b;
        Config ca, cb;
        MqttSteps steps = { .steps_today = 4321, .steps_total = 87654, .day = "2026-11-22" };
        Fetched f = {}, none = {};

        broker_init(&b, false);
        assert_int_equal(sd_event_new(&e), 0);
        make_config(&ca, &b, "room1");
        ca.homeassistant = false;
        assert_int_equal(mqtt_client_new(e, &ca, &a), 0);
        assert_int_equal(mqtt_client_start(a), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_connected, a));
        assert_int_equal(publish_steps(a, "anna", &steps), 1);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_outbox_empty, a));

        /* the wearer walks into room 2: its gateway asks the broker before it is even connected */
        make_config(&cb, &b, "room2");
        cb.homeassistant = false;
        cb.protocol_version = 5; /* the other gateway speaks MQTT 5 */
        strcpy(cb.wearers[0].name, "anna");
        assert_int_equal(mqtt_client_new(e, &cb, &b2), 0);
        assert_int_equal(fetch_steps(b2, &cb, "anna", 2 * USEC_PER_SEC, on_fetched, &f), 0);
        assert_int_equal(fetch_steps(b2, &cb, "nobody", 500 * USEC_PER_MSEC, on_fetched, &none), 0);
        assert_int_equal(fetch_steps(b2, &cb, "a/#", 500 * USEC_PER_MSEC, on_fetched, &none), -EINVAL);
        assert_int_equal(mqtt_client_start(b2), 0);
        assert_true(run_until(e, 5 * USEC_PER_SEC, cond_fetched, &f));
        assert_int_equal(f.error, 0);
        assert_int_equal(f.today, 4321);
        assert_int_equal(f.total, 87654);
        assert_string_equal(f.day, "2026-11-22");
        assert_true(run_until(e, 3 * USEC_PER_SEC, cond_fetched, &none));
        assert_int_equal(none.error, -ENOENT);
        assert_int_equal(none.calls, 1);

        b2 = mqtt_client_free(b2);
        a = mqtt_client_free(a);
        sd_event_unref(e);
        broker_done(&b);
}

/* Every wait above has a deadline; this is the last resort for a blocking call that hangs: the
 * process dies (and its brokers with it, PR_SET_PDEATHSIG) instead of stalling the suite. */
static int watchdog(void **state) {
        alarm(40);
        return 0;
}

static int reap(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(live_brokers); i++)
                if (live_brokers[i].pid > 0) {
                        Broker b = { .pid = live_brokers[i].pid };
                        snprintf(b.dir, sizeof b.dir, "%s", live_brokers[i].dir);
                        broker_done(&b);
                }
        alarm(0);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plain_topics_and_reannounce, watchdog, reap),
                cmocka_unit_test_setup_teardown(test_broker_restart_zero_loss, watchdog, reap),
                cmocka_unit_test_setup_teardown(test_tls, watchdog, reap),
                cmocka_unit_test_setup_teardown(test_client_certificate_and_password, watchdog, reap),
                cmocka_unit_test_setup_teardown(test_multi_gateway_fetch, watchdog, reap),
                cmocka_unit_test_setup_teardown(test_connect_timeout, watchdog, reap),
        };

        signal(SIGPIPE, SIG_IGN);
        mosquitto_lib_init();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
