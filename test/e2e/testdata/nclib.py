"""Plumbing of the ncclient suite (ncclient_suite.py): connections under
the framing asked for, PASS/FAIL checks, rpc-error assertions, and XML
helpers. Run by test/e2e/ncclient_test.go through Debian's /usr/bin/python3.

Each check prints "PASS name" or "FAIL name: why"; the Go test fails on any
FAIL line and when too few PASS lines appear.
"""

import argparse
import re
import sys
import threading
import time

from lxml import etree
from ncclient import manager
from ncclient.devices.default import DefaultDeviceHandler
from ncclient.operations import RPCError
from ncclient.transport.session import NetconfBase, SessionListener
import ncclient.transport.ssh as ncssh

# ncclient's session thread polls its send queue only when select() on the
# channel times out, every TICK (0.1 s): every request would wait up to
# 100 ms before it is sent. A shorter tick keeps the suite fast; it changes
# nothing on the wire.
ncssh.TICK = 0.005

NS_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_VRF = "urn:secgw:yang:secgw-vrf"
NS_IKE = "urn:secgw:yang:secgw-ike"
NS_CFG = "urn:secgw:yang:secgw-config"
NS_WD = "urn:ietf:params:xml:ns:netconf:default:1.0"
NS_MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NS_YLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
NS_NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NS_NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NSMAP = {"nc": NS_NC, "v": NS_VRF, "i": NS_IKE, "c": NS_CFG, "mon": NS_MON, "yl": NS_YLIB,
         "n": NS_NOTIF, "ncn": NS_NCN}
BASE11 = "urn:ietf:params:netconf:base:1.1"

GO_PATH = "/vrf[name='main']/ike/global-options"


class Base10Handler(DefaultDeviceHandler):
    """ncclient's default handler without base:1.1, so that the session
    uses end-of-message framing (RFC 6242 §4.1). ncclient appends the
    nc_params capabilities to its base list rather than replacing them,
    so a handler is the way to drop base:1.1."""

    _BASE_CAPABILITIES = [c for c in DefaultDeviceHandler._BASE_CAPABILITIES if c != BASE11]


class RawCapture(SessionListener):
    """Keeps every message the server sends, parsed or not."""

    def __init__(self):
        self.replies = []
        self.event = threading.Event()

    def callback(self, root, raw):
        self.replies.append(raw)
        self.event.set()

    def errback(self, ex):
        pass


def cfg(ike, vrf="main"):
    """An edit-config <config> holding ike content of a vrf."""
    return ('<config><vrf xmlns="%s" xmlns:nc="%s"><name>%s</name><ike xmlns="%s">%s</ike></vrf></config>'
            % (NS_VRF, NS_NC, vrf, NS_IKE, ike))


def go(inner):
    """A <config> holding global-options content."""
    return cfg("<global-options>%s</global-options>" % inner)


VPN = """<vpn %s><name>%s</name>
  <ike-policy><pre-shared-key>0x00112233445566778899aabbccddeeff</pre-shared-key></ike-policy>
  <local-address>192.0.2.1</local-address><remote-address>%s</remote-address>
  <local-id>gw.example.com</local-id><remote-id>%s.example.com</remote-id>
  <security-policy><name>%s-sp</name><local-ts><subnet>10.1.0.0/16</subnet></local-ts>
    <remote-ts><subnet>10.2.0.0/16</subnet></remote-ts></security-policy>
</vpn>"""


def vpn(name, op="", remote="198.51.100.1"):
    """A <config> holding a complete VPN, with an operation attribute."""
    attr = 'nc:operation="%s"' % op if op else ""
    return cfg(VPN % (attr, name, remote, name, name))


def values(data_xml, xpath):
    """The texts of the nodes of an XML document selected by xpath."""
    root = etree.fromstring(data_xml.encode())
    return [n.text if isinstance(n, etree._Element) else str(n) for n in root.xpath(xpath, namespaces=NSMAP)]


def wait(cond, timeout=5.0):
    """Polls cond until it holds or timeout seconds have passed."""
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


PREFIXED = re.compile(r"([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)")


def path_problem(err, want):
    """Why the error-path of err differs from want, or None. want is written
    without prefixes; the server qualifies each node with a prefix (RFC
    6241 §4.3: an instance-identifier whose prefixes are declared in
    scope), which must bind the vrf list and its key to secgw-vrf and every
    node below to secgw-ike."""
    got = err.path
    if got is None or want is None:
        return None if got == want else "path %r" % got
    got = got.strip()
    el = err.xml.find("{%s}error-path" % NS_NC)
    nsmap = el.nsmap if el is not None else {}
    first_end = got.find("/", 1) if got.find("/", 1) > 0 else len(got)
    # Split on quoted key values so that colons inside them are left alone.
    parts = re.split(r"('[^']*'|\"[^\"]*\")", got)
    plain, offset = [], 0
    for i, part in enumerate(parts):
        if i % 2 == 0:
            for m in PREFIXED.finditer(part):
                want_ns = NS_VRF if offset + m.start() < first_end else NS_IKE
                if nsmap.get(m.group(1)) != want_ns:
                    return "prefix %s of %s binds %r, want %r (path %r)" % (
                        m.group(1), m.group(2), nsmap.get(m.group(1)), want_ns, got)
            part = PREFIXED.sub(r"\2", part)
        plain.append(part)
        offset += len(parts[i])
    if "".join(plain) != want:
        return "path %r" % got
    return None


