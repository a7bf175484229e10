package daemon

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"secgw/generated"
	"secgw/internal/dataplane"
)

// diagnosticsTimeout bounds the dataplane's List for a <get>.
const diagnosticsTimeout = 2 * time.Second

// diagnostics is the diagnostics container of the state: what the
// dataplane holds (its List, without keys) and the goroutine count. Read
// only: it lets a test or an operator check the dataplane against the
// child SAs through NETCONF. A failed List leaves the lists empty and
// says why in a dataplane-sa entry, which a comparison then reports.
func (d *Daemon) diagnostics() *generated.SecgwVrf_Vrf_Ike_Diagnostics {
	return diagnosticsOf(d.dataplane)
}

// diagnosticsOf is the diagnostics container of the vrf whose dataplane
// is dp (nil: none); the goroutines are the daemon's.
func diagnosticsOf(dp dataplane.Dataplane) *generated.SecgwVrf_Vrf_Ike_Diagnostics {
	n := uint32(runtime.NumGoroutine())
	diag := &generated.SecgwVrf_Vrf_Ike_Diagnostics{Goroutines: &n}
	if dp == nil {
		return diag
	}
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	st, err := dp.List(ctx)
	if err != nil {
		diag.DataplaneSa = []string{"error: " + err.Error()}
		return diag
	}
	for _, sa := range st.SAs {
		diag.DataplaneSa = append(diag.DataplaneSa, fmt.Sprintf("%s %s spi %08x reqid %d", sa.Dir, sa.Dst, sa.SPI, sa.ReqID))
	}
	for _, p := range st.Policies {
		diag.DataplanePolicy = append(diag.DataplanePolicy, fmt.Sprintf("%s %s %s reqid %d", p.Dir, p.Sel, actionName(p.Action), p.Tmpl.ReqID))
	}
	return diag
}

func actionName(a dataplane.Action) string {
	switch a {
	case dataplane.Protect:
		return "protect"
	case dataplane.Bypass:
		return "bypass"
	case dataplane.Discard:
		return "discard"
	}
	return fmt.Sprintf("action-%d", a)
}
