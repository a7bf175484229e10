package engine_test

import (
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"

	"secgw/generated"
)

// noCommonIKEProposal makes B accept only AES-CBC/SHA-512/ECP-384, which
// A's defaults do not offer.
func noCommonIKEProposal(ike *generated.SecgwVrf_Vrf_Ike) {
	ike.Vpn["from-a"].IkePolicy.IkeProposal = map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{
		1: {Id: ptr(uint8(1)), EncAlg: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
			AuthAlg: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha512},
			DhGroup: []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp384}},
	}
}

// TestRefusalLoggedCountedLimited: a NO_PROPOSAL_CHOSEN sent in
// IKE_SA_INIT is logged at level 0 (slog's Info) with the peer, the
// proposals received and those configured, and counted; a peer that
// retries in a loop writes the limiter's burst of lines, not one per
// request, while every refusal is counted.
func TestRefusalLoggedCountedLimited(t *testing.T) {
	logs, withLogs := recordLogs(t)
	a, b := pairOpts(t, nil, noCommonIKEProposal, nil, withLogs)
	for range 20 {
		a.e.Initiate("to-b")
		deliver(t, a, b) // IKE_SA_INIT request with A's default proposals
		deliver(t, b, a) // IKE_SA_INIT response: N(NO_PROPOSAL_CHOSEN)
	}
	recs := logs.find("IKE_SA_INIT refused")
	if len(recs) == 0 {
		t.Fatal("no log record of the refusal")
	}
	r := recs[0]
	if r["level"] != slog.LevelInfo.String() || r["notify"] != "NO_PROPOSAL_CHOSEN" || r["remote"] == "" ||
		!strings.Contains(r["received"], "ENCR:") || !strings.Contains(r["configured"], "ENCR:AES_CBC/256") ||
		!strings.Contains(r["configured"], "ECP_384") {
		t.Errorf("record %v: want level INFO, the notify, the peer, proposals received and configured", r)
	}
	if len(recs) > 5 {
		t.Errorf("%d records for 20 refusals in a burst: not rate-limited", len(recs))
	}
	if n := b.e.OpStats().Refusals["NO_PROPOSAL_CHOSEN"]; n != 20 {
		t.Errorf("refusals counted %d, want 20", n)
	}
}

// TestAuthFailureLogged: AUTHENTICATION_FAILED sent names the peer's
// identity and authentication method, at level 0, and is counted.
func TestAuthFailureLogged(t *testing.T) {
	logs, withLogs := recordLogs(t)
	a, b := pairOpts(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].IkePolicy.PreSharedKey = ptr("other")
	}, nil, withLogs)
	a.e.Initiate("to-b")
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // IKE_SA_INIT response
	deliver(t, a, b) // IKE_AUTH request: AUTH with A's key, which B cannot verify
	deliver(t, b, a) // IKE_AUTH response: SK{N(AUTHENTICATION_FAILED)}
	recs := logs.find("authentication of peer failed")
	if len(recs) != 1 || recs[0]["level"] != slog.LevelInfo.String() || recs[0]["peer-id"] == "" ||
		recs[0]["auth-method"] != "pre-shared-key" || recs[0]["remote"] == "" {
		t.Errorf("records %v: want one at INFO with the peer, its identity and method", recs)
	}
	if n := b.e.OpStats().Refusals["AUTHENTICATION_FAILED"]; n != 1 {
		t.Errorf("refusals counted %d, want 1", n)
	}
}

// TestTSUnacceptableLogged: TS_UNACCEPTABLE sent names the selectors
// received and those configured.
func TestTSUnacceptableLogged(t *testing.T) {
	logs, withLogs := recordLogs(t)
	a, b := pairOpts(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.Vpn["from-a"].SecurityPolicy["net"].RemoteTs.Subnet = ptr("172.16.0.0/16")
	}, nil, withLogs)
	establish(t, a, b) // IKE_AUTH response: SK{IDr, AUTH, N(TS_UNACCEPTABLE)}
	recs := logs.find("no security policy matches the proposed selectors")
	if len(recs) != 1 || recs[0]["level"] != slog.LevelInfo.String() || recs[0]["notify"] != "TS_UNACCEPTABLE" ||
		!strings.Contains(recs[0]["received"], "TSi 192.168.1.0-192.168.1.255") || !strings.Contains(recs[0]["configured"], "172.16.0.0-172.16.255.255") {
		t.Errorf("records %v: want the selectors received and configured", recs)
	}
	if n := b.e.OpStats().Refusals["TS_UNACCEPTABLE"]; n != 1 {
		t.Errorf("refusals counted %d, want 1", n)
	}
}

// TestSAAndDPDCounters: the per-SA counters of the state and the
// engine's: requests sent, retransmissions, liveness checks sent and the
// IKE SA given up after DPD went unanswered.
func TestSAAndDPDCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, chain(dpd(0, 3), dpdAction(dpdClear)), nil, nil)
		establish(t, a, b)
		if s := a.e.Snapshot(false)[0].Stats; s.Requests != 2 || s.Retransmissions != 0 || s.DPDSent != 0 {
			t.Fatalf("initiator's counters after IKE_SA_INIT and IKE_AUTH: %+v", s)
		}
		probe(t, advance(a, dpdDelay), nil, nil) // the peer is gone from here on
		if s := a.e.Snapshot(false)[0].Stats; s.Requests != 3 || s.DPDSent != 1 {
			t.Fatalf("after one probe: %+v", s)
		}
		probe(t, advance(a, dpdDelay), nil, nil) // the same probe again (threshold)
		if s := a.e.Snapshot(false)[0].Stats; s.Retransmissions != 1 {
			t.Fatalf("after the probe's second send: %+v", s)
		}
		probe(t, advance(a, dpdDelay), nil, nil)
		advance(a, dpdDelay)
		if len(a.e.IKESAs()) != 0 {
			t.Fatal("peer not declared dead")
		}
		ops := a.e.OpStats()
		if ops.DPDSent != 1 || ops.DPDTimeouts != 1 || ops.Retransmissions != 2 || ops.Requests != 3 {
			t.Errorf("engine counters %+v: want 1 probe, 2 resends, 1 DPD timeout, 3 requests", ops)
		}
	})
}
