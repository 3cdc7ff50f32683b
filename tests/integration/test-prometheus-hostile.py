#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile clients against the Prometheus endpoint while the gateway streams: garbage, oversized
request heads, slowloris clients and a flood of idle connections, all at once. The gateway must
keep receiving notifications (no lost frames), keep publishing gait metrics over MQTT, keep
answering a well-behaved scraper, and count what it rejected. Then, with nobody around to evict
it, a client that never finishes its request must be closed by the time-out. Prints TAP."""

import random
import re
import socket
import sys
import threading
import time
import urllib.request

from harness import BASE, Subscriber, Tap, World, payloads, wait_for, wait_port

ATTACK_SECONDS = 12


def scrape(port, timeout=3):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as r:
        return r.read().decode()


def value(body, name, labels=""):
    total = None
    for line in body.splitlines():
        if line.startswith(name + "{") and labels in line or line.startswith(name + " "):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def send_and_read(port, data, timeout=6):
    """Sends data, returns what the server answered before closing ("" if nothing)."""
    s = socket.create_connection(("127.0.0.1", port), 2)
    s.settimeout(timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except OSError:
        pass  # the server may reset a client that sent more than it read
    finally:
        s.close()
    return out.decode("latin-1")


class Attack:
    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.answers = {}
        self.lock = threading.Lock()
        self.errors = []
        self.scrapes_ok = 0
        self.scrapes_failed = 0

    def note(self, kind, answer):
        status = answer.split(" ", 2)[1] if answer.startswith("HTTP/1.1 ") else ("closed" if not answer else "other")
        with self.lock:
            self.answers.setdefault(kind, {}).setdefault(status, 0)
            self.answers[kind][status] += 1

    def garbage(self):
        rnd = random.Random(16)
        while not self.stop.is_set():
            data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000)))
            if rnd.random() < 0.3:
                data = b"GET /metrics HTTP/1.1\r\n" + data + b"\r\n\r\n"
            try:
                self.note("garbage", send_and_read(self.port, data))
            except OSError:
                self.note("garbage", "")
            time.sleep(0.02)

    def oversized(self):
        while not self.stop.is_set():
            head = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 65536 + b"\r\n\r\n"
            try:
                self.note("oversized", send_and_read(self.port, head))
            except OSError:
                self.note("oversized", "")
            time.sleep(0.1)

    def slowloris(self, n=24):
        socks = []
        while not self.stop.is_set():
            while len(socks) < n:
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), 2)
                    s.setblocking(False)
                    s.send(b"GET /metrics HTTP/1.1\r\n")
                    socks.append(s)
                except OSError:
                    break
            for s in list(socks):
                try:
                    s.send(b"X-a: b\r\n")  # one header a second, never the blank line
                except OSError:
                    socks.remove(s)  # closed by the server (time-out or eviction): open another
                    s.close()
                    with self.lock:
                        self.answers.setdefault("slowloris", {}).setdefault("closed", 0)
                        self.answers["slowloris"]["closed"] += 1
            self.stop.wait(1)
        for s in socks:
            s.close()

    def flood(self, n=200):
        while not self.stop.is_set():
            socks = []
            for _ in range(n):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", self.port), 2))
                except OSError:
                    break
            with self.lock:
                self.answers.setdefault("flood", {}).setdefault("opened", 0)
                self.answers["flood"]["opened"] += len(socks)
            self.stop.wait(2)
            for s in socks:
                s.close()

    def scraper(self):
        while not self.stop.is_set():
            try:
                body = scrape(self.port)
                ok = "insole2mqtt_uptime_seconds" in body
            except Exception:
                ok = False
            with self.lock:
                if ok:
                    self.scrapes_ok += 1
                else:
                    self.scrapes_failed += 1
            self.stop.wait(0.5)

    def run(self, seconds):
        threads = [threading.Thread(target=f, daemon=True)
                   for f in (self.garbage, self.oversized, self.slowloris, self.flood, self.scraper)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.stop.set()
        for t in threads:
            t.join(15)


def main():
    tap = Tap()
    world = World("insole2mqtt-prometheus-hostile.")
    try:
        broker_port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=110 weight=70\n",
                  "sim.log")
        port = world.reserve_port()
        conf = world.gateway_config("hostile", "[gateway]\nid = hostile\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                               "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                               "[metrics]\npublish-interval = 1s\nprometheus-listen = 127.0.0.1:%d\n\n"
                                               "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                               % (world.path("hostile-state"), broker_port, port))
        sub = Subscriber(world, broker_port, topics=(BASE + "/anna/gait",))
        gateway = world.gateway(env, conf, "gateway.log", level="info")
        tap(wait_port(port, 15), "the metrics endpoint listens", world.log_tail("gateway.log"))
        gait_topic = BASE + "/anna/gait"
        tap(wait_for(lambda: len(payloads(sub.messages(), gait_topic)) >= 3, 45), "gait metrics flow before the attack")

        before = scrape(port)
        notifications0 = value(before, "insole2mqtt_notifications_total")
        lost0 = value(before, "insole2mqtt_insole_lost_frames_total")
        gait0 = len(payloads(sub.messages(), gait_topic))

        attack = Attack(port)
        attack.run(ATTACK_SECONDS)
        print("# answers during the attack: %s" % attack.answers)
        print("# well-behaved scrapes during the attack: %d answered, %d failed" % (attack.scrapes_ok, attack.scrapes_failed))

        tap(gateway.poll() is None, "the gateway survived", world.log_tail("gateway.log"))
        gait1 = len(payloads(sub.messages(), gait_topic))
        tap(gait1 - gait0 >= ATTACK_SECONDS // 3, "gait metrics kept being published during the attack (%d)" % (gait1 - gait0))
        # Let the time-outs run out, then look at the counters.
        time.sleep(1)
        after = wait_for(lambda: scrape(port), 10)
        notifications1 = value(after, "insole2mqtt_notifications_total")
        lost1 = value(after, "insole2mqtt_insole_lost_frames_total")
        print("# notifications during the attack: %d; lost frames: %d" % (notifications1 - notifications0, lost1 - lost0))
        tap(notifications1 > notifications0, "notifications kept arriving during the attack")
        tap(lost1 == lost0, "no frame was lost while the endpoint was attacked", (lost0, lost1))
        tap(attack.scrapes_ok > 0, "a well-behaved scraper was answered during the attack",
            (attack.scrapes_ok, attack.scrapes_failed))

        garbage = attack.answers.get("garbage", {})
        tap(garbage.get("400", 0) > 0 and not garbage.get("200"), "garbage is answered with 400", garbage)
        oversized = attack.answers.get("oversized", {})
        tap(oversized.get("431", 0) > 0 and not oversized.get("200"), "oversized heads are answered with 431", oversized)
        rejected = value(after, "insole2mqtt_prometheus_rejected_requests_total")
        timeouts = value(after, "insole2mqtt_prometheus_timeouts_total")
        evicted = value(after, "insole2mqtt_prometheus_evicted_connections_total")
        print("# counted: rejected %s, timeouts %s, evicted %s" % (rejected, timeouts, evicted))
        tap(rejected and rejected > 0, "rejected requests are counted", rejected)
        tap(evicted and evicted > 0, "slow connections were evicted to make room", evicted)
        tap(value(after, "insole2mqtt_prometheus_connections") <= 8, "never more than 8 connections open")

        # Alone (nobody to evict it), a client that never finishes its request head is closed by the
        # time-out. (The time-out on answers nobody reads is covered by tests/prometheus.)
        slow = socket.create_connection(("127.0.0.1", port), 2)
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(15)
        try:
            closed = slow.recv(1) == b""
        except OSError:
            closed = True
        slow.close()
        timeouts1 = value(scrape(port), "insole2mqtt_prometheus_timeouts_total")
        tap(closed and timeouts1 == (timeouts or 0) + 1, "a client that never finishes its request is timed out",
            (closed, timeouts, timeouts1))

        with open(world.path("gateway.log"), errors="replace") as f:
            log = f.read()
        lines = len(re.findall(r"Prometheus endpoint: answered a request", log))
        tap(lines == 1, "one log line for all the rejected requests (the rest at debug level)", lines)
        rss = value(after, "insole2mqtt_resident_memory_bytes")
        print("# resident memory after the attack: %.1f MiB" % (rss / 1048576))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