class Checks:
    """The check primitives every section uses."""

    def __init__(self, args):
        self.args = args
        self.passed = 0
        self.failed = 0
        self.admin = None

    def connect(self, user="admin", password=None):
        """A new session, checked to use the framing of the run."""
        params = {}
        if self.args.framing == "1.0":
            params["device_params"] = {"handler": Base10Handler}
        m = manager.connect(host=self.args.host, port=self.args.port, username=user,
                            password=password or self.args.password, hostkey_verify=False,
                            look_for_keys=False, allow_agent=False, timeout=30, **params)
        want = NetconfBase.BASE_10 if self.args.framing == "1.0" else NetconfBase.BASE_11
        self.check("session %s (%s) framing is base:%s" % (m.session_id, user, self.args.framing),
                   m._session._base == want, "client negotiated %s" % m._session._base)
        return m

    def check(self, name, ok, why=""):
        if ok:
            self.passed += 1
            print("PASS", name)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, why))
        sys.stdout.flush()
        return ok

    def call(self, name, fn):
        """Runs fn, failing the check on any exception; returns its result."""
        try:
            r = fn()
            self.check(name, True)
            return r
        except Exception as e:  # pylint: disable=broad-except
            self.check(name, False, "%s: %s" % (type(e).__name__, e))
            return None

    def running(self, m=None):
        return (m or self.admin).get_config(source="running").data_xml

    def candidate(self, m=None):
        return (m or self.admin).get_config(source="candidate").data_xml

    def leaf(self, source, name, m=None):
        """A global-options leaf of a datastore, or None."""
        data = (m or self.admin).get_config(source=source).data_xml
        v = values(data, "//i:global-options/i:%s" % name)
        return v[0] if v else None

    def rpc_error(self, name, fn):
        """Runs fn, which must fail with an rpc-error; returns the first
        error, or None (after a FAIL) when fn succeeded."""
        try:
            fn()
        except RPCError as e:
            return e.errors[0] if getattr(e, "errors", None) else e
        self.check(name, False, "no rpc-error")
        return None

    def expect_error(self, name, fn, etype, tag, path, message, info=None, m=None):
        """fn must fail with exactly this rpc-error (RFC 6241 §4.3 and
        Appendix A: error-type, error-tag, error-path, a message containing
        message, and the error-info elements of info) and leave running
        and the candidate as they were."""
        before, cand = self.running(), self.candidate(m)
        err = self.rpc_error(name, fn)
        if err is not None:
            bad = path_problem(err, path)
            self.check(name, (err.type, err.tag) == (etype, tag) and bad is None and message in (err.message or ""),
                       "got type=%r tag=%r path=%r message=%r, want %r %r %r %r (%s)"
                       % (err.type, err.tag, err.path, err.message, etype, tag, path, message, bad))
            for k, v in (info or {}).items():
                self.check(name + ": error-info " + k, v in values(err.info or "<x/>", "//nc:" + k),
                           "error-info %s" % err.info)
        self.check(name + ": running unchanged", self.running() == before, "running changed")
        self.check(name + ": candidate unchanged", self.candidate(m) == cand, "candidate changed")

    def reset(self):
        self.admin.discard_changes()


def main(suite_class, sections):
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--reader-user", default="reader")
    p.add_argument("--reader-password", required=True)
    p.add_argument("--framing", choices=["1.0", "1.1"], required=True)
    p.add_argument("--yang-dir", required=True)
    p.add_argument("--section", action="append", choices=sections)
    args = p.parse_args()
    s = suite_class(args)
    s.admin = s.connect()
    for name in args.section or sections:
        print("== " + name)
        started = time.time()
        try:
            getattr(s, name)()
        except Exception as e:  # pylint: disable=broad-except
            s.check(name, False, "aborted: %s: %s" % (type(e).__name__, e))
            try:
                s.reset()
            except Exception:  # pylint: disable=broad-except
                pass
        print("== %s took %.2f s" % (name, time.time() - started))
    s.admin.close_session()
    print("checks: %d ok, %d failing" % (s.passed, s.failed))
    sys.exit(1 if s.failed else 0)
