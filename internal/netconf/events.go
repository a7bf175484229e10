package netconf

// Notify publishes a notification of the daemon's own (event is the
// element that goes inside <notification>, after eventTime) to every
// session subscribed with create-subscription (RFC 5277 §4).
func (srv *Server) Notify(event []byte) { srv.events.publish(event) }

// Subscribed reports whether a session is subscribed to notifications:
// without one, the daemon need not encode its events.
func (srv *Server) Subscribed() bool {
	srv.events.mu.Lock()
	defer srv.events.mu.Unlock()
	return len(srv.events.subs) > 0
}
