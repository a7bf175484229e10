package ikesvc

import (
	"strings"
	"sync"

	"secgw/generated"
	"secgw/internal/ike/engine"
)

// stats are the global counters of the state (ike statistics), counted
// from the engine's events.
type stats struct {
	mu                     sync.Mutex
	ikeSetups, childSetups uint64
	ikeRekeys, childRekeys uint64
	failures               map[generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason]uint64
}

func (st *stats) count(ev engine.Event) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch ev.Kind {
	case engine.IKEUp:
		st.ikeSetups++
	case engine.ChildUp:
		st.childSetups++
	case engine.IKERekeyed:
		st.ikeRekeys++
	case engine.ChildRekeyed:
		st.childRekeys++
	case engine.IKEFailed, engine.ChildFailed:
		if st.failures == nil {
			st.failures = map[generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason]uint64{}
		}
		st.failures[failureReason(ev.Reason)]++
	}
}

// fill writes the counters into the statistics container.
func (st *stats) fill(s *generated.SecgwVrf_Vrf_Ike_Statistics) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.IkeSaSetups, s.ChildSaSetups = ptr(st.ikeSetups), ptr(st.childSetups)
	s.IkeRekeys, s.ChildRekeys = ptr(st.ikeRekeys), ptr(st.childRekeys)
	for r, n := range st.failures {
		if s.Failure == nil {
			s.Failure = map[generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason]*generated.SecgwVrf_Vrf_Ike_Statistics_Failure{}
		}
		s.Failure[r] = &generated.SecgwVrf_Vrf_Ike_Statistics_Failure{Reason: r, Count: ptr(n)}
	}
}

// failureReason classifies the reason of a failed SA (the notify sent or
// received, or the engine's message) into the failure list's enum.
func failureReason(reason string) generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason {
	for _, m := range []struct {
		sub string
		r   generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason
	}{
		// First: a PPK failure is also an AUTHENTICATION_FAILED (RFC
		// 8784 §3), and the more telling reason.
		{"PPK required", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_ppk_required},
		{"certificate expired", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_certificate_expired},
		{"NO_PROPOSAL_CHOSEN", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_no_proposal_chosen},
		{"AUTHENTICATION_FAILED", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_authentication_failed},
		{"TS_UNACCEPTABLE", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_ts_unacceptable},
		{"INVALID_KE_PAYLOAD", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_invalid_ke},
		{"not responding", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_timeout},
		{"INTERNAL_ADDRESS_FAILURE", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_internal_address_failure},
		{"no vpn", generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_peer_unknown},
	} {
		if strings.Contains(reason, m.sub) {
			return m.r
		}
	}
	return generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_other
}
