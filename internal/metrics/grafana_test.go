package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// TestGrafanaDashboard: examples/grafana/secgw.json is valid JSON, every
// panel has a query, and every metric its queries name is one secgwd
// exports (a renamed series would leave a panel empty without a word),
// a histogram's through its _bucket, _sum and _count samples; the job
// latency panel takes quantiles of the worker histograms.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../examples/grafana/secgw.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct{ List []struct{ Query string } }
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	c := NewCollector(testSources(), true)
	exposition := collectText(t, c)
	name := regexp.MustCompile(`secgw_[a-z0-9_]+`)
	exported := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (secgw_[a-z0-9_]+) ([a-z]+)$`).FindAllStringSubmatch(exposition, -1) {
		exported[m[1]] = true
		if m[2] == "histogram" { // queried through its samples
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[m[1]+s] = true
			}
		}
	}
	if len(dash.Panels) == 0 {
		t.Fatal("no panels")
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Query)
	}
	quantiles := map[string]bool{}
	for _, e := range exprs {
		if m := regexp.MustCompile(`^histogram_quantile\((0\.\d+), sum by \(le\) \(rate\((secgw_ike_worker_[a-z_]+_seconds)_bucket`).FindStringSubmatch(e); m != nil {
			quantiles[m[2]+" "+m[1]] = true
		}
	}
	for _, want := range []string{"secgw_ike_worker_queue_wait_seconds 0.5", "secgw_ike_worker_queue_wait_seconds 0.99",
		"secgw_ike_worker_handling_seconds 0.5", "secgw_ike_worker_handling_seconds 0.99"} {
		if !quantiles[want] {
			t.Errorf("no panel query for the quantile %s", want)
		}
	}
	for _, e := range exprs {
		names := name.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no secgw metric", e)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("query %q names %s, which secgwd does not export", e, n)
			}
		}
	}
}
