#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every key docs/configuration.md marks "reload" takes effect on SIGHUP, seen in what the gateway
does, not in what it parsed: anna and carl sit, ben stands, the test rewrites the configuration, sends
SIGHUP and watches MQTT, the simulator and the gateway's exit. Reloads more often than the publish
interval do not hold the metrics back. Prints TAP."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import importlib

from harness import BASE, Subscriber, Tap, World, clear_of_midnight, host_clock_synchronised, payloads, wait_for

ANNA_L, ANNA_R, BEN_L, BEN_R = "AA:00:00:00:01:01", "AA:00:00:00:01:02", "AA:00:00:00:02:01", "AA:00:00:00:02:02"
CARL_L, CARL_R = "AA:00:00:00:03:01", "AA:00:00:00:03:02"


def main():
    clear_of_midnight()
    tap = Tap()
    world = World("insole2mqtt-reload.")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=%s right=%s mode=sitting weight=70\n"
                       "wearer ben left=%s right=%s mode=standing weight=70\n"
                       "wearer carl left=%s right=%s mode=sitting weight=70\n" % (ANNA_L, ANNA_R, BEN_L, BEN_R, CARL_L, CARL_R),
                  "sim.log")

        # Active hours around now in UTC; twelve hours ahead (Etc/GMT-12) is outside them.
        hour = datetime.datetime.now(datetime.timezone.utc).hour
        start = max(0, hour - 5)
        settings = {
            "trust-wall-clock": "yes", "backoff-initial": "100ms", "backoff-max": "1s", "connect-timeout": "30s",
            "stable-link": "60s",
            "silence-timeout": "1h", "adapter-reset-after": "0", "exit-after": "0",
            "publish-interval": "2s", "raw-stream": "no", "raw-rate": "10",
            "enabled": "yes", "sitting-limit": "24h", "standing-limit": "24h", "repeat-interval": "24h",
            "active-hours": "%02d:00-%02d:00" % (start, min(24, start + 12)), "quiet-days": "none",
            "clear-steps": "100000", "clear-walking": "0", "clear-calf-raises": "1000", "hourly-step-goal": "250",
            "anna-weight": "70", "anna-tz": "UTC", "ben-weight": "70",
            "alert-metrics": "step_time_si", "baseline-days": "7",
        }

        def write_config():
            s = dict(settings, state=world.path("gw-state"), port=port, anna_l=ANNA_L, anna_r=ANNA_R,
                     ben_l=BEN_L, ben_r=BEN_R, carl_l=CARL_L, carl_r=CARL_R)
            return world.gateway_config("gw", (
                "[gateway]\nid = gw\nstate-directory = {state}\ntrust-wall-clock = {trust-wall-clock}\n"
                "[bluetooth]\nbackoff-initial = {backoff-initial}\nbackoff-max = {backoff-max}\n"
                "connect-timeout = {connect-timeout}\nstable-link = {stable-link}\n"
                "silence-timeout = {silence-timeout}\nadapter-reset-after = {adapter-reset-after}\n"
                "exit-after = {exit-after}\n"
                "[mqtt]\nhost = 127.0.0.1\nport = {port}\nhomeassistant = no\n"
                "[metrics]\npublish-interval = {publish-interval}\nraw-stream = {raw-stream}\nraw-rate = {raw-rate}\n"
                "[reminders]\nenabled = {enabled}\nsitting-limit = {sitting-limit}\n"
                "standing-limit = {standing-limit}\nrepeat-interval = {repeat-interval}\n"
                "active-hours = {active-hours}\nquiet-days = {quiet-days}\nclear-steps = {clear-steps}\n"
                "clear-walking = {clear-walking}\nclear-calf-raises = {clear-calf-raises}\n"
                "hourly-step-goal = {hourly-step-goal}\n"
                "[alerts]\nmetrics = {alert-metrics}\nbaseline-days = {baseline-days}\n"
                "[wearer anna]\nleft = {anna_l}\nright = {anna_r}\nbody-weight-kg = {anna-weight}\n"
                "timezone = {anna-tz}\n"
                "[wearer ben]\nleft = {ben_l}\nright = {ben_r}\nbody-weight-kg = {ben-weight}\n"
                "[wearer carl]\nleft = {carl_l}\nright = {carl_r}\nbody-weight-kg = 70\ntimezone = UTC\n").format(**s))

        conf = write_config()
        # Ten days of anna's walking as an earlier run saved them: a baseline for the alerts.
        with open(os.path.join(world.path("gw-state"), "gait-history.json"), "w") as f:
            json.dump(importlib.import_module("test-alerts").history(10), f)
        sub = Subscriber(world, port)
        gw = world.gateway(env, conf, "gateway.log", level="info")

        def reload(**changes):
            for k, v in changes.items():
                settings[k.replace("_", "-")] = v
            # The mark comes before the signal: on a busy machine the gateway may answer before
            # this process runs again.
            mark = len(sub.messages())
            before = reloads_logged()
            write_config()
            gw.send_signal(signal.SIGHUP)
            # The timed counts below start when the reload has taken effect, not when it was asked
            # for: a loaded machine or a sanitizer build may take a while to get there.
            wait_for(lambda: reloads_logged() > before, 10, step=0.05)
            return mark

        def reloads_logged():
            try:
                with open(world.path("gateway.log"), errors="replace") as f:
                    return sum(1 for line in f if "Configuration reloaded." in line or "Reload failed" in line
                               or "Reloaded what can change" in line)
            except OSError:
                return 0

        def sim(action):
            subprocess.call(["busctl", "--system", "call", "net.insole2mqtt.Sim", "/net/insole2mqtt/Sim",
                             "net.insole2mqtt.Sim1", "Action", "s", action], env=env, stdout=subprocess.DEVNULL)

        def since(mark, topic):
            return [p for p in payloads(sub.messages()[mark:], topic) if p is not None]

        def state_after(mark, wearer, want, timeout=10):
            """The retained reminder state published after `mark` reaches `want`."""
            got = wait_for(lambda: [s for s in since(mark, "%s/%s/reminder/state" % (BASE, wearer))
                                    if s.get("state") == want], timeout)
            return bool(got)

        def latest_state(wearer):
            st = [p for p in payloads(sub.messages(), "%s/%s/reminder/state" % (BASE, wearer)) if p]
            return st[-1].get("state") if st else None

        def activity(wearer, state, mark=0):
            return [p for p in since(mark, "%s/%s/activity" % (BASE, wearer)) if p.get("activity") == state]

        ok = wait_for(lambda: activity("anna", "sitting") and activity("ben", "standing") and activity("carl", "sitting"), 40)
        sitting_since = time.monotonic()
        tap(ok, "anna and carl sit, ben stands", world.log_tail("gateway.log"))
        wait_for(lambda: latest_state("anna") == "watching" and latest_state("ben") == "watching", 10)

        # Reloads more often than publish-interval (2 s) with nothing changed: the metrics go on.
        mark = len(sub.messages())
        for _ in range(12):
            gw.send_signal(signal.SIGHUP)
            time.sleep(0.5)
        today = since(mark, BASE + "/anna/today")
        tap(len(today) >= 2, "SIGHUP every 0.5 s does not stop the 2 s metrics (%d today messages in 6 s)" % len(today))

        # [metrics] publish-interval
        reload(publish_interval="1s")
        mark = len(sub.messages())
        time.sleep(8)
        n = len(since(mark, BASE + "/anna/today"))
        tap(n >= 6, "publish-interval 2s -> 1s: %d today messages in 8 s (at 2 s, at most 5)" % n)

        # [metrics] raw-stream, raw-rate
        mark = reload(raw_stream="yes")
        time.sleep(3)
        n10 = len(since(mark, BASE + "/anna/left/pressure"))
        mark = reload(raw_rate="1")
        time.sleep(1)
        mark = len(sub.messages())
        time.sleep(4)
        n1 = len(since(mark, BASE + "/anna/left/pressure"))
        tap(n10 >= 12 and n1 <= 8, "raw-stream on at raw-rate 10, then raw-rate 1: %d frames in 3 s, then %d in 4 s"
            % (n10, n1))
        reload(raw_stream="no")
        time.sleep(1)
        mark = len(sub.messages())
        time.sleep(3)
        n = len(since(mark, BASE + "/anna/left/pressure"))
        tap(n == 0, "raw-stream off: %d frames in 3 s" % n)

        # [alerts] baseline-days, metrics: the baseline of anna's saved days is re-published with
        # what the new values make of it.
        def baseline(mark):
            b = [p for p in since(mark, BASE + "/anna/baseline") if p]
            return b[-1] if b else {}

        def watched(b):
            return (b.get("metrics", {}).get("step_time_si") or {}).get("watched")

        b0 = wait_for(lambda: baseline(0), 10)
        mark = len(sub.messages())
        reload(baseline_days="14")
        b1 = wait_for(lambda: baseline(mark).get("needed_days") == 14 and baseline(mark), 10)
        tap(b0.get("ready") is True and b0.get("days") == 10 and b1 and b1.get("ready") is False,
            "baseline-days 7 -> 14: ten saved days no longer make a baseline", (b0, baseline(mark)))
        mark = len(sub.messages())
        reload(baseline_days="7", alert_metrics="cadence")
        b2 = wait_for(lambda: baseline(mark).get("needed_days") == 7 and baseline(mark), 10)
        tap(watched(b0) is True and b2 and b2.get("ready") is True and watched(b2) is False,
            "metrics step_time_si -> cadence: step_time_si is no longer watched", (b0, baseline(mark)))

        # [reminders] hourly-step-goal
        mark = reload(hourly_step_goal="77")
        got = wait_for(lambda: [t for t in since(mark, BASE + "/anna/today")
                                if (t.get("hour") or {}).get("goal_steps") == 77], 6)
        tap(got, "hourly-step-goal: the hour is measured against 77 steps", since(mark, BASE + "/anna/today")[-1:])

        # [gateway] trust-wall-clock: without it, days follow the clock only once it is synchronised.
        want = "watching" if host_clock_synchronised() else "clock_unsynchronised"
        mark = reload(trust_wall_clock="no")
        ok = state_after(mark, "anna", want) if want != "watching" else (time.sleep(3) or latest_state("anna") == want)
        tap(ok, "trust-wall-clock = no: the reminders say %s (host clock %s)"
            % (want, "synchronised" if want == "watching" else "not synchronised"), latest_state("anna"))
        mark = reload(trust_wall_clock="yes")
        tap(state_after(mark, "anna", "watching") or latest_state("anna") == "watching",
            "trust-wall-clock = yes: watching again", latest_state("anna"))

        # [wearer] timezone: twelve hours ahead, anna is outside her active hours; ben is not.
        mark = reload(anna_tz="Etc/GMT-12")
        tap(state_after(mark, "anna", "outside_active_hours") and latest_state("ben") == "watching",
            "timezone Etc/GMT-12: anna is outside the active hours %s, ben is not" % settings["active-hours"],
            (latest_state("anna"), latest_state("ben")))
        mark = reload(anna_tz="UTC")
        tap(state_after(mark, "anna", "watching"), "timezone UTC: anna is watched again", latest_state("anna"))

        # [reminders] active-hours, quiet-days
        other = "00:00-%02d:00" % start if start > 0 else "%02d:00-24:00" % min(24, start + 12)
        mark = reload(active_hours=other)
        tap(state_after(mark, "ben", "outside_active_hours"), "active-hours %s: outside them" % other,
            latest_state("ben"))
        mark = reload(active_hours="%02d:00-%02d:00" % (start, min(24, start + 12)), quiet_days="mon,tue,wed,thu,fri,sat,sun")
        tap(state_after(mark, "ben", "quiet_day"), "quiet-days every day: a quiet day", latest_state("ben"))
        mark = reload(quiet_days="none")
        tap(state_after(mark, "ben", "watching"), "quiet-days none: watching again", latest_state("ben"))

        # [reminders] sitting-limit, standing-limit: both have been still for over a minute.
        time.sleep(max(0, 70 - (time.monotonic() - sitting_since)))
        mark = reload(sitting_limit="1min", standing_limit="1min")
        rem = wait_for(lambda: since(mark, BASE + "/anna/reminder") and since(mark, BASE + "/ben/reminder") and
                       since(mark, BASE + "/carl/reminder"), 10)
        a, b, c = ([e for e in since(mark, BASE + "/%s/reminder" % w) if e.get("event") == "reminder"]
                   for w in ("anna", "ben", "carl"))
        tap(rem and a and a[0].get("reason") == "sitting" and b and b[0].get("reason") == "standing" and
            c and c[0].get("reason") == "sitting",
            "sitting-limit and standing-limit 1min: anna and carl are reminded to stop sitting, ben to stop standing",
            (a, b, c))
        first = time.monotonic()

        # [reminders] repeat-interval: the pending repeat moves from 24 h to a minute after the first.
        mark = reload(repeat_interval="1min")
        # [wearer] body-weight-kg meanwhile: at 400 kg, ben's load is that of someone sitting.
        mark_w = reload(ben_weight="400")
        tap(wait_for(lambda: activity("ben", "sitting", mark_w), 10), "body-weight-kg 400: ben's load reads as sitting",
            since(mark_w, BASE + "/ben/activity"))
        mark_w = reload(ben_weight="70")
        tap(wait_for(lambda: activity("ben", "standing", mark_w), 10), "body-weight-kg 70: ben stands again",
            since(mark_w, BASE + "/ben/activity"))
        rep = wait_for(lambda: [e for e in since(mark, BASE + "/anna/reminder") if e.get("repeat") == 2],
                       75 - (time.monotonic() - first))
        tap(rep, "repeat-interval 1min: the reminder repeats a minute after the first (%.0f s)"
            % (time.monotonic() - first), since(mark, BASE + "/anna/reminder")[-2:])

        # [reminders] clear-walking, clear-steps, clear-calf-raises: anna walks and ben does calf
        # raises, but clear-walking is off and they do not make 100000 steps or 1000 calf raises; each
        # key, lowered, lets what they did answer the reminder. Carl sits until clear-steps is low.
        def cleared(wearer, mark):
            return [e.get("cleared_by") for e in since(mark, "%s/%s/reminder" % (BASE, wearer))
                    if e.get("event") == "cleared"]

        sim("mode anna mode=walking cadence=110")
        sim("mode ben mode=calf_raises")
        mark = len(sub.messages())
        time.sleep(15)
        early = [by for w in ("anna", "ben", "carl") for by in cleared(w, mark)]
        mark = reload(clear_walking="5s")
        got = wait_for(lambda: cleared("anna", mark), 10)
        time.sleep(2)
        tap(not early and got and cleared("anna", mark)[:1] == ["walking"] and not cleared("ben", mark) and
            not cleared("carl", mark),
            "clear-walking 5s: anna's walking answers her reminder, ben's calf raises and carl's sitting do not",
            (early, cleared("anna", mark), cleared("ben", mark), cleared("carl", mark)))
        mark = reload(clear_walking="0", clear_steps="10", clear_calf_raises="3")
        got_b = wait_for(lambda: cleared("ben", mark), 10)
        sim("mode carl mode=walking cadence=110")
        got_c = wait_for(lambda: cleared("carl", mark), 20)
        tap(got_b and got_c and cleared("ben", mark)[:1] == ["calf_raises"] and cleared("carl", mark)[:1] == ["steps"],
            "clear-calf-raises 3 and clear-steps 10: ben's calf raises, then carl's first steps answer the reminders",
            (cleared("ben", mark), cleared("carl", mark)))

        # [reminders] enabled
        mark = reload(enabled="no")
        tap(state_after(mark, "anna", "disabled") and state_after(mark, "ben", "disabled"), "enabled = no: disabled",
            (latest_state("anna"), latest_state("ben")))

        # [bluetooth] backoff-initial, backoff-max: a dropped link waits out the long delay, and
        # comes back once the delay is short again.
        def online(wearer, role, mark):
            return [p for p in since(mark, "%s/%s/%s/availability" % (BASE, wearer, role))]

        def away_then_back(hold, release, away_s, back_s, away_name, back_name):
            """Reload `hold`, drop anna's left link: it stays away for away_s; reload `release`:
            it is back within back_s."""
            reload(**hold)
            time.sleep(1)
            mark = len(sub.messages())
            sim("drop-link " + ANNA_L)
            wait_for(lambda: [p for p in online("anna", "left", mark) if p.get("state") == "offline"], 10)
            time.sleep(away_s)
            av = online("anna", "left", mark)
            tap(av and av[-1].get("state") == "offline", away_name, av)
            mark = reload(**release)
            tap(wait_for(lambda: [p for p in online("anna", "left", mark) if p.get("state") == "online"], back_s),
                back_name, online("anna", "left", mark))

        away_then_back(dict(backoff_initial="10min", backoff_max="1h"), dict(backoff_initial="100ms", backoff_max="1s"),
                       6, 15, "backoff-initial 10min: the dropped insole is not reconnected yet",
                       "backoff-initial 100ms, backoff-max 1s: reconnected")

        # [bluetooth] stable-link, backoff-max: ben's right insole loses its link again and again;
        # each loss doubles the delay before the next attempt (backoff-initial 100ms) unless the link
        # had been up for stable-link, which starts it from backoff-initial again.
        def drop_ben_right(while_away=None):
            """Seconds from dropping the link until it streams again, None if not within a minute."""
            mark, t0 = len(sub.messages()), time.monotonic()
            sim("drop-link " + BEN_R)

            def states():
                return [p.get("state") for p in online("ben", "right", mark)]
            wait_for(lambda: "offline" in states(), 10, step=0.05)
            if while_away:
                while_away(t0, states)
            back = wait_for(lambda: "online" in states()[states().index("offline"):] if "offline" in states() else False,
                            60, step=0.05)
            return time.monotonic() - t0 if back else None

        mark = reload(backoff_max="1h")
        time.sleep(1)
        # Up for minutes, over the 60 s of stable-link: the delay starts from 100 ms (one attempt).
        first = drop_ben_right()
        reload(stable_link="1h")
        time.sleep(1)
        # Seven losses right after the link came back: 0.2 s, 0.4 s, ... 12.8 s at most.
        pumped = [drop_ben_right() for _ in range(7)]
        time.sleep(3)
        away = {}

        def lower_backoff_max(t0, states):
            time.sleep(max(0, t0 + 4 - time.monotonic()))
            away["states"] = states()
            reload(backoff_max="1s")

        # Up 3 s, below stable-link 1h: the next delay is 12.8-25.6 s. At 4 s it is away; backoff-max
        # 1s then reschedules the attempt within a second.
        back = drop_ben_right(lower_backoff_max)
        tap(first is not None and all(p is not None for p in pumped) and away["states"][-1:] == ["offline"],
            "stable-link 1h: a link up 3 s does not reset the backoff (still away after 4 s; %d losses before took %s s)"
            % (len(pumped) + 1, ", ".join("%.1f" % t for t in [first] + pumped if t is not None)), (first, pumped, away))
        tap(back is not None and back < 10, "backoff-max 1s: the pending attempt moves from 12.8 s or more to %s s"
            % ("%.1f" % back if back is not None else "never"), back)

        # Up 4 s, over stable-link 2s: the delay starts from 100 ms again, not from 25.6 s or more.
        reload(backoff_max="1h", stable_link="2s")
        time.sleep(4)
        back = drop_ben_right()
        tap(back is not None and back < 8, "stable-link 2s: a link up 4 s resets the backoff: back after %s s"
            % ("%.1f" % back if back is not None else "never"), back)
        reload(stable_link="60s", backoff_max="1s")
        time.sleep(1)

        # [bluetooth] connect-timeout: services that take 3 s to resolve make 1 s attempts time out;
        # with 10 s the insole comes back.
        sim("resolve-delay %s 3s" % ANNA_L)
        away_then_back(dict(connect_timeout="1s"), dict(connect_timeout="10s"), 8, 20,
                       "connect-timeout 1s: attempts that need 3 s time out", "connect-timeout 10s: the insole connects again")

        # [bluetooth] silence-timeout: a link that goes quiet for 10 s is dropped and made again.
        mark = reload(silence_timeout="2s")
        time.sleep(1)
        sim("lose %s count=400" % ANNA_R)
        tap(wait_for(lambda: [p for p in online("anna", "right", mark) if p.get("state") == "offline"], 15),
            "silence-timeout 2s: a silent insole is disconnected", online("anna", "right", mark))

        # [bluetooth] adapter-reset-after, exit-after: insoles that advertise but never accept a
        # connection get the adapter power-cycled, then the gateway exits for systemd to restart it
        # (one insole that still streams would show that the adapter works).
        reload(adapter_reset_after="2", exit_after="1")
        time.sleep(1)
        for address in (ANNA_L, ANNA_R, BEN_L, BEN_R, CARL_L, CARL_R):
            sim("fail-connect %s count=1000" % address)
        sim("drop-link " + BEN_L)
        code = wait_for(lambda: gw.poll() is not None and [gw.returncode], 40)
        log = world.log_tail("gateway.log", 40)
        tap("power-cycling" in log and code and code[0] != 0,
            "adapter-reset-after 2, exit-after 1: the adapter is power-cycled, then the gateway exits (status %s)"
            % (code[0] if code else "still running"), log)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
