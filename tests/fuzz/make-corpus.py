#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Writes the seed corpora for tests/fuzz (run from anywhere; files are small and committed).
# Input format of fuzz-decoder.c: frames of [selector u8][length u16 LE][bytes]; selector bits 0-6
# pick the decoder's characteristic (in registry order), bit 7 simulates a reconnect.
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(sel, data):
    return bytes([sel]) + struct.pack('<H', len(data)) + data


def h(s):
    return bytes.fromhex(s.replace(' ', ''))


def oip_frame(seq, t0, period=10000, cells=(100, 200), samples=2, imu=False):
    b = struct.pack('<BBHIHBB', 1, 1 if imu else 0, seq, t0, period, len(cells), samples)
    for s in range(samples):
        b += b''.join(struct.pack('<H', (c + s) & 0xffff) for c in cells)
        if imu:
            b += struct.pack('<6h', 0, 0, 1000, 15, -20, 0)
    return b


def orphe(header, serial, hms=(12, 0, 0), ms=0, fill=0x11):
    b = bytes([header]) + struct.pack('>H', serial) + bytes(hms) + struct.pack('>H', ms)
    return b + bytes([fill]) * (104 - len(b))


def ukaton_data(t_ms, pressure=None, single=False, com=None, mass=None, heel_to_toe=None, motion=False):
    """A Ukaton Mission sensor-data notification (docs/decoders.md)."""
    m = b''
    if motion:
        m += bytes([0]) + struct.pack('<3h', 0, 0, 2511)      # acceleration, 9.81 m/s^2 x 2^8
        m += bytes([3]) + struct.pack('<3h', 256, -256, 0)    # rotation rate x 2^9
        m += bytes([5]) + struct.pack('<4h', 16384, 0, 0, 0)  # quaternion x 2^14
    p = b''
    if pressure is not None:
        p += bytes([0]) + bytes(pressure) if single else bytes([1]) + struct.pack('<16H', *pressure)
    if com is not None:
        p += bytes([2]) + struct.pack('<2f', *com)
    if mass is not None:
        p += bytes([3]) + struct.pack('<I', mass)
    if heel_to_toe is not None:
        p += bytes([4]) + struct.pack('<d', heel_to_toe)
    return struct.pack('<H', t_ms) + bytes([0, len(m)]) + m + bytes([1, len(p)]) + p


def gait_walk(rate_hz, seconds, cells=4, raw=False, step_s=0.55):
    """Input of fuzz-gait-engine.c: both feet walking (a load rolling from heel to toes in the
    first 60 % of each stride), interleaved, with a snapshot every second."""
    out = bytes([(cells - 1) | (0x10 if raw else 0) | 0x40])
    period = round(1e6 / rate_hz)
    for i in range(int(seconds * rate_hz)):
        t = i / rate_hz
        for side in (0, 1):
            phase = (t / (2 * step_s) + 0.5 * side) % 1.0
            load = math.sin(math.pi * phase / 0.6) if phase < 0.6 else 0.0
            centre = phase / 0.6 * (cells - 1)  # heel first, toes last
            values = [int(3000 * load * max(0.0, 1 - abs(c - centre) / 1.5)) for c in range(cells)]
            control = side | (0x02 if side == 0 and i % rate_hz == 0 else 0)
            out += struct.pack('<BH', control, 0 if i == 0 else period) + b''.join(struct.pack('<H', v) for v in values)
    return out


def gait_hostile():
    """NaN, infinity, negative and ceiling values, a repeated time, tiny and long steps, a new day."""
    out = bytes([0x13])  # 4 cells, raw counts
    records = [(0x00, 10000, [0xffff, 0xfffe, 0xfffd, 4095]), (0x01, 10000, [0, 0, 0, 0]),
               (0x00, 0, [100, 100, 100, 100]), (0x1c, 65535, [4095] * 4), (0x02, 1, [4095] * 4),
               (0x21, 3, [0xfffe] * 4), (0x03, 10000, [0xffff] * 4)]
    for control, dt, values in records:
        out += struct.pack('<BH', control, dt) + b''.join(struct.pack('<H', v) for v in values)
    return out


