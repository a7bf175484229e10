#!/usr/bin/python3
"""NETCONF conformance gaps an outside client found, checked through Debian's ncclient:
lock of running during a confirmed commit (RFC 6241 §7.5), two sources
(§7.1), xpath filter prefixes (§8.9.1, XPath 1.0 §2.3), an XML
declaration inside an rpc (XML 1.0 §2.8), edits validated at commit time
on the candidate (RFC 7950 §8.3.3), and the yang-library capability (RFC
7950 §5.6.4). Run by test/e2e/conformance_ncclient_test.go, once per
framing:

    nc_conformance.py --port P --password PW --reader-password RPW \
        --framing 1.0|1.1 --yang-dir DIR [--section NAME]...
"""

import sys

from ncclient.operations.rpc import RPCReplyListener
from ncclient.xml_ import to_ele

from nclib import (GO_PATH, NS_IKE, NS_NC, NS_VRF, NS_YLIB, Checks, RawCapture, cfg, go, main, values)

SECTIONS = ["lock_during_confirmed_commit", "two_sources", "xpath_prefixes", "xml_declaration",
            "edit_defers_references", "yang_library_capability", "startup"]

TEMPLATE_MISSING = 'no ike-policy-template with name "t1" exists'
VPN_T1 = "<vpn><name>c1</name><remote-address>198.51.100.3</remote-address><ike-policy><template>t1</template></ike-policy></vpn>"


