package netconf

import (
	"bytes"
	"encoding/xml"
	"strconv"

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
		return opError("protocol", "operation-not-supported", "delete-config deletes startup only: running and candidate cannot be deleted (discard-changes drops the candidate's edits)", map[string]string{"bad-element": string(ds)})
	}
	if err := srv.cfg.Store.DeleteStartup(s.ID()); err != nil {
		return err
	}
	srv.startupChanged(s)
	return nil
}

// startupChanged publishes netconf-config-change for startup (RFC 6470
// §2.2.1, datastore startup) after s saved or deleted it. The edit list is
// left out: the whole datastore was replaced.
func (srv *Server) startupChanged(s *transport.Session) {
	var b bytes.Buffer
	b.WriteString(`<netconf-config-change xmlns="` + NSNCNotif + `"><changed-by><username>`)
	_ = xml.EscapeText(&b, []byte(s.User()))
	b.WriteString(`</username><session-id>` + strconv.FormatUint(uint64(s.ID()), 10) + `</session-id></changed-by>`)
	b.WriteString(`<datastore>startup</datastore></netconf-config-change>`)
	srv.events.publish("ietf-netconf-notifications", "netconf-config-change", b.Bytes())
}