corpora = {
    'rsc': {
        'walking': frame(0, h('00 00 01 5a')),
        'all-fields': frame(0, h('07 c0 03 a8 85 00 e8 03 00 00')),
        'stryd': frame(0, h('80 9a 02 ac 00 00 00 00 00 00 00 00 00')),
        'truncated': frame(0, h('03 00 01 5a 64 00 10 27 00')),
        'feature-location': frame(1, h('1f 00')) + frame(2, h('02')),
        'session': b''.join(frame(0, h('02 00 02 50') + struct.pack('<I', 1000 + 10 * i)) for i in range(8))
                   + frame(0x80, h('02 00 02 50 10 27 00 00')) + frame(0, h('02 00 02 50 05 00 00 00')),
    },
    'battery': {
        'full': frame(0, h('64')),
        'empty': frame(0, h('00')),
        'invalid': frame(0, h('65')) + frame(0, h('ff')),
        'long': frame(0, h('50 00')),
    },
    'device_info': {
        'manufacturer': frame(0, b'Acme'),
        'padded': frame(4, b'1.2\0\0\0'),
        'long': frame(1, b'0123456789abcdef' * 5),
        'binary': frame(2, bytes(range(256))[:80]),
        'all': b''.join(frame(i, b'x' * i) for i in range(6)),
    },
    'open_insole': {
        'frame': frame(0, oip_frame(7, 1000000)),
        'frame-imu': frame(0, oip_frame(8, 0, 1000, (500,), 1, True)),
        'layout-then-frames': frame(1, h('01 01 02 01 00 00 00 3f 00 00 80 bf 00 00 64 00 ff 80 fa 00'))
                              + b''.join(frame(0, oip_frame(65534 + i & 0xffff, (0xffffd8f0 + 20000 * i) & 0xffffffff))
                                         for i in range(5)),
        'reboot': frame(0, oip_frame(100, 5000000)) + frame(0, oip_frame(0, 1000)) + frame(0x80, oip_frame(5, 21000))
                  + frame(0, oip_frame(9, 41000)),
        'steps-control': frame(2, h('01 00 10 27 00 00 ef be ad de')) + frame(3, h('01 64 00')) + frame(3, h('02')),
        'max': frame(0, oip_frame(1, 0, 1000, tuple(range(32)), 40, True)),
        'bad': frame(0, oip_frame(1, 0)[:-1]) + frame(0, h('02')) + frame(1, h('01 02 01 00'))
               + frame(0, h('01 00 00 00 00 00 00 00 10 27 21 01')),
    },
    'orphe': {
        'h56': frame(0, orphe(56, 0x1234, (13, 45, 7), 250)),
        'h55': frame(0, orphe(55, 65535, (23, 59, 59), 999)),
        'h50': frame(0, orphe(50, 0, (0, 0, 0), 5, 0x05)),
        'midnight-wrap': b''.join(frame(0, orphe(56, (65534 + i) & 0xffff, (23, 59, 59) if i < 2 else (0, 0, 0),
                                                 (960 + 20 * i) % 1000)) for i in range(4)),
        'bad': frame(0, orphe(56, 1)[:103]) + frame(0, orphe(57, 1)) + frame(0, orphe(56, 1, (24, 0, 0))),
    },
    'ukaton': {
        'steps': frame(0, h('10 27 00 00')),
        'max': frame(0, h('ff ff ff ff')),
        'bad': frame(0, h('10 27 00')) + frame(0, h('10 27 00 00 00')),
    },
    'ukaton_pressure': {
        # characteristic 0: sensor data (time, then [sensor type, size, entries]); 1: configuration
        'pressure': b''.join(frame(0, ukaton_data(20 * i, pressure=[(100 * i + 37 * k) % 4096 for k in range(16)]))
                             for i in range(6)),
        'single-byte': frame(0, ukaton_data(5, pressure=list(range(0, 256, 16)), single=True)),
        'everything': frame(0, ukaton_data(65530, pressure=[4095] * 16, com=(0.5, 0.25), mass=65520,
                                           heel_to_toe=0.75, motion=True))
                      + frame(0x80, ukaton_data(10, pressure=[1] * 16)),
        'wrap-and-reboot': frame(0, ukaton_data(65500, pressure=[9] * 16)) + frame(0, ukaton_data(4, pressure=[9] * 16))
                           + frame(0, ukaton_data(2, pressure=[9] * 16)),
        'config': frame(1, h('01 03 01 14 00')) + frame(1, h('00 06 00 0a 00 03 0a 00 01 03 01 14 00')),
        'bad': frame(0, h('05')) + frame(0, h('05 00 01 21 01') + bytes(32)) + frame(0, h('05 00 02 00'))
               + frame(0, h('05 00 01 21 01') + b'\xff\x0f' * 15 + b'\x00\x10') + frame(1, h('01 04 01 14 00 00')),
    },
    'gait_engine': {
        'walk-100hz': gait_walk(100, 12),
        'walk-300hz': gait_walk(300, 6),   # the sample rings grow after 1.3 s
        'walk-raw-1-cell': gait_walk(100, 5, cells=1, raw=True),
        'hostile': gait_hostile(),
    },
}

for name, seeds in corpora.items():
    d = os.path.join(HERE, 'corpus', name)
    os.makedirs(d, exist_ok=True)
    for seed, data in seeds.items():
        with open(os.path.join(d, 'seed-' + seed), 'wb') as f:
            f.write(data)
