#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Prometheus endpoint against the real server: Debian's prometheus scrapes the gateway, which
runs against the BlueZ simulator (anna walks on a gait model, ben replays a PhysioNet recording),
and every PromQL expression of the shipped Grafana dashboards must return data for each simulated
wearer. promtool checks a scrape and the example scrape configuration; docs/prometheus.md must list
every metric family the gateway exposes. Prints TAP."""

import glob
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from harness import SOURCE, Tap, World, wait_for, wait_port

WEARERS = ("anna", "ben")
GATEWAY_ID = "prom"
# Lookback windows that fit a short run: Grafana's $__rate_interval is at least four scrape
# intervals; the test scrapes every second.
RATE_INTERVAL = "10s"


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers, r.read().decode("utf-8", "replace")


def query(prom_port, expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (prom_port, urllib.parse.urlencode({"query": expr}))
    try:
        _, _, body = http_get(url)
    except Exception as e:  # an HTTP error carries Prometheus' message in its body
        body = e.read().decode() if hasattr(e, "read") else str(e)
    return json.loads(body) if body.startswith("{") else {"status": "error", "error": body}


def dashboard_exprs():
    """(dashboard file, panel title, expression) for every target of every shipped dashboard."""
    out = []
    for path in sorted(glob.glob(os.path.join(SOURCE, "contrib", "grafana", "dashboards", "*.json"))):
        with open(path) as f:
            d = json.load(f)
        panels = list(d.get("panels", []))
        while panels:
            p = panels.pop(0)
            panels.extend(p.get("panels", []))
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((os.path.basename(path), p.get("title", "?"), t["expr"]))
        for v in d.get("templating", {}).get("list", []):
            q = v.get("query")
            if v.get("type") == "query":
                q = q.get("query") if isinstance(q, dict) else q
                m = re.match(r"label_values\((.+),\s*(\w+)\)$", q or "")
                if m:  # the variable's values come from this series
                    out.append((os.path.basename(path), "variable " + v["name"], m.group(1)))
    return out


def dashboard_problems():
    """What Grafana would trip over: duplicate panel ids, targets without refId, a data source
    other than the ${datasource} variable, panels outside the 24-column grid or on top of another."""
    problems = []
    for path in sorted(glob.glob(os.path.join(SOURCE, "contrib", "grafana", "dashboards", "*.json"))):
        name = os.path.basename(path)
        with open(path) as f:
            d = json.load(f)
        for key in ("uid", "title", "panels", "templating", "schemaVersion"):
            if key not in d:
                problems.append("%s: no %s" % (name, key))
        names = [v.get("name") for v in d.get("templating", {}).get("list", [])]
        if "datasource" not in names:
            problems.append("%s: no datasource variable" % name)
        ids, cells = set(), {}
        for p in d.get("panels", []):
            if p.get("id") in ids:
                problems.append("%s: panel id %s twice" % (name, p.get("id")))
            ids.add(p.get("id"))
            g = p.get("gridPos", {})
            if g.get("x", 0) + g.get("w", 0) > 24:
                problems.append("%s / %s: wider than the grid" % (name, p.get("title")))
            for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
                for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                    if (x, y) in cells:
                        problems.append("%s / %s: overlaps %s" % (name, p.get("title"), cells[(x, y)]))
                        break
                    cells[(x, y)] = p.get("title")
                else:
                    continue
                break
            if p.get("type") == "row":
                continue
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                problems.append("%s / %s: data source is not ${datasource}" % (name, p.get("title")))
            refs = [t.get("refId") for t in p.get("targets", [])]
            if not refs or None in refs or len(set(refs)) != len(refs):
                problems.append("%s / %s: targets need distinct refIds" % (name, p.get("title")))
            for v in re.findall(r"\$(\w+)", json.dumps(p.get("targets", []))):
                if v not in names and not v.startswith("__"):
                    problems.append("%s / %s: unknown variable $%s" % (name, p.get("title"), v))
    return problems


def substitute(expr, wearer):
    return (expr.replace("$wearer", wearer).replace("$gateway", GATEWAY_ID)
            .replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "1s"))


def main():
    tap = Tap()
    world = World("insole2mqtt-prometheus.")
    try:
        broker_port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=108 weight=68\n"
                       "wearer ben left=AA:00:00:00:02:01 right=AA:00:00:00:02:02 replay=gaitpdb/GaCo01_01\n"
                       "wearer mallory left=AA:00:00:00:0E:01 mode=standing\n"
                       "at 0s name AA:00:00:00:0E:01 evil\"}label{x=\"\n", "sim.log")
        metrics_port = world.reserve_port()
        conf = world.gateway_config("prom", "[gateway]\nid = %s\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                            "[bluetooth]\nauto-discovery = yes\n\n"
                                            "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                            "[metrics]\npublish-interval = 2s\nprometheus-listen = 127.0.0.1:%d\n\n"
                                            "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                            "body-weight-kg = 68\n\n"
                                            "[wearer ben]\nleft = AA:00:00:00:02:01\nright = AA:00:00:00:02:02\n"
                                            % (GATEWAY_ID, world.path("prom-state"), broker_port, metrics_port))
        world.gateway(env, conf, "gateway.log", level="info")
        tap(wait_port(metrics_port, 15), "the gateway listens on its metrics port", world.log_tail("gateway.log"))

        # The real Prometheus, scraping every second.
        prom_port = world.reserve_port()
        with open(world.path("prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: insole2mqtt\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % metrics_port)
        world.spawn(["prometheus", "--config.file=" + world.path("prometheus.yml"),
                     "--storage.tsdb.path=" + world.path("tsdb"),
                     "--web.listen-address=127.0.0.1:%d" % prom_port, "--log.level=warn"], "prometheus.log")
        tap(wait_port(prom_port, 30), "prometheus started", world.log_tail("prometheus.log"))

        up = wait_for(lambda: (query(prom_port, 'up{job="insole2mqtt"} == 1').get("data") or {}).get("result"), 30, 0.5)
        tap(up, "prometheus scrapes the gateway (up == 1)",
            json.dumps(query(prom_port, "up")) + "\n" + world.log_tail("prometheus.log"))

        # Wait until both wearers have gait figures with landing patterns, then a little longer so
        # that rate() and increase() have samples across their windows.
        def gait_ready():
            r = query(prom_port, 'count by (wearer) (insole2mqtt_gait_foot_landing_ratio{window="last_60s"})')
            return len((r.get("data") or {}).get("result") or []) == len(WEARERS)
        tap(wait_for(gait_ready, 60, 1), "gait figures of both wearers reach Prometheus",
            json.dumps(query(prom_port, "count by (wearer) (insole2mqtt_gait_steps)")))
        time.sleep(12)

        problems = dashboard_problems()
        tap(not problems, "the dashboards are well-formed for Grafana", "\n".join(problems))

        # Every expression of every shipped dashboard, for each simulated wearer.
        exprs = dashboard_exprs()
        tap(len(exprs) >= 30, "the dashboards hold their panel queries (%d found)" % len(exprs))
        empty = []
        for dash, title, expr in exprs:
            for wearer in (WEARERS if "$wearer" in expr else ("-",)):
                q = substitute(expr, wearer)
                r = query(prom_port, q)
                result = (r.get("data") or {}).get("result")
                if r.get("status") != "success" or not result:
                    empty.append("%s / %s [%s]: %s -> %s" % (dash, title, wearer, q, r.get("error") or "no data"))
                elif "$wearer" in expr and any(s["metric"].get("wearer", wearer) != wearer for s in result):
                    empty.append("%s / %s [%s]: %s -> another wearer's series" % (dash, title, wearer, q))
        tap(not empty, "every dashboard query returns data for every simulated wearer (%d queries)" % len(exprs),
            "\n".join(empty))

        # promtool on a scrape of our own.
        status, headers, body = http_get("http://127.0.0.1:%d/metrics" % metrics_port)
        tap(status == 200 and headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
            "GET /metrics answers 200 in the text exposition format", (status, headers.get("Content-Type")))
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        tap(check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(),
            "promtool check metrics passes on a scrape, without lint remarks", check.stdout + check.stderr)
        example = os.path.join(SOURCE, "contrib", "grafana", "prometheus.yml")
        check = subprocess.run(["promtool", "check", "config", example], capture_output=True, text=True)
        tap(check.returncode == 0, "promtool check config passes on contrib/grafana/prometheus.yml", check.stdout + check.stderr)

        # Label values come from the configuration only: the hostile device's name is nowhere.
        wearers = set(re.findall(r'wearer="([^"]*)"', body))
        gateways = set(re.findall(r'gateway="([^"]*)"', body))
        tap(wearers == set(WEARERS) and gateways == {GATEWAY_ID} and "evil" not in body and "mallory" not in body,
            "label values are configured names only", (wearers, gateways))

        # Every family is documented, and every family the dashboards use exists.
        families = set(re.findall(r"^# TYPE (\S+) ", body, re.M))
        with open(os.path.join(SOURCE, "docs", "prometheus.md")) as f:
            doc = f.read()
        documented = set(re.findall(r"`(insole2mqtt_[a-z0-9_]+)`", doc))
        undocumented = sorted(families - documented)
        # load metrics carry their unit in the name; the doc writes them with <unit>
        undocumented = [n for n in undocumented
                        if re.sub(r"_(newtons|body_weights|raw)(_per_second)?$", r"_<unit>\2", n) not in doc]
        tap(families and not undocumented, "docs/prometheus.md documents every metric family (%d)" % len(families),
            undocumented)
        used = set()
        for _, _, expr in exprs:
            used |= set(re.findall(r"\b(insole2mqtt_[a-z0-9_]+)", expr))
        unknown = sorted(n for n in used if n not in families and not n.endswith("_"))
        tap(not unknown, "every metric the dashboards name exists", unknown)

        stats = query(prom_port, 'insole2mqtt_prometheus_scrapes_total')
        scrapes = [float(s["value"][1]) for s in (stats.get("data") or {}).get("result", [])]
        tap(scrapes and scrapes[0] >= 10, "the gateway counted the scrapes", scrapes)
        print("# %d dashboard queries checked, %d metric families, scrape %d bytes" % (len(exprs), len(families), len(body)))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
