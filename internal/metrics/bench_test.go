package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"secgw/generated"
	"secgw/internal/ptr"
)

// bigState is an ike container with n IKE SAs of one child SA each.
func bigState(n int) *generated.SecgwVrf_Vrf_Ike {
	ike := &generated.SecgwVrf_Vrf_Ike{IkeSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa{},
		Statistics: &generated.SecgwVrf_Vrf_Ike_Statistics{IkeSaSetups: ptr.To(uint64(n))}}
	for i := range n {
		id := uint32(2*i + 1)
		ike.IkeSa[id] = &generated.SecgwVrf_Vrf_Ike_IkeSa{UniqueId: ptr.To(id), Name: ptr.To(fmt.Sprintf("vpn%d", i)),
			State: generated.SecgwVrf_Vrf_Ike_IkeSa_State_established,
			ChildSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{id + 1: {
				UniqueId: ptr.To(id + 1), Name: ptr.To("sp"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_installed,
				SpiIn: ptr.To(fmt.Sprintf("%08x", id)), SpiOut: ptr.To(fmt.Sprintf("%08x", id+1)),
				BytesIn: ptr.To(uint64(i)), BytesOut: ptr.To(uint64(i)), PacketsIn: ptr.To(uint64(i)), PacketsOut: ptr.To(uint64(i)),
			}}}
	}
	return ike
}

// BenchmarkScrape is one scrape (collect and encode) over 10k tunnels,
// without and with the per-tunnel series; the state itself is built
// once (its cost is <get>'s).
func BenchmarkScrape(b *testing.B) {
	for _, per := range []bool{false, true} {
		b.Run(fmt.Sprintf("10k-per-tunnel-%t", per), func(b *testing.B) {
			st := bigState(10000)
			reg := prometheus.NewRegistry()
			reg.MustRegister(NewCollector(Sources{VRF: "main", State: func() *generated.SecgwVrf_Vrf_Ike { return st }}, per))
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				io.Copy(io.Discard, rec.Body)
			}
		})
	}
}
