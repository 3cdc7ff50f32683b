#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/demo.sh as a new user runs it, on this test build (INSOLE2MQTT_DEMO_BUILD): both
wearers' gait lines appear and a timed run exits 0; when the simulator dies mid-demo, the demo
says so, shows the end of its log and exits non-zero. Prints TAP."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from harness import BUILD, SOURCE, Tap, wait_for

DEMO = os.path.join(SOURCE, "scripts", "demo.sh")


class Demo:
    """The demo with its output collected line by line (stdout and stderr together)."""

    def __init__(self, seconds):
        self.tmp = tempfile.mkdtemp(prefix="insole2mqtt-demo-test.")
        env = dict(os.environ, INSOLE2MQTT_DEMO_BUILD=BUILD, TMPDIR=self.tmp)
        self.proc = subprocess.Popen([DEMO, "--for", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True, text=True, errors="replace")
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def gait_line(self, wearer):
        return [l for l in self.lines if re.search(r"\b%s\b.*steps/min" % wearer, l)]

    def pid_of(self, component):
        for l in self.lines:
            m = re.search(r"processes:.*\b%s (\d+)" % component, l)
            if m:
                return int(m.group(1))
        return None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.wait(10)
        self.reader.join(5)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def output(self):
        return "\n".join(self.lines[-20:])


def main():
    tap = Tap()

    # A short run: both wearers' gait metrics show, and it ends by itself with status 0.
    demo = Demo(40)
    try:
        status = demo.wait(120)
        tap(status == 0, "demo.sh --for 40 exits 0 (status %s)" % status, demo.output())
        tap(demo.gait_line("anna") and demo.gait_line("ben"), "both wearers' gait lines appear",
            demo.output())
        if demo.gait_line("ben"):
            print("# " + demo.gait_line("ben")[0])
    finally:
        demo.stop()

    # The simulator dies mid-demo: the demo names it, shows its log's end and exits non-zero.
    demo = Demo(120)
    try:
        running = wait_for(lambda: demo.gait_line("anna") and demo.pid_of("simulator"), 90)
        tap(running, "the demo runs and names its processes", demo.output())
        sim = demo.pid_of("simulator")
        if sim:
            os.kill(sim, signal.SIGKILL)
        status = demo.wait(15)
        text = "\n".join(demo.lines)
        tap(status not in (None, 0), "killing the simulator ends the demo with a non-zero status (%s)" % status,
            demo.output())
        tap("simulator (insole-sim) (pid %s) exited" % sim in text and "last lines of" in text,
            "it says that the simulator exited and shows the end of its log", demo.output())
    finally:
        demo.stop()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
