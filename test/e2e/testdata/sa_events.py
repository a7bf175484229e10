"""Subscribes to the NETCONF event stream of a secgwd (RFC 5277
create-subscription) with ncclient and prints every sa-event notification
until one with the event named by --until arrives or --timeout passes."""
import argparse
import sys

from ncclient import manager

p = argparse.ArgumentParser()
p.add_argument("--host", required=True)
p.add_argument("--port", type=int, required=True)
p.add_argument("--user", default="admin")
p.add_argument("--password", required=True)
p.add_argument("--until", default="child-up")
p.add_argument("--timeout", type=float, default=20)
a = p.parse_args()

with manager.connect(host=a.host, port=a.port, username=a.user, password=a.password,
                     hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=10) as m:
    m.create_subscription()
    print("SUBSCRIBED", flush=True)
    while True:
        n = m.take_notification(block=True, timeout=a.timeout)
        if n is None:
            print("TIMEOUT", flush=True)
            sys.exit(1)
        xml = n.notification_xml
        if "sa-event" not in xml:
            continue
        print("EVENT " + xml.replace("\n", ""), flush=True)
        if "<event>%s</event>" % a.until in xml:
            sys.exit(0)
