package ikesvc

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ike/engine/enginetest"
)

// syncBuffer is a bytes.Buffer safe for the engine's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrepareCTRForIKE: AES-CTR is ESP-only here. A commit
// whose IKE proposal has no other encryption algorithm is refused with
// the reason; one with another keeps it and logs a warning that CTR was
// left out.
func TestPrepareCTRForIKE(t *testing.T) {
	var logs syncBuffer
	s := New(Options{Dataplane: enginetest.NewDataplane(), PortIKE: 15910, PortNATT: 15911,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Cleanup(func() { s.Close() })
	withEnc := func(enc ...generated.E_SecgwIke_EncryptionAlgorithm) *generated.Device {
		d := device("v", "127.0.0.1", "", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16")
		d.Vrf["main"].Ike.Vpn["v"].IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
			1: {Id: ptr2(uint8(1)), EncAlg: enc,
				AuthAlg: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256},
				DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519}},
		}
		return d
	}
	onlyCTR := withEnc(generated.SecgwIke_EncryptionAlgorithm_aes128_ctr, generated.SecgwIke_EncryptionAlgorithm_aes256_ctr)
	err := s.Prepare(&datastore.Tx{ID: 1, New: onlyCTR})
	if err == nil || !strings.Contains(err.Error(), "vpn v: ike-proposal 1: enc-alg aes128-ctr, aes256-ctr is for ESP only") {
		t.Errorf("IKE proposal of AES-CTR alone: %v, want refused naming the proposal and the algorithms", err)
	}
	mixed := withEnc(generated.SecgwIke_EncryptionAlgorithm_aes128_ctr, generated.SecgwIke_EncryptionAlgorithm_aes128_cbc)
	if err := s.Prepare(&datastore.Tx{ID: 2, New: mixed}); err != nil {
		t.Fatalf("IKE proposal of AES-CTR and AES-CBC refused: %v", err)
	}
	s.Abort(&datastore.Tx{ID: 2, New: mixed})
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "enc-alg aes128-ctr is for ESP only (RFC 3686): left out") {
		t.Errorf("log %q, want a warning that aes128-ctr was left out", l)
	}
}
