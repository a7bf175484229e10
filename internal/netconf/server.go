// Package netconf is secgw's NETCONF server (RFC 6241): the operations on
// the datastores, over the SSH transport of internal/netconf/transport,
// with the schema-driven XML codec of internal/xmlcodec. It is a thin
// adapter: every operation is a call to the datastore or to a typed RPC
// handler; the XML lives only here.
package netconf

import (
	"log/slog"
	"net"
	"path/filepath"
	"sync/atomic"
	"time"

	"secgw/internal/datastore"
	"secgw/internal/nacm"
	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
	"secgw/internal/validate"
	"secgw/internal/xmlcodec"
)

// Namespaces of the operations and capabilities.
const (
	NSBase         = transport.NSBase
	NSWithDefaults = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
	NSMonitoring   = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
	NSIKE          = "urn:secgw:yang:secgw-ike"
	NSHA           = "urn:secgw:yang:secgw-ha"
)

// Config configures a Server.
type Config struct {
	// Addr to listen on; default ":830".
	Addr string
	// Dir is the data directory: host key and users file live there.
	Dir       string
	Store     *datastore.Store
	Schema    *schema.Schema
	Validator *validate.Validator
	Users     *Users
	// UsersFile is the file Users was read from, which set-password
	// rewrites; empty makes set-password unsupported.
	UsersFile string
	// RPCs carries out the model's RPCs, by RPC name; one without a
	// handler answers operation-not-supported.
	RPCs map[string]RPCHandler
	// State, if set, gives the operational state that <get> returns
	// beside running.
	State  StateFunc
	Logger *slog.Logger
	// MaxSessions, IdleTimeout, MaxMessageSize and Limits bound the
	// sessions and what clients can make the server hold (see
	// transport.Config); zero values take the transport's defaults.
	MaxSessions    int
	IdleTimeout    time.Duration
	MaxMessageSize int
	Limits         transport.Limits
	// XPathMaxSteps bounds the work of one xpath filter of <get> or
	// <get-config> (see xpath.EvalWithin); XPathTimeout its duration.
	// 0 takes DefaultXPathMaxSteps and DefaultXPathTimeout, a negative
	// value removes the bound. A filter over either is refused with
	// resource-denied.
	XPathMaxSteps int64
	XPathTimeout  time.Duration
}

// Server serves NETCONF.
type Server struct {
	cfg Config
	// codec encodes and decodes the data tree of cfg.Schema.
	codec  *xmlcodec.Codec
	tr     *transport.Server
	log    *slog.Logger
	events notifier
	// nacm is the access control of running's /nacm (nil: the
	// predefined groups alone), swapped by the aaa subscriber's Apply.
	nacm atomic.Pointer[nacm.Policy]
	// denied counts the requests and notifications NACM denied (RFC
	// 8341's denied-operations, denied-data-writes and
	// denied-notifications, in <get>).
	denied struct{ ops, writes, notifications atomic.Uint32 }
	// modules maps each namespace of the schema to its module, for
	// the module-name of RFC 8341 rules.
	modules map[string]string
	// libraryID is the module-set-id of modules-state and the
	// content-id of yang-library (libraryID), fixed for the process.
	libraryID string
}

// Capabilities advertised beside base:1.0 and base:1.1 (RFC 6241 §8, RFC
// 6243, RFC 6022, RFC 7950 §5.6.4). The yang-library capability is how a
// client learns the whole module set, submodules included: RFC 7950
// §5.6.4 has a server announce its modules in /modules-state and
// advertise yang-library:1.0 with the revision of ietf-yang-library it
// implements and the module-set-id /modules-state holds, which lets a
// client cache the library until the id changes. yang-library:1.1 (RFC
// 8526 §2) is not advertised: it announces an NMDA server, with
// <get-data> and <edit-data>, which this one does not have. The module
// capabilities of RFC 6020 §5.6.4 stay for the clients that read only the
// hello; submodules never appear there.
func (srv *Server) capabilities() []string {
	caps := []string{
		"urn:ietf:params:netconf:capability:yang-library:1.0?revision=" + YangLibraryRevision + "&module-set-id=" + srv.libraryID,
		"urn:ietf:params:netconf:capability:candidate:1.0",
		"urn:ietf:params:netconf:capability:startup:1.0",
		"urn:ietf:params:netconf:capability:confirmed-commit:1.1",
		"urn:ietf:params:netconf:capability:validate:1.1",
		"urn:ietf:params:netconf:capability:xpath:1.0",
		"urn:ietf:params:netconf:capability:rollback-on-error:1.0",
		"urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim",
		"urn:ietf:params:netconf:capability:notification:1.0",
		"urn:ietf:params:netconf:capability:interleave:1.0",
		NSMonitoring + "?module=ietf-netconf-monitoring&revision=2010-10-04",
	}
	for _, src := range srv.cfg.Schema.Sources() {
		if src.Submodule || src.Namespace == "" {
			continue
		}
		caps = append(caps, src.Namespace+"?module="+src.Name+"&revision="+src.Revision)
	}
	return caps
}

// New builds a server; Serve or ListenAndServe runs it.
func New(cfg Config) (*Server, error) {
	codec, err := xmlcodec.New(cfg.Schema)
	if err != nil {
		return nil, err
	}
	srv := &Server{cfg: cfg, codec: codec, log: cfg.Logger, libraryID: libraryID(cfg.Schema)}
	srv.modules = srv.moduleNames()
	srv.events.allow = func(s *transport.Session, module, name string) bool {
		if srv.policy().Notify(nacmUser(s), module, name) == nacm.Permit {
			return true
		}
		srv.denied.notifications.Add(1)
		return false
	}
	if srv.log == nil {
		srv.log = slog.Default()
	}
	tr, err := transport.NewServer(transport.Config{
		Addr:           cfg.Addr,
		HostKeyFile:    filepath.Join(cfg.Dir, "ssh_host_ed25519_key"),
		Auth:           cfg.Users,
		Handler:        srv,
		Capabilities:   srv.capabilities(),
		MaxSessions:    cfg.MaxSessions,
		IdleTimeout:    cfg.IdleTimeout,
		MaxMessageSize: cfg.MaxMessageSize,
		Limits:         cfg.Limits,
		Logger:         srv.log,
		OnSessionStart: srv.sessionStart,
		OnSessionEnd:   srv.sessionEnd,
	})
	if err != nil {
		return nil, err
	}
	srv.tr = tr
	cfg.Store.Subscribe(configChange{srv})
	if err := srv.startAccounts(); err != nil {
		_ = tr.Close()
		return nil, err
	}
	return srv, nil
}

// Serve serves on ln until Close.
func (srv *Server) Serve(ln net.Listener) error { return srv.tr.Serve(ln) }

// ListenAndServe listens on the configured address and serves.
func (srv *Server) ListenAndServe() error { return srv.tr.ListenAndServe() }

// Stats returns the counters of the transport's limits.
func (srv *Server) Stats() transport.Stats { return srv.tr.Stats() }

// Close stops the server and ends every session.
func (srv *Server) Close() error { return srv.tr.Close() }

func (srv *Server) validator() *validate.Validator { return srv.cfg.Validator }
