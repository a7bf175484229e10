package engine

// InstalledChildren returns the installed child SAs (keys left out) of
// the IKE SAs of the VPNs named, through each worker's index of SAs by
// VPN: its cost follows those VPNs' SAs, not every SA of the engine (the
// VPN monitor asks every second for the VPNs it watches).
func (e *Engine) InstalledChildren(vpns []string) []ChildState {
	var out []ChildState
	for _, w := range e.set.Load().workers {
		out = w.installedChildren(e, vpns, out)
	}
	return out
}

func (w *worker) installedChildren(e *Engine, vpns []string, out []ChildState) []ChildState {
	w.mu.Lock()
	defer w.unlock()
	for _, name := range vpns {
		if name == "" {
			continue // the responder SAs without a VPN yet have no child
		}
		for sa := w.byVPN[name]; sa != nil; sa = sa.vnext {
			if sa.flushed {
				continue
			}
			for _, c := range sa.children {
				if c.state != childInstalled {
					continue
				}
				cs := ChildState{ChildSA: sa.childSA(c), Installed: e.timeAt(c.installed), State: c.state.String(),
					RekeyAt: e.timeAt(c.at[timerChildRekey]), ExpireAt: e.timeAt(c.at[timerChildExpire])}
				cs.In, cs.Out = DirKeys{}, DirKeys{}
				out = append(out, cs)
			}
		}
	}
	return out
}