class Conformance(Checks):
    """Each section leaves running and the candidate clean."""

    def lock_during_confirmed_commit(self):
        """RFC 6241 §7.5: no lock on running while another session's
        confirmed commit is pending."""
        m = self.admin
        other = self.connect()
        self.call("edit", lambda: m.edit_config(target="candidate", config=go("<threads>3</threads>")))
        self.call("confirmed commit", lambda: m.commit(confirmed=True, timeout="120"))
        self.expect_error("another session locks running", lambda: other.lock(target="running"),
                          "protocol", "lock-denied", None, "confirmed commit",
                          info={"session-id": str(m.session_id)}, m=other)
        self.call("the session of the confirmed commit locks running", lambda: m.lock(target="running"))
        self.call("and unlocks it", lambda: m.unlock(target="running"))
        self.call("another session locks the candidate", lambda: other.lock(target="candidate"))
        self.call("and unlocks it", lambda: other.unlock(target="candidate"))
        self.call("confirm", m.commit)
        self.call("another session locks running once confirmed", lambda: other.lock(target="running"))
        self.call("and unlocks it", lambda: other.unlock(target="running"))
        self.call("edit back", lambda: m.edit_config(target="candidate", config=go('<threads xmlns:nc="%s" nc:operation="remove"/>' % NS_NC)))
        self.call("commit back", m.commit)
        other.close_session()

    def two_sources(self):
        """RFC 6241 §7.1: source names one datastore; two are an error."""
        m = self.admin
        for op, body in [("get-config", "<source><running/><candidate/></source>"),
                         ("validate", "<source><candidate/><running/></source>"),
                         ("lock", "<target><running/><candidate/></target>")]:
            elem = "target" if "<target>" in body else "source"
            self.expect_error(op + " naming two datastores", lambda: m.dispatch(to_ele(
                '<%s xmlns="%s">%s</%s>' % (op, NS_NC, body, op))),
                "protocol", "bad-element", None, "exactly one datastore", info={"bad-element": elem})

    def xpath_prefixes(self):
        """RFC 6241 §8.9.1: prefixes resolve against the declarations in
        scope on <filter>; XPath 1.0 §2.3: an undeclared one is an error."""
        m = self.admin
        self.call("edit", lambda: m.edit_config(target="candidate", config=go("<threads>6</threads>")))
        self.call("commit", m.commit)
        ns = {"v": NS_VRF, "i": NS_IKE}
        sel = "/v:vrf/i:ike/i:global-options/i:threads"
        data = self.call("xpath filter with declared prefixes",
                         lambda: m.get_config(source="running", filter=("xpath", (ns, sel))).data_xml)
        self.check("declared prefixes select threads", data is not None and values(data, "//i:threads") == ["6"], data)
        data = self.call("xpath filter with a prefix bound to another module",
                         lambda: m.get_config(source="running", filter=("xpath", (ns, "/i:vrf/i:ike"))).data_xml)
        self.check("a prefix of another module selects nothing", data is not None and values(data, "//v:vrf") == [], data)
        self.expect_error("xpath filter with an undeclared prefix", lambda: m.get_config(
            source="running", filter=("xpath", ({"v": NS_VRF}, "/v:vrf/q:ike"))),
            "application", "invalid-value", None, 'prefix "q" is not declared', info={"bad-attribute": "select"})
        self.call("edit back", lambda: m.edit_config(target="candidate", config=go('<threads xmlns:nc="%s" nc:operation="remove"/>' % NS_NC)))
        self.call("commit back", m.commit)

    def xml_declaration(self):
        """XML 1.0 §2.8: the XML declaration only opens a document. Sent
        raw, as nclib's malformed section does."""
        m = self.connect()
        m.get_config(source="running")
        sess = m._session
        listener = sess.get_listener_instance(RPCReplyListener)
        cap = RawCapture()
        sess.remove_listener(listener)
        sess.add_listener(cap)
        before = (self.running(), self.candidate())
        want = "malformed-message" if self.args.framing == "1.1" else "operation-failed"
        for name, msg in [
                ("declaration inside rpc", '<rpc message-id="d1" xmlns="%s"><?xml version="1.0"?><get-config><source><running/></source></get-config></rpc>' % NS_NC),
                ("declaration inside an edit", ('<rpc message-id="d2" xmlns="%s"><edit-config><target><candidate/></target>%s</edit-config></rpc>'
                                                % (NS_NC, go('<threads>9<?xml version="1.0" encoding="UTF-8"?></threads>'))))]:
            cap.event.clear()
            cap.replies.clear()
            sess.send(msg)
            if not self.check(name + ": reply", cap.event.wait(10), "no reply"):
                continue
            r = cap.replies[0]
            self.check(name + ": " + want, values(r, "//nc:rpc-error/nc:error-type") == ["rpc"]
                       and values(r, "//nc:rpc-error/nc:error-tag") == [want]
                       and "XML declaration" in "".join(values(r, "//nc:rpc-error/nc:error-message")), r)
        cap.event.clear()
        cap.replies.clear()
        sess.send('<?xml version="1.0" encoding="UTF-8"?><rpc message-id="d3" xmlns="%s"><get-config><source><running/></source></get-config></rpc>' % NS_NC)
        self.check("a declaration that opens the message is fine",
                   cap.event.wait(10) and 'message-id="d3"' in cap.replies[0] and "<data" in cap.replies[0], cap.replies)
        sess.remove_listener(cap)
        sess.add_listener(listener)
        self.check("nothing changed", (self.running(), self.candidate()) == before)
        m.close_session()

    def edit_defers_references(self):
        """RFC 7950 §8.3.3: on the candidate, constraints are enforced at
        validate and commit; test-then-set refuses type errors only."""
        m = self.admin
        self.call("a vpn naming a template not there yet", lambda: m.edit_config(target="candidate", config=cfg(VPN_T1)))
        self.expect_error("validate before the template", lambda: m.validate(source="candidate"),
                          "application", "data-missing", "/vrf[name='main']/ike/vpn[name='c1']/ike-policy/template", TEMPLATE_MISSING)
        self.expect_error("commit before the template", m.commit,
                          "application", "data-missing", "/vrf[name='main']/ike/vpn[name='c1']/ike-policy/template", TEMPLATE_MISSING)
        self.expect_error("a value out of range is refused at edit time", lambda: m.edit_config(
            target="candidate", config=go("<retransmit-tries>101</retransmit-tries>")),
            "application", "invalid-value", GO_PATH + "/retransmit-tries", "101 is out of range 0..100")
        self.call("the template, in a second edit", lambda: m.edit_config(
            target="candidate", config=cfg("<ike-policy-template><name>t1</name></ike-policy-template>")))
        self.call("validate", lambda: m.validate(source="candidate"))
        self.call("commit", m.commit)
        self.check("running has the vpn", values(self.running(), "//i:vpn/i:name") == ["c1"])
        self.call("remove them", lambda: m.edit_config(target="candidate", config=cfg(
            '<vpn xmlns:nc="%s" nc:operation="delete"><name>c1</name></vpn>'
            '<ike-policy-template xmlns:nc="%s" nc:operation="delete"><name>t1</name></ike-policy-template>' % (NS_NC, NS_NC))))
        self.call("commit the removal", m.commit)

    def yang_library_capability(self):
        """RFC 7950 §5.6.4: yang-library:1.0 with the implemented revision
        and the module-set-id of /modules-state."""
        m = self.admin
        libs = [c for c in m.server_capabilities if c.startswith("urn:ietf:params:netconf:capability:yang-library:")]
        self.check("one yang-library capability", len(libs) == 1, libs)
        if not libs:
            return
        cap = libs[0]
        self.check("it is yang-library:1.0 with a revision", cap.startswith(
            "urn:ietf:params:netconf:capability:yang-library:1.0?revision=2019-01-04&module-set-id="), cap)
        set_id = cap.split("module-set-id=")[-1]
        st = m.get(filter=("subtree", '<modules-state xmlns="%s"/>' % NS_YLIB)).data_xml
        self.check("modules-state module-set-id is the hello's", values(st, "//yl:module-set-id") == [set_id], st)
        lib = m.get(filter=("subtree", '<yang-library xmlns="%s"/>' % NS_YLIB)).data_xml
        self.check("yang-library content-id is the hello's", values(lib, "//yl:content-id") == [set_id], lib)

    def startup(self):
        """RFC 6241 §8.7: the :startup capability and its operations;
        RFC 6470 §2.2.1: a change of startup is a netconf-config-change
        naming datastore startup."""
        m = self.admin
        self.check("hello advertises :startup",
                   "urn:ietf:params:netconf:capability:startup:1.0" in list(m.server_capabilities))
        listener = self.connect()
        listener.create_subscription()
        self.call("edit", lambda: m.edit_config(target="candidate", config=go("<threads>11</threads>")))
        self.call("commit", m.commit)
        self.call("copy-config running to startup", lambda: m.copy_config(source="running", target="startup"))
        self.check("startup holds what was saved", values(m.get_config(source="startup").data_xml, "//i:threads") == ["11"])
        events = []
        for _ in range(4):
            n = listener.take_notification(timeout=5)
            if n is None:
                break
            events.append(n.notification_xml)
            if "<datastore>startup</datastore>" in n.notification_xml:
                break
        self.check("a netconf-config-change names startup",
                   any("<datastore>startup</datastore>" in e and "<username>admin</username>" in e for e in events), events)
        self.call("copy-config startup to candidate", lambda: m.copy_config(source="startup", target="candidate"))
        self.call("validate startup", lambda: m.validate(source="startup"))
        self.call("delete-config startup", lambda: m.delete_config(target="startup"))
        self.check("startup is empty", values(m.get_config(source="startup").data_xml, "//v:vrf") == [])
        self.call("discard", m.discard_changes)
        self.call("edit back", lambda: m.edit_config(target="candidate", config=go('<threads nc:operation="remove"/>')))
        self.call("commit back", m.commit)
        listener.close_session()

    def reset(self):
        self.admin.discard_changes()


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main(Conformance, SECTIONS)
