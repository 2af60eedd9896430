#!/usr/bin/python3
"""Print the alerts of one division from a sharpeyes centre, with nothing but pyzmq.

Shows that any ZeroMQ client can follow a centre (protocol: docs/bus-protocol.md):
  1. a DEALER to the centre's event endpoint (CURVE) says "hello" and learns the PUB port;
  2. a SUB subscribes to "a/<significant digits of the division>" (that subtree, nothing else)
     and to "hb" (heartbeats);
  3. a "replay" request fetches everything stored after the last sequence number seen, so a
     subscriber that was away misses nothing; live messages then trigger further replays.

Debian: apt-get install python3-zmq

  examples/subscriber.py --center tcp://127.0.0.1:7701 --division 510603101201 \
      --key sub.key --center-key village.pub [--after 0] [--count N]
"""
import argparse
import json
import os
import stat
import sys
import time

import zmq


def read_key_pair(path):
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        sys.exit(f"{path}: secret key file is readable by group or others (chmod 600)")
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("# "):
                k, v = (s.strip() for s in line.split("=", 1))
                keys[k] = v.encode()
    return keys["public"], keys["secret"]


def read_public_key(path):
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("# "):
                return line.split("=", 1)[-1].strip().encode()
    sys.exit(f"{path}: no public key")


def significant_prefix(code):
    # province 2, city 2, county 2, township 3, village 3 digits; zero parts mean "whole level"
    keep, start = 2, 0
    for end in (2, 4, 6, 9, 12):
        if code[start:end].strip("0"):
            keep = end
        start = end
    return code[:keep]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--center", required=True, help="centre's event endpoint")
    ap.add_argument("--division", required=True)
    ap.add_argument("--key", required=True, help="own key pair file (sharpeyes keys gen)")
    ap.add_argument("--center-key", required=True, help="centre's public key file")
    ap.add_argument("--after", type=int, default=0, help="last sequence number already seen")
    ap.add_argument("--count", type=int, default=0, help="exit after this many alerts")
    args = ap.parse_args()

    public, secret = read_key_pair(args.key)
    server = read_public_key(args.center_key)
    ctx = zmq.Context()

    def curve(sock):
        sock.curve_serverkey = server
        sock.curve_publickey = public
        sock.curve_secretkey = secret
        sock.linger = 0
        return sock

    req = curve(ctx.socket(zmq.DEALER))
    req.connect(args.center)
    req.send_json({"v": 1, "type": "hello"})
    if not req.poll(5000):
        sys.exit("no answer from the centre (wrong key, or not on its allowlist?)")
    hello = req.recv_json()
    host = args.center.rsplit(":", 1)[0]
    sub = curve(ctx.socket(zmq.SUB))
    sub.connect(f"{host}:{hello['pub_port']}")
    prefix = significant_prefix(args.division)
    sub.setsockopt_string(zmq.SUBSCRIBE, "a/" + prefix)
    sub.setsockopt_string(zmq.SUBSCRIBE, "hb")

    last, printed, boot = args.after, 0, None
    want_replay, in_flight = False, False
    poller = zmq.Poller()
    poller.register(req, zmq.POLLIN)
    poller.register(sub, zmq.POLLIN)
    while not args.count or printed < args.count:
        if want_replay and not in_flight:
            req.send_json({"v": 1, "type": "replay", "prefix": prefix, "after": last})
            want_replay, in_flight = False, True
        events = dict(poller.poll(1000))
        if req in events:
            msg = req.recv_json()
            if msg.get("type") == "replay_batch":
                in_flight = False
                for alert in msg["alerts"]:
                    if alert["seq"] > last:
                        last = alert["seq"]
                        print(json.dumps(alert, ensure_ascii=False), flush=True)
                        printed += 1
                want_replay = want_replay or msg.get("more", False)
        if sub in events:
            topic, body = sub.recv_multipart()
            msg = json.loads(body)
            if topic == b"hb":
                if msg.get("boot") != boot:  # first heartbeat, or the centre restarted
                    boot, want_replay = msg.get("boot"), True
            elif msg.get("seq", 0) > last:
                want_replay = True  # fetch in order through replay: nothing skipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
