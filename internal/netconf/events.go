package netconf

// Notify publishes a notification of the daemon's own (event is the
// element that goes inside <notification>, after eventTime) to every
// session subscribed with create-subscription (RFC 5277 §4).
func (srv *Server) Notify(event []byte) { srv.events.publish(event) }
