/* SPDX-License-Identifier: MIT */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "calendar.h"
#include "mqtt-publish.h"
#include "topic-name.h"

/* The configuration's rule (topic-name.h): what it accepts, we accept. */
bool mqtt_name_is_valid(const char *s) {
        return topic_name_is_valid(s);
}

bool mqtt_prefix_is_valid(const char *s) {
        return topic_prefix_is_valid(s);
}

static int append(char *buf, size_t size, size_t *pos, const char *s) {
        size_t n = strlen(s);

        if (*pos + n + 1 > size)
                return -ENAMETOOLONG;
        memcpy(buf + *pos, s, n + 1);
        *pos += n;
        return 0;
}

static int topic_joinv(char *buf, size_t size, const char *base, va_list ap) {
        size_t pos = 0;
        int r;

        if (!buf || size == 0)
                return -EINVAL;
        buf[0] = 0;
        if (!mqtt_prefix_is_valid(base))
                return -EINVAL;
        r = append(buf, size, &pos, base);
        if (r < 0)
                return r;
        for (const char *seg = va_arg(ap, const char *); seg; seg = va_arg(ap, const char *)) {
                if (!mqtt_name_is_valid(seg)) {
                        buf[0] = 0;
                        return -EINVAL;
                }
                r = append(buf, size, &pos, "/");
                if (r >= 0)
                        r = append(buf, size, &pos, seg);
                if (r < 0) {
                        buf[0] = 0;
                        return r;
                }
        }
        return 0;
}

int mqtt_topic_join(char *buf, size_t size, const char *base, ...) {
        va_list ap;
        int r;

        va_start(ap, base);
        r = topic_joinv(buf, size, base, ap);
        va_end(ap);
        return r;
}

static const char *const bridge_topic_table[_MQTT_BRIDGE_TOPIC_MAX] = {
        [MQTT_BRIDGE_STATE] = "state",
        [MQTT_BRIDGE_INFO] = "info",
        [MQTT_BRIDGE_HEALTH] = "health",
};

int mqtt_topic_bridge(char *buf, size_t size, const char *base, const char *gateway, MqttBridgeTopic which) {
        if (buf && size > 0)
                buf[0] = 0;
        if (which < 0 || which >= _MQTT_BRIDGE_TOPIC_MAX || !mqtt_name_is_valid(gateway))
                return -EINVAL;
        return mqtt_topic_join(buf, size, base, "bridge", gateway, bridge_topic_table[which], NULL);
}

int mqtt_topic_wearer(char *buf, size_t size, const char *base, const char *wearer, MqttWearerTopic which) {
        if (buf && size > 0)
                buf[0] = 0;
        /* Checked here too (not only in the join): a NULL would end the segment list early.
         * "bridge" is reserved for the gateway's own topics. */
        if (!topic_wearer_name_is_valid(wearer))
                return -EINVAL;
        switch (which) {
        case MQTT_WEARER_AVAILABILITY:
                return mqtt_topic_join(buf, size, base, wearer, "availability", NULL);
        case MQTT_WEARER_GAIT:
                return mqtt_topic_join(buf, size, base, wearer, "gait", NULL);
        case MQTT_WEARER_STEPS:
                return mqtt_topic_join(buf, size, base, wearer, "steps", NULL);
        case MQTT_WEARER_ACTIVITY:
                return mqtt_topic_join(buf, size, base, wearer, "activity", NULL);
        case MQTT_WEARER_REMINDER:
                return mqtt_topic_join(buf, size, base, wearer, "reminder", NULL);
        case MQTT_WEARER_REMINDER_SET:
                return mqtt_topic_join(buf, size, base, wearer, "reminder", "set", NULL);
        case MQTT_WEARER_REMINDER_STATE:
                return mqtt_topic_join(buf, size, base, wearer, "reminder", "state", NULL);
        case MQTT_WEARER_DAILY:
                return mqtt_topic_join(buf, size, base, wearer, "daily", NULL);
        case MQTT_WEARER_EXERCISE:
                return mqtt_topic_join(buf, size, base, wearer, "exercise", NULL);
        case MQTT_WEARER_TODAY:
                return mqtt_topic_join(buf, size, base, wearer, "today", NULL);
        case MQTT_WEARER_BASELINE:
                return mqtt_topic_join(buf, size, base, wearer, "baseline", NULL);
        case MQTT_WEARER_ALERT:
                return mqtt_topic_join(buf, size, base, wearer, "alert", NULL);
        case MQTT_WEARER_ALERT_SET:
                return mqtt_topic_join(buf, size, base, wearer, "alert", "set", NULL);
        case MQTT_WEARER_ALERT_STATE:
                return mqtt_topic_join(buf, size, base, wearer, "alert", "state", NULL);
        default:
                return -EINVAL;
        }
}

static const char *const device_topic_table[_MQTT_DEVICE_TOPIC_MAX] = {
        [MQTT_DEVICE_AVAILABILITY] = "availability",
        [MQTT_DEVICE_BATTERY] = "battery",
        [MQTT_DEVICE_LINK] = "link",
        [MQTT_DEVICE_PRESSURE] = "pressure",
};

int mqtt_topic_device(char *buf, size_t size, const char *base, const char *wearer, DeviceRole role,
                      MqttDeviceTopic which) {
        const char *r;

        if (buf && size > 0)
                buf[0] = 0;
        if (which < 0 || which >= _MQTT_DEVICE_TOPIC_MAX)
                return -EINVAL;
        if (!topic_wearer_name_is_valid(wearer))
                return -EINVAL;
        r = device_role_to_string(role);
        if (!r)
                return -EINVAL;
        return mqtt_topic_join(buf, size, base, wearer, r, device_topic_table[which], NULL);
}

int mqtt_topic_homeassistant_status(char *buf, size_t size, const Config *c) {
        return mqtt_topic_join(buf, size, c->homeassistant_prefix, "status", NULL);
}

static char *put_digits(char *p, unsigned v, unsigned width) {
        for (unsigned i = width; i > 0; i--) {
                p[i - 1] = (char) ('0' + v % 10);
                v /= 10;
        }
        return p + width;
}

/* Every message carries one: written by hand, since gmtime_r() + strftime() + snprintf() were a
 * few percent of the gateway's CPU with the raw stream on. */
char *mqtt_format_timestamp(uint64_t realtime_usec, char *buf) {
        uint64_t sec = realtime_usec / USEC_PER_SEC, of_day = sec % 86400;
        unsigned ms = (unsigned) ((realtime_usec % USEC_PER_SEC) / USEC_PER_MSEC);
        int y, mo, d;
        char *p = buf;

        civil_from_days((int64_t) (sec / 86400), &y, &mo, &d);
        if (y > 9999) {
                strcpy(buf, "1970-01-01T00:00:00.000Z");
                return buf;
        }
        p = put_digits(p, (unsigned) y, 4);
        *p++ = '-';
        p = put_digits(p, (unsigned) mo, 2);
        *p++ = '-';
        p = put_digits(p, (unsigned) d, 2);
        *p++ = 'T';
        p = put_digits(p, (unsigned) (of_day / 3600), 2);
        *p++ = ':';
        p = put_digits(p, (unsigned) (of_day / 60 % 60), 2);
        *p++ = ':';
        p = put_digits(p, (unsigned) (of_day % 60), 2);
        *p++ = '.';
        p = put_digits(p, ms, 3);
        *p++ = 'Z';
        *p = 0;
        return buf;
}
