"""The sections of the ncclient suite that change configuration: edits,
options, copy/delete/validate, locks and sessions, commits, confirmed
commits, and the secgw-config history and rollback RPC."""

import time

from ncclient.xml_ import to_ele

from nclib import (BASE11, GO_PATH, NS_CFG, NS_NC, cfg, go, values, vpn, wait)


def rollback_rpc(commit_id):
    return to_ele('<rollback xmlns="%s"><commit-id>%s</commit-id></rollback>' % (NS_CFG, commit_id))


class EditChecks:
    """Mixed into the suite with nclib.Checks."""

    def hello(self):
        caps = list(self.admin.server_capabilities)
        for c in ["urn:ietf:params:netconf:base:1.0", BASE11,
                  "urn:ietf:params:netconf:capability:candidate:1.0",
                  "urn:ietf:params:netconf:capability:startup:1.0",
                  "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
                  "urn:ietf:params:netconf:capability:validate:1.1",
                  "urn:ietf:params:netconf:capability:xpath:1.0",
                  "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
                  "urn:ietf:params:netconf:capability:notification:1.0"]:
            self.check("hello advertises " + c, c in caps, caps)
        wd = [c for c in caps if c.startswith("urn:ietf:params:netconf:capability:with-defaults:1.0")]
        self.check("hello advertises with-defaults explicit, also report-all and trim",
                   wd and "basic-mode=explicit" in wd[0] and "report-all" in wd[0] and "trim" in wd[0], wd)
        for mod in ["secgw-vrf", "secgw-ike", "secgw-ha", "secgw-config"]:
            self.check("hello advertises module " + mod, any("module=%s&" % mod in c for c in caps), caps)

    def get_and_edit(self):
        m = self.admin
        data = self.call("get", lambda: m.get().data_xml)
        self.check("get returns vrf main", data and values(data, "//v:vrf/v:name") == ["main"], data)
        self.call("edit-config merge", lambda: m.edit_config(target="candidate", config=go(
            "<retransmit-tries>4</retransmit-tries><threads>8</threads>")))
        self.check("edit lands in the candidate", self.leaf("candidate", "threads") == "8")
        self.check("edit does not reach running before commit", self.leaf("running", "threads") is None)
        self.call("commit", m.commit)
        self.check("commit: running has threads 8", self.leaf("running", "threads") == "8")
        self.check("commit: running has retransmit-tries 4", self.leaf("running", "retransmit-tries") == "4")
        self.call("edit-config create vpn", lambda: m.edit_config(target="candidate", config=vpn("hq", "create")))
        self.call("edit-config create second vpn", lambda: m.edit_config(target="candidate", config=vpn("branch", "create")))
        self.call("commit vpns", m.commit)
        run = self.running()
        self.check("running has both vpns", sorted(values(run, "//i:vpn/i:name")) == ["branch", "hq"], run)
        self.call("edit-config replace vpn", lambda: m.edit_config(
            target="candidate", config=vpn("hq", "replace", remote="203.0.113.7")))
        self.call("commit replace", m.commit)
        run = self.running()
        self.check("replace changed remote-address",
                   values(run, "//i:vpn[i:name='hq']/i:remote-address") == ["203.0.113.7"], run)
        self.call("edit-config replace of a vpn with less content", lambda: m.edit_config(
            target="candidate", config=cfg('<vpn nc:operation="replace"><name>branch</name>'
                                           '<remote-address>198.51.100.9</remote-address></vpn>')))
        cand = self.candidate()
        self.check("replace dropped what the new content lacks",
                   values(cand, "//i:vpn[i:name='branch']/i:local-id") == []
                   and values(cand, "//i:vpn[i:name='branch']/i:remote-address") == ["198.51.100.9"], cand)
        self.call("discard the replace", m.discard_changes)
        self.call("edit-config delete vpn", lambda: m.edit_config(
            target="candidate", config=cfg('<vpn nc:operation="delete"><name>branch</name></vpn>')))
        self.call("edit-config remove leaf", lambda: m.edit_config(
            target="candidate", config=go('<threads nc:operation="remove"/>')))
        self.call("edit-config remove of a missing vpn is no error", lambda: m.edit_config(
            target="candidate", config=cfg('<vpn nc:operation="remove"><name>nope</name></vpn>')))
        self.call("commit delete/remove", m.commit)
        run = self.running()
        self.check("delete removed vpn branch", values(run, "//i:vpn/i:name") == ["hq"], run)
        self.check("remove removed threads", self.leaf("running", "threads") is None, run)

    def default_operation(self):
        m = self.admin
        self.call("default-operation none ignores plain content", lambda: m.edit_config(
            target="candidate", default_operation="none", config=go("<threads>3</threads>")))
        self.check("default-operation none: candidate unchanged", self.candidate() == self.running())
        self.call("default-operation none with merge attribute", lambda: m.edit_config(
            target="candidate", default_operation="none", config=go('<threads nc:operation="merge">3</threads>')))
        self.check("default-operation none: merge attribute applied", self.leaf("candidate", "threads") == "3")
        self.call("default-operation merge", lambda: m.edit_config(
            target="candidate", default_operation="merge", config=go("<threads>4</threads>")))
        self.check("default-operation merge keeps siblings",
                   self.leaf("candidate", "threads") == "4" and self.leaf("candidate", "retransmit-tries") == "4")
        self.call("default-operation replace", lambda: m.edit_config(
            target="candidate", default_operation="replace", config=go("<threads>9</threads>")))
        cand = self.candidate()
        self.check("default-operation replace replaced everything",
                   values(cand, "//i:vpn") == [] and self.leaf("candidate", "threads") == "9"
                   and self.leaf("candidate", "retransmit-tries") is None, cand)
        self.call("discard-changes", m.discard_changes)
        self.check("discard-changes: candidate is running again", self.candidate() == self.running())

    def test_and_error_options(self):
        m = self.admin
        self.call("test-option test-only", lambda: m.edit_config(
            target="candidate", test_option="test-only", config=go("<threads>7</threads>")))
        self.check("test-only leaves the candidate", self.candidate() == self.running())
        # On the candidate, test-then-set (and so test-only) checks the
        # values against their types; references between nodes wait for
        # validate and commit (RFC 7950 §8.3.3).
        self.expect_error("test-only of an edit with a value out of range", lambda: m.edit_config(
            target="candidate", test_option="test-only", config=go("<retransmit-tries>101</retransmit-tries>")),
            "application", "invalid-value", GO_PATH + "/retransmit-tries", "101 is out of range 0..100")
        self.call("test-only of a vpn naming a template not there yet", lambda: m.edit_config(
            target="candidate", test_option="test-only",
            config=cfg("<vpn><name>x</name><ike-policy><template>nope</template></ike-policy></vpn>")))
        self.call("test-option test-then-set", lambda: m.edit_config(
            target="candidate", test_option="test-then-set", config=go("<threads>7</threads>")))
        self.check("test-then-set sets", self.leaf("candidate", "threads") == "7")
        self.expect_error("test-then-set refuses a value out of range", lambda: m.edit_config(
            target="candidate", test_option="test-then-set", config=go("<retransmit-tries>101</retransmit-tries>")),
            "application", "invalid-value", GO_PATH + "/retransmit-tries", "101 is out of range 0..100")
        self.call("test-then-set accepts a vpn naming a template not there yet", lambda: m.edit_config(
            target="candidate", test_option="test-then-set",
            config=cfg("<vpn><name>x</name><ike-policy><template>nope</template></ike-policy></vpn>")))
        self.expect_error("validate finds the missing template", lambda: m.validate(source="candidate"),
                          "application", "data-missing", "/vrf[name='main']/ike/vpn[name='x']/ike-policy/template",
                          'no ike-policy-template with name "nope" exists')
        self.reset()
        for opt in ["rollback-on-error", "stop-on-error"]:
            self.expect_error("error-option " + opt, lambda: m.edit_config(
                target="candidate", error_option=opt,
                config=go("<threads>5</threads><retransmit-tries>300</retransmit-tries>")),
                "application", "invalid-value", GO_PATH + "/retransmit-tries", '"300" is not an integer')
        # rollback-on-error (RFC 6241 §7.2, :rollback-on-error): the parts
        # of the edit before the failing one are undone too.
        self.expect_error("rollback-on-error undoes the parts that worked", lambda: m.edit_config(
            target="candidate", error_option="rollback-on-error",
            config=cfg('<vpn nc:operation="create"><name>new1</name><remote-address>198.51.100.5</remote-address></vpn>'
                       '<global-options><threads>6</threads></global-options>'
                       '<vpn nc:operation="delete"><name>absent</name></vpn>')),
            "application", "data-missing", "/vrf[name='main']/ike/vpn[name='absent']", "does not exist")
        self.expect_error("error-option continue-on-error", lambda: m.edit_config(
            target="candidate", error_option="continue-on-error", config=go("<threads>5</threads>")),
            "protocol", "operation-not-supported", None, "continue-on-error is not supported",
            info={"bad-element": "error-option"})

    def copy_validate(self):
        m = self.admin
        self.call("edit before copy-config", lambda: m.edit_config(target="candidate", config=go("<threads>77</threads>")))
        self.call("copy-config running to candidate", lambda: m.copy_config(source="running", target="candidate"))
        self.check("copy-config running to candidate: candidate equals running", self.candidate() == self.running())
        full = self.running()
        inline = full.replace("<data ", "<config ").replace("</data>", "</config>")
        inline = inline.replace("<remote-address>203.0.113.7</remote-address>", "<remote-address>203.0.113.8</remote-address>")
        self.call("copy-config of an inline config to candidate",
                  lambda: m.copy_config(source='<source xmlns="%s">%s</source>' % (NS_NC, inline[inline.index("<config"):]),
                                        target="candidate"))
        cand = self.candidate()
        self.check("inline copy-config replaced the candidate",
                   values(cand, "//i:vpn[i:name='hq']/i:remote-address") == ["203.0.113.8"], cand)
        self.check("inline copy-config left running alone",
                   values(self.running(), "//i:vpn[i:name='hq']/i:remote-address") == ["203.0.113.7"])
        self.call("copy-config candidate to running", lambda: m.copy_config(source="candidate", target="running"))
        self.check("copy-config candidate to running commits",
                   values(self.running(), "//i:vpn[i:name='hq']/i:remote-address") == ["203.0.113.8"])
        self.expect_error("copy-config running to running", lambda: m.copy_config(source="running", target="running"),
                          "protocol", "operation-not-supported", None, "copy-config from running to running")
        self.call("validate candidate", lambda: m.validate(source="candidate"))
        self.call("validate running", lambda: m.validate(source="running"))
        self.call("validate an inline config", lambda: m.validate(source=to_ele(go("<threads>2</threads>"))))
        self.expect_error("validate an invalid inline config", lambda: m.validate(
            source=to_ele(cfg("<vpn><name>x</name><ike-policy><template>nope</template></ike-policy></vpn>"))),
            "application", "data-missing", "/vrf[name='main']/ike/vpn[name='x']/ike-policy/template",
            'no ike-policy-template with name "nope" exists')
        # "set" skips even the type checks of test-then-set.
        self.call("invalid edit with test-option set", lambda: m.edit_config(
            target="candidate", test_option="set", config=cfg("<vpn><name>x</name><ike-policy><template>nope</template></ike-policy></vpn>")))
        self.expect_error("validate an invalid candidate", lambda: m.validate(source="candidate"),
                          "application", "data-missing", "/vrf[name='main']/ike/vpn[name='x']/ike-policy/template",
                          'no ike-policy-template with name "nope" exists')
        self.expect_error("commit an invalid candidate", m.commit,
                          "application", "data-missing", "/vrf[name='main']/ike/vpn[name='x']/ike-policy/template",
                          'no ike-policy-template with name "nope" exists')
        self.reset()

    def delete_config(self):
        """RFC 6241 §7.4: running cannot be deleted, and secgw's candidate
        always mirrors running plus edits: both are refused. Startup
        (:startup) can be deleted; it was refused
        before secgw had one."""
        m = self.admin
        for target in ["running", "candidate"]:
            self.expect_error("delete-config " + target, lambda: m.delete_config(target=target),
                              "protocol", "operation-not-supported", None, "delete-config")
        self.call("copy-config running to startup", lambda: m.copy_config(source="running", target="startup"))
        self.check("startup holds running", m.get_config(source="startup").data_xml == self.running())
        self.call("delete-config startup", lambda: m.delete_config(target="startup"))
        self.check("startup is empty after delete-config",
                   values(m.get_config(source="startup").data_xml, "//v:vrf") == [])

    def locks_and_sessions(self):
        m = self.admin
        s2 = self.connect()
        self.call("lock candidate", lambda: m.lock("candidate"))
        self.expect_error("lock-denied", lambda: s2.lock("candidate"), "protocol", "lock-denied", None,
                          "locked by session %s" % m.session_id, info={"session-id": str(m.session_id)}, m=s2)
        self.expect_error("in-use: edit-config on a locked candidate", lambda: s2.edit_config(
            target="candidate", config=go("<threads>2</threads>")), "protocol", "in-use", None,
            "locked by session %s" % m.session_id, m=s2)
        self.expect_error("in-use: discard-changes on a locked candidate", s2.discard_changes,
                          "protocol", "in-use", None, "locked by session %s" % m.session_id, m=s2)
        self.expect_error("unlock of a lock another session holds", lambda: s2.unlock("candidate"),
                          "application", "operation-failed", None, "not locked by this session", m=s2)
        self.call("unlock candidate", lambda: m.unlock("candidate"))
        self.call("lock after unlock", lambda: s2.lock("candidate"))
        self.call("lock running", lambda: s2.lock("running"))
        self.expect_error("in-use: commit with running locked by another session", m.commit,
                          "protocol", "in-use", None, "locked by session %s" % s2.session_id)
        self.call("kill-session", lambda: m.kill_session(str(s2.session_id)))
        self.check("killed session is disconnected", wait(lambda: not s2.connected), "still connected")
        self.call("locks of a killed session are released: running", lambda: m.lock("running"))
        self.call("locks of a killed session are released: candidate", lambda: m.lock("candidate"))
        self.call("unlock running", lambda: m.unlock("running"))
        self.call("unlock candidate again", lambda: m.unlock("candidate"))
        self.expect_error("kill-session of an unknown session", lambda: m.kill_session("99999"),
                          "protocol", "invalid-value", None, "no session 99999")
        self.expect_error("kill-session of itself", lambda: m.kill_session(str(m.session_id)),
                          "protocol", "invalid-value", None, "use close-session")
        # RFC 6241 §7.5: no lock on a candidate holding another session's
        # uncommitted changes; error-info session-id 0 as the holder is
        # not a lock.
        s3 = self.connect()
        self.call("edit without lock", lambda: s3.edit_config(target="candidate", config=go("<threads>6</threads>")))
        self.expect_error("lock-denied on a dirty candidate", lambda: m.lock("candidate"), "protocol", "lock-denied",
                          None, "uncommitted changes of session %s" % s3.session_id, info={"session-id": "0"})
        self.call("discard other session's changes", s3.discard_changes)
        self.call("lock once the candidate is clean", lambda: s3.lock("candidate"))
        self.call("close-session", s3.close_session)
        self.check("closed session is disconnected", wait(lambda: not s3.connected), "still connected")
        self.call("close-session released its lock", lambda: m.lock("candidate"))
        self.call("unlock after close-session", lambda: m.unlock("candidate"))

    def confirmed_commits(self):
        m = self.admin

        def set_threads(n, sess=m):
            sess.edit_config(target="candidate", config=go("<threads>%d</threads>" % n))

        set_threads(11)
        self.call("commit threads 11", m.commit)
        set_threads(12)
        self.call("confirmed commit", lambda: m.commit(confirmed=True, timeout="2"))
        self.check("confirmed commit is running", self.leaf("running", "threads") == "12")
        self.call("confirming commit", m.commit)
        time.sleep(2.2)
        self.check("a confirmed commit stays after its timeout", self.leaf("running", "threads") == "12")
        self.call("back to threads 11", lambda: (set_threads(11), m.commit()))

        set_threads(12)
        self.call("confirmed commit with confirm-timeout 1", lambda: m.commit(confirmed=True, timeout="1"))
        self.check("confirm-timeout reverts", wait(lambda: self.leaf("running", "threads") == "11", 6),
                   self.leaf("running", "threads"))

        set_threads(13)
        self.call("confirmed commit to cancel", lambda: m.commit(confirmed=True, timeout="60"))
        set_threads(14)
        self.call("follow-up confirmed commit (RFC 6241 §8.4.1)", lambda: m.commit(confirmed=True, timeout="60"))
        self.check("follow-up commit is running", self.leaf("running", "threads") == "14")
        self.call("cancel-commit", m.cancel_commit)
        self.check("cancel-commit reverts both commits", self.leaf("running", "threads") == "11",
                   self.leaf("running", "threads"))
        self.expect_error("cancel-commit with none pending", m.cancel_commit, "application", "operation-failed",
                          None, "no confirmed commit is pending")

        # A non-persist confirmed commit belongs to its session (§8.4.1):
        # the session's end reverts it, another session cannot cancel it
        # nor confirm it.
        for end in ["close-session", "kill-session"]:
            s = self.connect()
            set_threads(15, s)
            self.call("confirmed commit of a session ended by " + end, lambda: s.commit(confirmed=True, timeout="60"))
            if end == "close-session":
                s.close_session()
            else:
                m.kill_session(str(s.session_id))
            self.check(end + " reverts the session's confirmed commit",
                       wait(lambda: self.leaf("running", "threads") == "11"), self.leaf("running", "threads"))
        s = self.connect()
        set_threads(16, s)
        self.call("confirmed commit of another session", lambda: s.commit(confirmed=True, timeout="60"))
        self.expect_error("cancel-commit of another session's confirmed commit", m.cancel_commit,
                          "application", "operation-failed", None, "belongs to another session")
        name = "RFC 6241 §8.4.1: another session cannot confirm a non-persist confirmed commit"
        err = self.rpc_error(name, m.commit)
        if err is not None:
            self.check(name, err.tag in ("in-use", "operation-failed", "access-denied"), "tag %s: %s" % (err.tag, err.message))
        s.close_session()
        if err is not None:
            self.check("the session's end still reverts it",
                       wait(lambda: self.leaf("running", "threads") == "11"), self.leaf("running", "threads"))
        else:
            # The other session's commit confirmed it: put threads back.
            set_threads(11)
            m.commit()

        tok = "tok-" + self.args.framing
        s = self.connect()
        set_threads(17, s)
        self.call("persistent confirmed commit", lambda: s.commit(confirmed=True, timeout="60", persist=tok))
        s.close_session()
        time.sleep(0.3)
        self.check("persist survives the session", self.leaf("running", "threads") == "17")
        self.expect_error("commit without the persist-id", m.commit, "application", "invalid-value", None,
                          "give its persist-id")
        self.expect_error("cancel-commit with a wrong persist-id", lambda: m.cancel_commit(persist_id="nope"),
                          "application", "invalid-value", None, "give its persist-id")
        self.call("confirm with persist-id from another session", lambda: m.commit(persist_id=tok))
        self.call("nothing pending after the confirmation", m.commit)
        self.expect_error("persist-id with nothing pending", lambda: m.commit(persist_id=tok),
                          "application", "invalid-value", None, "no confirmed commit is pending")

        s = self.connect()
        set_threads(18, s)
        self.call("persistent confirmed commit to cancel", lambda: s.commit(confirmed=True, timeout="60", persist=tok))
        s.close_session()
        self.call("cancel-commit with persist-id from another session", lambda: m.cancel_commit(persist_id=tok))
        self.check("cancel-commit with persist-id reverts", self.leaf("running", "threads") == "17")

    def history_rollback(self):
        """secgw-config: config-history lists the commits; rollback loads
        one into the candidate."""
        m = self.admin
        hist = lambda: m.get(filter=("subtree", '<config-history xmlns="%s"/>' % NS_CFG)).data_xml
        h = hist()
        ids = [int(i) for i in values(h, "//c:commit/c:id")]
        self.check("config-history lists the commits in order", len(ids) >= 10 and ids == sorted(ids), h)
        users = [u or "" for u in values(h, "//c:commit/c:user")]
        self.check("config-history names the user (empty for the server's own reverts)",
                   set(users) == {"admin", ""}, h)
        self.check("config-history has times", all(t and t.endswith("Z") for t in values(h, "//c:commit/c:time")), h)
        reverted = values(h, "//c:commit[starts-with(c:comment, 'rollback of a confirmed commit')]/c:id")
        self.check("config-history records the reverted confirmed commits", len(reverted) >= 3, h)
        m.edit_config(target="candidate", config=go("<threads>21</threads>"))
        m.commit()
        last = max(int(i) for i in values(hist(), "//c:commit/c:id"))
        m.edit_config(target="candidate", config=go("<threads>22</threads>"))
        m.commit()
        self.call("rollback RPC", lambda: m.dispatch(rollback_rpc(last)))
        self.check("rollback loads the candidate", self.leaf("candidate", "threads") == "21")
        self.check("rollback leaves running until commit", self.leaf("running", "threads") == "22")
        self.call("commit the rollback", m.commit)
        self.check("running is the old commit again", self.leaf("running", "threads") == "21")
        self.expect_error("rollback to a commit that does not exist", lambda: m.dispatch(rollback_rpc(99999)),
                          "application", "invalid-value", None, "commit 99999 does not exist")
        self.expect_error("rollback with a bad commit-id", lambda: m.dispatch(rollback_rpc("latest")),
                          "application", "invalid-value", None, "commit-id must be a commit number",
                          info={"bad-element": "commit-id"})
