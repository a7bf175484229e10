package engine

// The outbound SPIs of the child SAs: what a dataplane names an outbound
// SA by (its destination, the peer, and the SPI the peer chose) when it
// reports a limit or a sequence number overflow (ExpireSA). The index
// finds the IKE SA holding such a child SA without visiting every IKE SA.
// The peers choose these SPIs, so two peers may have chosen the same: the
// index then holds Engine.outShared for that SPI, and a lookup of it
// visits the IKE SAs as it did without the index (at 100k child SAs with
// random SPIs, about one SPI in the whole engine). All of it is guarded
// by Engine.spiMu.

// setOutOwner records sa as the IKE SA of the child SA with outbound SPI
// spi; spiMu is held.
func (e *Engine) setOutOwner(spi uint32, sa *ikeSA) {
	switch cur, ok := e.outSPIs[spi]; {
	case !ok || cur == sa:
		e.outSPIs[spi] = sa
	case cur != e.outShared:
		// Another IKE SA holds a child SA with this outbound SPI
		// (another peer's choice): from now on the SPI is looked up
		// by visiting the IKE SAs.
		e.outSPIs[spi] = e.outShared
	}
}

// moveOutOwner records n, the IKE SA that replaces sa, as the IKE SA of
// sa's child SA with outbound SPI spi; spiMu is held.
func (e *Engine) moveOutOwner(spi uint32, sa, n *ikeSA) {
	if e.outSPIs[spi] == sa {
		e.outSPIs[spi] = n
		return
	}
	e.setOutOwner(spi, n)
}

// dropOutOwner forgets the child SA with outbound SPI spi if sa owns it;
// spiMu is held. A shared SPI stays shared: its lookups visit the IKE SAs.
func (e *Engine) dropOutOwner(spi uint32, sa *ikeSA) {
	if e.outSPIs[spi] == sa {
		delete(e.outSPIs, spi)
	}
}

// outOwner returns the IKE SA of the child SA with outbound SPI spi, nil
// when there is none, and shared when several IKE SAs may hold one.
func (e *Engine) outOwner(spi uint32) (sa *ikeSA, shared bool) {
	e.spiMu.Lock()
	defer e.spiMu.Unlock()
	sa = e.outSPIs[spi]
	if sa == e.outShared {
		return nil, true
	}
	return sa, false
}

// lookupOut finds the IKE SA of the child SA with outbound SPI spi and
// locks its worker, as lookupChild does by inbound SPI; the caller unlocks
// w when sa is not nil. shared tells that the index cannot tell the IKE
// SA (see above).
func (e *Engine) lookupOut(spi uint32) (sa *ikeSA, w *worker, shared bool) {
	for {
		sa, shared = e.outOwner(spi)
		if sa == nil {
			return nil, nil, shared
		}
		w, live := e.lockSA(sa)
		if owner, _ := e.outOwner(spi); live && owner == sa {
			return sa, w, false
		}
		w.unlock()
		if !live {
			return nil, nil, false
		}
	}
}
