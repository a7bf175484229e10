package strongswan

import (
	"maps"
	"slices"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/poll"
)

// TestDelete deletes the IKE SA, or only the child SA, from one side and
// checks that the other side removed it too, for both initiators.
func TestDelete(t *testing.T) {
	for _, tc := range []struct {
		name          string
		oursInitiates bool
		oursDeletes   bool
		child         bool // delete the child SA only
	}{
		{"ike/ours-deletes/ours-initiated", true, true, false},
		{"ike/ours-deletes/charon-initiated", false, true, false},
		{"ike/charon-deletes/ours-initiated", true, false, false},
		{"ike/charon-deletes/charon-initiated", false, false, false},
		{"child/ours-deletes/ours-initiated", true, true, true},
		{"child/ours-deletes/charon-initiated", false, true, true},
		{"child/charon-deletes/ours-initiated", true, false, true},
		{"child/charon-deletes/charon-initiated", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newSetup(t, suiteGCM, "interop-secret", "interop-secret")
			c := st.establish(t, tc.oursInitiates)
			st.checkCharonSAs(t, c)
			sas := st.us.e.IKESAs()
			if len(sas) != 1 {
				t.Fatalf("our engine has IKE SAs %+v, want 1", sas)
			}
			ourSPI := slices.Collect(maps.Keys(sas))[0]
			switch {
			case tc.oursDeletes && tc.child:
				if err := st.us.e.DeleteChild(c.InSPI); err != nil {
					t.Fatalf("DeleteChild(%08x): %v", c.InSPI, err)
				}
			case tc.oursDeletes:
				if err := st.us.e.DeleteIKE(ourSPI); err != nil {
					t.Fatalf("DeleteIKE(%016x): %v", ourSPI, err)
				}
			case tc.child:
				if out, err := st.ch.Swanctl("--terminate", "--child", "net", "--timeout", "5"); err != nil {
					t.Fatalf("swanctl --terminate --child net: %v\n%s", err, out)
				}
			default:
				if out, err := st.ch.Swanctl("--terminate", "--ike", "secgw", "--timeout", "5"); err != nil {
					t.Fatalf("swanctl --terminate --ike secgw: %v\n%s", err, out)
				}
			}
			st.waitDeleted(t, c, ourSPI, tc.child)
		})
	}
}

// waitDeleted waits, bounded, until charon lists no IKE SA (child: the IKE
// SA without CHILD_SA) and our engine has removed the SA and told the
// dataplane; it then checks both sides.
func (st *setup) waitDeleted(t *testing.T, c engine.ChildSA, ourSPI uint64, child bool) {
	t.Helper()
	var (
		raw    string
		charon []charonIKESA
		ours   map[uint64]engine.IKESAInfo
	)
	done := func() bool {
		raw, _ = st.ch.Swanctl("--list-sas", "--raw")
		charon = listSAs(raw)
		ours = st.us.e.IKESAs()
		if child {
			return len(charon) == 1 && len(charon[0].children) == 0 && ours[ourSPI].Children == 0 && len(st.us.dp.Children()) == 0
		}
		return len(charon) == 0 && len(ours) == 0 && len(st.us.dp.Children()) == 0
	}
	poll.Until(5*time.Second, done)
	if child {
		if len(charon) != 1 || charon[0].state != "ESTABLISHED" || len(charon[0].children) != 0 {
			t.Errorf("charon after the child SA delete, want the IKE SA ESTABLISHED without CHILD_SA:\n%s", raw)
		}
		if info, ok := ours[ourSPI]; !ok || len(ours) != 1 || info.State != "established" || info.Children != 0 {
			t.Errorf("our IKE SAs after the child SA delete: %+v, want %016x established without child SA", ours, ourSPI)
		}
	} else {
		if len(charon) != 0 {
			t.Errorf("charon still lists IKE SAs after the delete:\n%s", raw)
		}
		if len(ours) != 0 {
			t.Errorf("our engine still has IKE SAs after the delete: %+v", ours)
		}
	}
	if n := len(st.us.dp.Children()); n != 0 {
		t.Errorf("our dataplane still has %d child SAs", n)
	}
	// Children took the dataplane's lock after the last DeleteChild, so
	// Deleted can be read: the engine deletes nothing more.
	var deleted []uint32
	for _, d := range st.us.dp.Deleted {
		deleted = append(deleted, d.InSPI)
	}
	if !slices.Equal(deleted, []uint32{c.InSPI}) {
		t.Errorf("our dataplane saw DeleteChild for SPIs %08x, want [%08x]", deleted, c.InSPI)
	}
}
