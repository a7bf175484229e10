package security

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"secgw/internal/datastore"
	"secgw/test/secgwdtest"
)

// TestJournalBoundedBySize performs journal growth at test scale: large
// commits (every one of 3,000 VPNs changed) against secgwd with its
// default -snapshot-bytes. The journal must be compacted once it holds
// 8 MiB, however few commits that is, so that it never holds more than
// that plus one commit, and a restart replays at most that much. Before,
// it was compacted every 1,000 commits only: 82 MB after 8 commits of
// 10k VPNs, and a restart went from 2.0 to 4.9 s.
func TestJournalBoundedBySize(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	d := launch(t, dir)
	s := secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	journal := filepath.Join(dir, "config", "journal")

	const vpns = 3000
	const rounds = 10 // about 20 MB of commits: over the default twice
	commit := func(round int) {
		var b strings.Builder
		for i := range vpns {
			b.WriteString(secgwdtest.VPNElem("psk-secret-"+fmt.Sprint(round), fmt.Sprintf("vpn%d", i), fmt.Sprintf("sp%d", i),
				"192.0.2.1", fmt.Sprintf("198.51.%d.%d", i/250, i%250+1), fmt.Sprintf("gw-r%d", round),
				fmt.Sprintf("peer-%d-r%d", i, round), "10.0.0.0/24", fmt.Sprintf("10.%d.%d.0/24", 1+i/250, i%250)))
		}
		secgwdtest.MustRPC(t, s, `<edit-config><target><candidate/></target>`+secgwdtest.IKEConfig(b.String())+`</edit-config>`)
		secgwdtest.MustRPC(t, s, `<commit/>`)
	}
	size := func() int64 {
		fi, err := os.Stat(journal)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var prev, biggest, peak int64
	snapshots := 0
	for r := range rounds {
		commit(r)
		n := size()
		if n > prev {
			biggest = max(biggest, n-prev)
		} else {
			snapshots++
		}
		peak = max(peak, n)
		prev = n
	}
	t.Logf("%d commits of %d VPNs: largest commit %d KB, journal peaked at %d KB between commits, %d snapshots by size",
		rounds, vpns, biggest>>10, peak>>10, snapshots)
	// A commit that takes the journal to the limit compacts it before
	// it is acknowledged: between commits it is always under.
	if peak >= datastore.DefaultSnapshotBytes {
		t.Errorf("journal reached %d bytes between commits, want under the default -snapshot-bytes %d", peak, datastore.DefaultSnapshotBytes)
	}
	if snapshots < 2 {
		t.Errorf("the journal was compacted %d times, want at least 2 for %d commits of %d KB", snapshots, rounds, biggest>>10)
	}

	s.Close()
	d.Stop(t)
	start := time.Now()
	d = launch(t, dir)
	restart := time.Since(start)
	t.Logf("restart with a %d KB journal: %v", size()>>10, restart.Round(time.Millisecond))
	s = secgwdtest.MustDial(t, d.Addr, secgwdtest.AdminUser, secgwdtest.AdminPassword)
	cfg := secgwdtest.MustRPC(t, s, `<get-config><source><running/></source></get-config>`)
	if n := strings.Count(cfg, "<vpn>"); n != vpns {
		t.Errorf("after the restart running has %d VPNs, want %d", n, vpns)
	}
	if !strings.Contains(cfg, fmt.Sprintf("gw-r%d", rounds-1)) {
		t.Error("after the restart running lacks the last commit")
	}
}
