package security

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/internal/netconf/framing"
	"secgw/internal/netconf/transport"
	"secgw/test/secgwdtest"
)

// rssBoundKB is what secgwd's resident memory must stay under, peak
// included (VmHWM), through both memory attacks: its own ~30 MB, the
// 64 MiB of messages all sessions may hold (-max-buffered), and the
// garbage collector's headroom. Before the limits, the first attack alone
// took it to 606 MB and the second added 650 MB.
const rssBoundKB = 256 << 10

// TestMemoryAmplification performs memory amplification against secgwd with
// its default limits: a 16 MiB message of unclosed tags, then 30
// sessions each holding a 15 MiB partial message. The first is refused
// with too-big and its session goes on; of the second, the sessions over
// the total budget are refused with resource-denied and closed; secgwd's
// memory stays bounded; an established admin session is answered within
// a second throughout.
func TestMemoryAmplification(t *testing.T) {
	d := launch(t, secgwdtest.NewDataDir(t))
	pid := d.Cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")
	probe := startProbe(t, d)

	// Attack 1: one message of unclosed tags, just under 16 MiB.
	s, err := openRaw(d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	head := `<rpc message-id="1" xmlns="` + transport.NSBase + `"><get>`
	msg := head + strings.Repeat("<a>", (transport.DefaultMaxMessageSize-len(head)-16)/3)
	go func() { _, _ = s.in.Write([]byte("\n#" + strconv.Itoa(len(msg)) + "\n" + msg + "\n##\n")) }()
	reply, err := s.r.ReadMessage()
	if err != nil {
		t.Fatalf("no reply to the message of unclosed tags: %v\n%s", err, d.Logs())
	}
	if !strings.Contains(string(reply), "<error-tag>too-big</error-tag>") || !strings.Contains(string(reply), `message-id="1"`) {
		t.Errorf("reply to the message of unclosed tags: %.300s", reply)
	}
	if err := framing.NewChunkedWriter(s.in).WriteMessage([]byte(`<rpc message-id="2" xmlns="` + transport.NSBase + `"><get/></rpc>`)); err != nil {
		t.Fatal(err)
	}
	if reply, err := s.r.ReadMessage(); err != nil || !strings.Contains(string(reply), "<data") {
		t.Fatalf("the session did not go on after too-big: %v %.200s", err, reply)
	}
	s.close()
	afterOne := procStatus(t, pid, "VmHWM")
	t.Logf("secgwd RSS: %d MB at start, peak %d MB after the 16 MiB message of unclosed tags", base>>10, afterOne>>10)

	// Attack 2: 30 sessions (15 as admin beside the probe, 15 as
	// reader), each sending 15 MiB of a message it never finishes.
	const perUser = 15
	const partial = 15 << 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sessions []*netconfSession
	refused, held := 0, 0
	for i := range 2 * perUser {
		user, pw := secgwdtest.AdminUser, secgwdtest.AdminPassword
		if i >= perUser {
			user, pw = secgwdtest.ReaderUser, secgwdtest.ReaderPassword
		}
		// Log in one after the other (30 logins at once from one address
		// are another attack), then send all at once.
		s, err := openRaw(d.Addr, user, pw)
		if err != nil {
			t.Fatalf("session %d as %s: %v", i, user, err)
		}
		sessions = append(sessions, s)
		wg.Go(func() {
			replies := make(chan string, 1)
			go func() {
				m, _ := s.r.ReadMessage()
				replies <- string(m)
			}()
			chunk := strings.Repeat("x", 1<<20)
			_, err = s.in.Write([]byte("\n#" + strconv.Itoa(partial+1024) + "\n"))
			for sent := 0; sent < partial && err == nil; sent += len(chunk) {
				_, err = s.in.Write([]byte(chunk))
			}
			select {
			case r := <-replies:
				mu.Lock()
				defer mu.Unlock()
				if strings.Contains(r, "<error-tag>resource-denied</error-tag>") {
					refused++
				} else {
					t.Errorf("session %d got %.300q", i, r)
				}
			case <-time.After(3 * time.Second):
				mu.Lock()
				held++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rss := procStatus(t, pid, "VmRSS")
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("30 sessions of 15 MiB partial messages: %d held, %d refused with resource-denied; secgwd RSS %d MB, peak %d MB",
		held, refused, rss>>10, peak>>10)
	probe.stop()
	if refused < 20 {
		t.Errorf("%d of 30 sessions refused, want all but the few the 64 MiB budget holds", refused)
	}
	if peak > rssBoundKB {
		t.Errorf("secgwd's peak RSS is %d MB, want under %d MB", peak>>10, rssBoundKB>>10)
	}
	if !strings.Contains(d.Logs(), "netconf message refused: message memory exhausted") {
		t.Error("secgwd did not log the refused messages")
	}
	for _, s := range sessions {
		s.close()
	}
}
