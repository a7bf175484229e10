"""The sections of the ncclient suite that read: filters, with-defaults,
module discovery, notifications, the read-only role, and the rpc-errors of
bad and malformed requests."""

import os
import time

from lxml import etree
from ncclient.operations.rpc import RPCReplyListener
from ncclient.xml_ import to_ele

from nclib import (GO_PATH, NS_CFG, NS_IKE, NS_MON, NS_NC, NS_NOTIF, NS_VRF, NS_WD, NS_YLIB, NSMAP,
                   RawCapture, cfg, go, values, vpn)

IKE_FILTER = '<vrf xmlns="%s"><name>main</name><ike xmlns="%s">%%s</ike></vrf>' % (NS_VRF, NS_IKE)


class ReadChecks:
    """Mixed into the suite with nclib.Checks."""

    def filters(self):
        m = self.admin
        m.edit_config(target="candidate", config=vpn("spoke", "create", remote="198.51.100.44"))
        m.commit()
        sub = lambda f, src="running": m.get_config(source=src, filter=("subtree", IKE_FILTER % f)).data_xml
        d = sub("<vpn><name>spoke</name></vpn>")
        self.check("subtree: a key content match selects one entry whole",
                   values(d, "//i:vpn/i:name") == ["spoke"] and values(d, "//i:vpn/i:remote-id") == ["spoke.example.com"]
                   and values(d, "//i:security-policy/i:name") == ["spoke-sp"], d)
        d = sub("<vpn><name/><remote-address/></vpn>")
        self.check("subtree: selection nodes select only those leaves",
                   sorted(values(d, "//i:vpn/i:name")) == ["hq", "spoke"] and values(d, "//i:local-id") == []
                   and len(values(d, "//i:vpn/i:remote-address")) == 2, d)
        d = sub("<vpn><remote-address>198.51.100.44</remote-address><name/></vpn>")
        self.check("subtree: a content match on a non-key leaf",
                   values(d, "//i:vpn/i:name") == ["spoke"] and values(d, "//i:vpn/i:remote-address") == ["198.51.100.44"], d)
        d = sub("<vpn><name>none</name></vpn>")
        self.check("subtree: a match on no entry returns no vpn", values(d, "//i:vpn") == [], d)
        d = m.get(filter=("subtree", IKE_FILTER % "<vpn><name>spoke</name><remote-address/></vpn>")).data_xml
        self.check("subtree filter on get", values(d, "//i:vpn/i:remote-address") == ["198.51.100.44"]
                   and values(d, "//mon:netconf-state") == [], d)
        # ncclient cannot build an empty filter: the request goes raw.
        d = m.dispatch(to_ele('<get-config xmlns="%s"><source><running/></source><filter type="subtree"/></get-config>'
                              % NS_NC)).xml
        self.check("an empty filter selects nothing (RFC 6241 §6.4.2)",
                   values(d, "//nc:data") != [] and values(d, "//nc:data/*") == [], d)
        xp = lambda sel, src="running": m.get_config(source=src, filter=("xpath", sel)).data_xml
        d = self.call("xpath filter on get-config", lambda: xp("/vrf/ike/vpn[name='spoke']"))
        self.check("xpath: a list entry by key", d and values(d, "//i:vpn/i:name") == ["spoke"]
                   and values(d, "//i:vpn/i:remote-id") == ["spoke.example.com"], d)
        d = xp("/vrf/ike/vpn/remote-address")
        self.check("xpath: a leaf of every entry, with the keys",
                   d and sorted(values(d, "//i:vpn/i:name")) == ["hq", "spoke"] and values(d, "//i:local-id") == [], d)
        d = xp("/vrf/ike/vpn[remote-address='198.51.100.44']/name")
        self.check("xpath: a predicate on a non-key leaf", d and values(d, "//i:vpn/i:name") == ["spoke"], d)
        ns = {"v": NS_VRF, "i": NS_IKE}
        d = m.get_config(source="running", filter=("xpath", (ns, "/v:vrf/i:ike/i:vpn[i:name='hq']/i:remote-address"))).data_xml
        self.check("xpath with prefixes bound on the filter", values(d, "//i:vpn/i:name") == ["hq"], d)
        d = xp("//vpn[name='nothing']")
        self.check("xpath selecting nothing returns empty data", values(d, "/nc:data/*") == [], d)
        d = m.get(filter=("xpath", "/vrf/ike/vpn/name")).data_xml
        self.check("xpath filter on get", sorted(values(d, "//i:vpn/i:name")) == ["hq", "spoke"]
                   and values(d, "//i:remote-address") == [], d)
        m.edit_config(target="candidate", config=cfg('<vpn nc:operation="delete"><name>spoke</name></vpn>'))
        d = xp("/vrf/ike/vpn/name", "candidate")
        self.check("xpath filter on the candidate", values(d, "//i:vpn/i:name") == ["hq"], d)
        m.commit()

    def with_defaults(self):
        m = self.admin
        m.edit_config(target="candidate", config=go("<retransmit-tries>5</retransmit-tries><threads>15</threads>"))
        m.commit()
        flt = ("subtree", IKE_FILTER % "<global-options/>")

        def get(mode, op="get_config"):
            if op == "get":
                return m.get(filter=flt, with_defaults=mode).data_xml
            return m.get_config(source="running", filter=flt, with_defaults=mode).data_xml

        for mode in [None, "explicit"]:
            d = get(mode)
            self.check("explicit (%s) shows a value set to its default" % mode,
                       values(d, "//i:retransmit-tries") == ["5"], d)
            self.check("explicit (%s) hides defaults" % mode, values(d, "//i:retransmit-timeout") == [], d)
        for op in ["get_config", "get"]:
            full = get("report-all", op)
            self.check(op + " report-all shows defaults",
                       values(full, "//i:global-options/i:retransmit-timeout") == ["4.0"]
                       and values(full, "//i:global-options/i:retransmit-base") == ["1.8"]
                       and values(full, "//i:retransmit-tries") == ["5"], full)
            trim = get("trim", op)
            self.check(op + " trim hides a value equal to its default",
                       values(trim, "//i:retransmit-tries") == [] and values(trim, "//i:threads") == ["15"], trim)
        tagged = get("report-all-tagged")
        root = etree.fromstring(tagged.encode())
        node = root.xpath("//i:retransmit-timeout", namespaces=NSMAP)
        self.check("report-all-tagged marks defaults", node and node[0].get("{%s}default" % NS_WD) == "true", tagged)
        node = root.xpath("//i:threads", namespaces=NSMAP)
        self.check("report-all-tagged leaves set values unmarked", node and node[0].get("{%s}default" % NS_WD) is None, tagged)

    def schemas(self):
        m = self.admin
        caps = list(m.server_capabilities)
        listed = m.get(filter=("subtree", '<netconf-state xmlns="%s"><schemas/></netconf-state>' % NS_MON)).data_xml
        for f in sorted(os.listdir(self.args.yang_dir)):
            if not f.endswith(".yang"):
                continue
            name = f[:-5]
            with open(os.path.join(self.args.yang_dir, f)) as fh:
                text = fh.read()
            self.check("netconf-state schemas lists " + name, name in values(listed, "//mon:schema/mon:identifier"), listed)
            got = self.call("get-schema " + name, lambda: m.get_schema(name).data)
            self.check("get-schema %s returns the module text" % name, got is not None and got.strip() == text.strip(),
                       (got or "")[:80])
            rev = [c.split("revision=")[1].split("&")[0] for c in caps if "module=%s&" % name in c and "revision=" in c]
            if rev:
                self.call("get-schema %s version %s format yang" % (name, rev[0]),
                          lambda: m.get_schema(name, version=rev[0], format="yang"))
        self.expect_error("get-schema of an unknown module", lambda: m.get_schema("no-such-module"),
                          "protocol", "invalid-value", None, "no schema no-such-module", info={"bad-element": "identifier"})
        self.expect_error("get-schema of a wrong version", lambda: m.get_schema("secgw-vrf", version="1999-01-01"),
                          "protocol", "invalid-value", None, "no schema secgw-vrf 1999-01-01")
        self.expect_error("get-schema in another format", lambda: m.get_schema("secgw-vrf", format="yin"),
                          "application", "invalid-value", None, "only the yang format", info={"bad-element": "format"})

    def yang_library(self):
        """RFC 8525 yang-library and RFC 7895 modules-state, consistent
        with the hello's module capabilities."""
        m = self.admin
        caps = {c.split("module=")[1].split("&")[0]: c.split("revision=")[1].split("&")[0]
                for c in m.server_capabilities if "module=" in c and "revision=" in c}
        lib = m.get(filter=("subtree", '<yang-library xmlns="%s"/>' % NS_YLIB)).data_xml
        mods = dict(zip(values(lib, "//yl:module-set/yl:module/yl:name"), values(lib, "//yl:module-set/yl:module/yl:revision")))
        for name in ["secgw-vrf", "secgw-ike", "secgw-ha", "secgw-config"]:
            self.check("yang-library implements %s at the hello's revision" % name,
                       name in mods and mods[name] == caps.get(name), (mods, caps))
        self.check("yang-library imports the type modules",
                   {"ietf-inet-types", "ietf-yang-types", "secgw-types"} <= set(values(lib, "//yl:import-only-module/yl:name")), lib)
        self.check("yang-library lists secgw-ike's submodules",
                   "secgw-ike-vpn" in values(lib, "//yl:module[yl:name='secgw-ike']/yl:submodule/yl:name"), lib)
        self.check("yang-library names running and candidate",
                   {"ds:running", "ds:candidate"} <= set(values(lib, "//yl:datastore/yl:name")), lib)
        self.check("yang-library has a content-id", values(lib, "//yl:content-id") != [], lib)
        st = m.get(filter=("subtree", '<modules-state xmlns="%s"/>' % NS_YLIB)).data_xml
        self.check("modules-state lists the same modules",
                   set(mods) <= set(values(st, "//yl:module/yl:name")) and values(st, "//yl:module-set-id") != [], st)
        self.check("a yang-library filter returns no configuration", values(lib, "//v:vrf") == [], lib)

    def notifications(self):
        """RFC 5277 create-subscription; RFC 6470 session-start,
        session-end and netconf-config-change events."""
        sub = self.connect()
        self.call("create-subscription", sub.create_subscription)
        self.expect_error("a second create-subscription", sub.create_subscription,
                          "protocol", "in-use", None, "already has a subscription", m=sub)
        other = self.connect()
        other.edit_config(target="candidate", config=cfg(
            '<vpn nc:operation="create"><name>notif</name><remote-address>198.51.100.60</remote-address></vpn>'
            '<global-options><threads>16</threads></global-options>'))
        other.commit()
        victim = self.connect()
        other.kill_session(str(victim.session_id))
        other.edit_config(target="candidate", config=go("<threads>17</threads>"))
        other.commit(confirmed=True, timeout="1")
        want = {
            "session-start of the other session": "//ncn:netconf-session-start[ncn:session-id='%s' and ncn:username='admin']" % other.session_id,
            "config-change by the other session": "//ncn:netconf-config-change[ncn:changed-by/ncn:session-id='%s' and ncn:changed-by/ncn:username='admin' and ncn:datastore='running']" % other.session_id,
            "config-change target and operation of the new vpn": "//ncn:netconf-config-change/ncn:edit[ncn:operation='create' and contains(ncn:target, \":vpn[\") and contains(ncn:target, \"='notif']\")]",
            "session-end of the killed session, naming its killer": "//ncn:netconf-session-end[ncn:session-id='%s' and ncn:killed-by='%s' and ncn:termination-reason='killed']" % (victim.session_id, other.session_id),
            "config-change by the server when a confirmed commit times out": "//ncn:netconf-config-change[ncn:changed-by/ncn:server]",
        }
        got = []
        seen = set()

        def drain(timeout):
            end = time.time() + timeout
            while time.time() < end and len(seen) < len(want):
                n = sub.take_notification(block=True, timeout=0.2)
                if n is None:
                    continue
                got.append(n.notification_xml)
                doc = "<all>%s</all>" % n.notification_xml.replace('<?xml version="1.0" encoding="UTF-8"?>', "")
                for name, xp in want.items():
                    if values(doc, xp):
                        seen.add(name)

        drain(6)
        other.close_session()
        want["session-end of a closed session"] = "//ncn:netconf-session-end[ncn:session-id='%s' and ncn:termination-reason='closed']" % other.session_id
        drain(4)
        for name in want:
            self.check("notification: " + name, name in seen, got)
        self.check("notifications carry eventTime",
                   got and all(values(g, "/n:notification/n:eventTime") for g in got), got)
        self.check("the edit target is an instance-identifier with module prefixes",
                   any("/vrf:vrf[vrf:name='main']/ike:ike/ike:vpn[ike:name='notif']" in g for g in got), got)
        sub.close_session()
        self.admin.edit_config(target="candidate", config=cfg('<vpn nc:operation="delete"><name>notif</name></vpn>'))
        self.admin.commit()

    def reader(self):
        r = self.connect(self.args.reader_user, self.args.reader_password)
        admin_view = self.running()
        self.check("the admin reads the secret", "pre-shared-key" in admin_view, admin_view)
        data = self.call("read-only get-config", lambda: r.get_config(source="running").data_xml)
        self.check("read-only user sees config", data and "hq" in values(data, "//i:vpn/i:name"), data)
        self.check("read-only get-config omits secrets", data and "pre-shared-key" not in data, data)
        data = self.call("read-only get with report-all", lambda: r.get(with_defaults="report-all").data_xml)
        self.check("read-only get omits secrets", data and "pre-shared-key" not in data and "0x0011" not in data, data)
        data = self.call("read-only get-config of the candidate", lambda: r.get_config(source="candidate").data_xml)
        self.check("read-only candidate omits secrets", data and "pre-shared-key" not in data, data)
        self.call("read-only get-schema", lambda: r.get_schema("secgw-vrf"))
        self.call("read-only create-subscription", r.create_subscription)
        for op, fn in [("edit-config", lambda: r.edit_config(target="candidate", config=go("<threads>2</threads>"))),
                       ("copy-config", lambda: r.copy_config(source="running", target="candidate")),
                       ("delete-config", lambda: r.delete_config(target="candidate")),
                       ("lock", lambda: r.lock("candidate")), ("unlock", lambda: r.unlock("candidate")),
                       ("commit", r.commit), ("cancel-commit", r.cancel_commit),
                       ("discard-changes", r.discard_changes), ("validate", lambda: r.validate(source="candidate")),
                       ("kill-session", lambda: r.kill_session(str(self.admin.session_id))),
                       ("rollback", lambda: r.dispatch(to_ele('<rollback xmlns="%s"><commit-id>1</commit-id></rollback>' % NS_CFG))),
                       ("flush", lambda: r.dispatch(to_ele('<flush xmlns="%s"/>' % NS_IKE)))]:
            self.expect_error("access-denied: " + op, fn, "application", "access-denied", None,
                              "user %s (role read-only) may not run %s" % (self.args.reader_user, op), m=r)
        self.check("the admin session survived the reader's kill-session", self.admin.connected)
        r.close_session()

    def bad_requests(self):
        m = self.admin
        NC = 'xmlns="%s"' % NS_NC
        raw = lambda x: (lambda: m.dispatch(to_ele(x % NC)))
        self.expect_error("bad value", lambda: m.edit_config(target="candidate", config=go(
            "<retransmit-tries>101</retransmit-tries>")), "application", "invalid-value",
            GO_PATH + "/retransmit-tries", "101 is out of range 0..100")
        self.expect_error("unknown element", lambda: m.edit_config(target="candidate", config=go("<bogus>1</bogus>")),
                          "application", "unknown-element", GO_PATH + "/bogus", 'unknown element "bogus"',
                          info={"bad-element": "bogus"})
        self.expect_error("unknown namespace", lambda: m.edit_config(
            target="candidate", config='<config><vrf xmlns="urn:example:nope"><name>main</name></vrf></config>'),
            "application", "unknown-namespace", "/vrf", 'unknown namespace "urn:example:nope"',
            info={"bad-element": "vrf", "bad-namespace": "urn:example:nope"})
        self.expect_error("missing key", lambda: m.edit_config(
            target="candidate", config=cfg("<vpn><local-address>192.0.2.1</local-address></vpn>")),
            "application", "missing-element", "/vrf[name='main']/ike/vpn", "has no key name",
            info={"bad-element": "name"})
        self.expect_error("create on existing", lambda: m.edit_config(target="candidate", config=vpn("hq", "create")),
                          "application", "data-exists", "/vrf[name='main']/ike/vpn[name='hq']", "already exists")
        self.expect_error("delete of missing", lambda: m.edit_config(
            target="candidate", config=cfg('<vpn nc:operation="delete"><name>nope</name></vpn>')),
            "application", "data-missing", "/vrf[name='main']/ike/vpn[name='nope']", "does not exist")
        self.expect_error("edit-config of running", lambda: m.edit_config(target="running", config=go("<threads>2</threads>")),
                          "protocol", "operation-not-supported", None, "edit-config targets the candidate",
                          info={"bad-element": "target"})
        self.expect_error("edit-config without config", raw("<edit-config %s><target><candidate/></target></edit-config>"),
                          "protocol", "missing-element", None, "needs a config element", info={"bad-element": "config"})
        self.expect_error("bad default-operation", raw(
            "<edit-config %s><target><candidate/></target><default-operation>delete</default-operation><config/></edit-config>"),
            "protocol", "invalid-value", None, "default-operation must be", info={"bad-element": "default-operation"})
        self.expect_error("bad test-option", raw(
            "<edit-config %s><target><candidate/></target><test-option>maybe</test-option><config/></edit-config>"),
            "protocol", "invalid-value", None, "test-option must be", info={"bad-element": "test-option"})
        self.expect_error("unknown operation", lambda: m.dispatch(to_ele('<frobnicate xmlns="urn:example:nope"/>')),
                          "protocol", "operation-not-supported", None, "operation frobnicate", info={"bad-element": "frobnicate"})
        self.expect_error("model RPC without its mandatory choice", lambda: m.dispatch(to_ele('<flush xmlns="%s"/>' % NS_IKE)),
                          "protocol", "missing-element", None, "flush needs ike-sa or child-sa", info={"bad-element": "flush"})
        # The missing element is source (this check said target before
        # the server used to name the wrong element).
        self.expect_error("get-config without source", raw("<get-config %s/>"),
                          "protocol", "missing-element", None, "no datastore given", info={"bad-element": "source"})
        self.expect_error("get-config of a url", raw("<get-config %s><source><url>file:///x</url></source></get-config>"),
                          "protocol", "invalid-value", None, "url is not supported")
        self.expect_error("filter of an unknown type", raw('<get-config %s><source><running/></source><filter type="regex"/></get-config>'),
                          "protocol", "bad-attribute", None, "filter type regex",
                          info={"bad-attribute": "type", "bad-element": "filter"})
        self.expect_error("xpath filter without select", raw('<get-config %s><source><running/></source><filter type="xpath"/></get-config>'),
                          "protocol", "missing-attribute", None, "needs a select attribute",
                          info={"bad-attribute": "select", "bad-element": "filter"})
        self.expect_error("xpath syntax error", lambda: m.get_config(source="running", filter=("xpath", "/vrf[[")),
                          "application", "invalid-value", None, "xpath", info={"bad-attribute": "select"})
        # ncclient checks with-defaults modes itself: the request goes raw.
        self.expect_error("with-defaults of an unknown mode", raw(
            '<get-config %s><source><running/></source><with-defaults xmlns="urn:ietf:params:xml:ns:yang:'
            'ietf-netconf-with-defaults">sometimes</with-defaults></get-config>'),
                          "application", "invalid-value", None, "with-defaults sometimes", info={"bad-element": "with-defaults"})
        self.expect_error("confirm-timeout 0", raw("<commit %s><confirmed/><confirm-timeout>0</confirm-timeout></commit>"),
                          "protocol", "invalid-value", None, "confirm-timeout must be", info={"bad-element": "confirm-timeout"})
        self.expect_error("create-subscription of an unknown stream", lambda: m.dispatch(to_ele(
            '<create-subscription xmlns="%s"><stream>FOO</stream></create-subscription>' % NS_NOTIF)),
            "application", "invalid-value", None, "no stream FOO", info={"bad-element": "stream"})
        self.expect_error("create-subscription with replay", lambda: m.dispatch(to_ele(
            '<create-subscription xmlns="%s"><startTime>2020-01-01T00:00:00Z</startTime></create-subscription>' % NS_NOTIF)),
            "application", "operation-not-supported", None, "replay is not supported")

    def malformed(self):
        """A message that is not XML: ncclient cannot send it through an
        operation, so it goes on the session raw, with ncclient's reply
        listener (which insists on a message-id) swapped for a capture."""
        m = self.connect()
        m.get_config(source="running")  # makes ncclient install its reply listener
        sess = m._session
        listener = sess.get_listener_instance(RPCReplyListener)
        cap = RawCapture()
        sess.remove_listener(listener)
        sess.add_listener(cap)
        before = self.running()
        for name, msg in [("malformed XML", '<rpc message-id="m1" xmlns="%s"><get-config><source><running/></source></get-config>' % NS_NC),
                          ("not an rpc", '<hello-there xmlns="%s"/>' % NS_NC)]:
            cap.event.clear()
            cap.replies.clear()
            sess.send(msg)
            if not self.check(name + ": reply", cap.event.wait(10), "no reply"):
                continue
            root = etree.fromstring(cap.replies[0].encode())
            t = values(cap.replies[0], "//nc:rpc-error/nc:error-type")
            tag = values(cap.replies[0], "//nc:rpc-error/nc:error-tag")
            # RFC 6241 Appendix A: malformed-message is base:1.1 only; a
            # base:1.0 peer gets operation-failed.
            want = "malformed-message" if self.args.framing == "1.1" else "operation-failed"
            self.check(name + ": rpc-error", root.tag == "{%s}rpc-reply" % NS_NC and t == ["rpc"] and tag == [want],
                       cap.replies[0])
        self.check("malformed: running unchanged", self.running() == before)
        cap.event.clear()
        cap.replies.clear()
        sess.send('<rpc message-id="m2" xmlns="%s"><get-config><source><running/></source></get-config></rpc>' % NS_NC)
        self.check("session still serves after a malformed message",
                   cap.event.wait(10) and 'message-id="m2"' in cap.replies[0] and "<data" in cap.replies[0],
                   cap.replies)
        sess.remove_listener(cap)
        sess.add_listener(listener)
        self.call("ncclient operations work again", lambda: m.get_config(source="running"))
        m.close_session()
