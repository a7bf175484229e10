package datastore

import (
	"secgw/internal/configtest"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestZZFrag(t *testing.T) {
	b := &testing.B{}
	_ = b
	open(t, t.TempDir())
	dir := t.TempDir()
	if err := writeAtomic(dir+"/"+runningFile, encodeConfig(tSchema, configtest.Concentrator(t, tSchema, 100000), 0), nil); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var m0, m runtime.MemStats
	runtime.ReadMemStats(&m0)
	st := open(t, dir)
	st.Snapshot(Running)
	debug.FreeOSMemory()
	runtime.ReadMemStats(&m)
	t.Logf("alloc %d MB inuse %d MB (before: %d %d)", (m.HeapAlloc)>>20, m.HeapInuse>>20, m0.HeapAlloc>>20, m0.HeapInuse>>20)
	runtime.KeepAlive(st)
}


