package netconf

import "fmt"

// ReloadUsers re-reads the users file into the server's accounts
// (SIGHUP) and ends the sessions the new set no longer allows: those of
// a user that was removed, and those whose role changed (a session keeps
// the role it logged in with, so a demoted admin must not keep admin
// rights until it logs out; it logs in again with the new role). Sessions
// of unchanged users go on. It returns the ids of the sessions ended. A
// file that does not parse changes nothing and ends nothing.
func (srv *Server) ReloadUsers(file string) ([]uint32, error) {
	if srv.cfg.Users == nil {
		return nil, fmt.Errorf("netconf: no users to reload")
	}
	if err := srv.cfg.Users.ReloadUsers(file); err != nil {
		return nil, err
	}
	return srv.endStaleSessions(), nil
}

// endStaleSessions ends each session whose user is gone or has another
// role than the session's, gracefully: a session running an RPC (the
// commit that removed its user) ends once its reply is written.
func (srv *Server) endStaleSessions() []uint32 {
	var ended []uint32
	for _, si := range srv.tr.Sessions() {
		if role, ok := srv.cfg.Users.Role(si.User); ok && role == si.Role {
			continue
		}
		if err := srv.tr.End(si.ID); err == nil {
			ended = append(ended, si.ID)
			srv.log.Info("netconf session ended: its user was removed or changed role",
				"session-id", si.ID, "user", si.User, "role", si.Role)
		}
	}
	return ended
}
