package netconf

import (
	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/netconf/transport"
)

// The :startup capability (RFC 6241 §8.7): copy-config running to startup
// saves running for the next boot, get-config and validate read startup,
// copy-config startup to candidate loads it for a commit, delete-config
// deletes it, lock and unlock apply to it. The datastore keeps it
// (datastore/startup.go); the daemon loads it at boot.

// startupTree returns startup for get-config and validate: an empty
// configuration when none was saved (or it was deleted).
func (srv *Server) startupTree() (*generated.Device, error) {
	d, ok, err := srv.cfg.Store.StartupConfig()
	if err != nil {
		return nil, err
	}
	if !ok {
		return &generated.Device{}, nil
	}
	return d, nil
}

// deleteConfig implements delete-config (RFC 6241 §7.4): running cannot
// be deleted, nor can the candidate here (it is running plus the edits;
// discard-changes drops them); startup can.
func (srv *Server) deleteConfig(s *transport.Session, p *lockParams) error {
	ds, err := p.Target.name()
	if err != nil {
		return err
	}
	if ds != datastore.Startup {
		return &opError{Type: "protocol", Tag: "operation-not-supported",
			Message: "delete-config deletes startup only: running and candidate cannot be deleted (discard-changes drops the candidate's edits)",
			Info:    map[string]string{"bad-element": string(ds)}}
	}
	return srv.cfg.Store.DeleteStartup(s.ID())
}
