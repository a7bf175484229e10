package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/bcrypt"
)

// Config is the endpoint's configuration (secgw-kpi's prometheus
// container, resolved by the daemon).
type Config struct {
	// Addr is where the endpoint listens.
	Addr netip.AddrPort
	// PerTunnel adds one series per child SA.
	PerTunnel bool
	// User and PasswordHash (bcrypt), when User is set, are the basic
	// authentication credentials a scrape must carry (RFC 7617).
	User, PasswordHash string
	// CertFile and KeyFile, when set, serve HTTPS.
	CertFile, KeyFile string
}

// Scrape bounds: a scrape storm (many clients at once, or one that opens
// connections without end) costs a bounded number of goroutines and
// buffers. MaxInFlight scrapes are served at once, the others answered
// 503 at once; a connection that sends no request header within
// headerTimeout, or takes longer than scrapeTimeout, is closed.
const (
	MaxInFlight   = 4
	headerTimeout = 5 * time.Second
	scrapeTimeout = 20 * time.Second
	maxHeader     = 8 << 10
	// maxConns bounds the open connections (each holds a goroutine of
	// net/http): the listener accepts no more until one closes.
	maxConns = 64
)

// Server is a running endpoint.
type Server struct {
	cfg  Config
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	// authMu guards okDigest: the SHA-256 of the last password that
	// matched the bcrypt hash, so that a scraper every 15 s costs one
	// bcrypt (~50 ms) once, not at each scrape; a wrong password costs
	// a bcrypt each time, under the in-flight bound.
	authMu   sync.Mutex
	okDigest []byte
}

// Listen opens the endpoint's socket and loads its TLS key pair; the
// endpoint serves once Serve is called. Errors name the address or file.
func Listen(cfg Config, src Sources) (*Server, error) {
	if cfg.User != "" {
		if _, err := bcrypt.Cost([]byte(cfg.PasswordHash)); err != nil {
			return nil, fmt.Errorf("metrics: basic-auth password-hash is not a bcrypt hash")
		}
	}
	var tlsCfg *tls.Config
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		kp, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("metrics: tls: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	ln = &limitListener{Listener: ln, sem: make(chan struct{}, maxConns)}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, cfg.PerTunnel), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{cfg: cfg, ln: ln, done: make(chan struct{})}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		MaxRequestsInFlight: MaxInFlight, Timeout: scrapeTimeout, ErrorHandling: promhttp.ContinueOnError,
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.authenticate(h))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: headerTimeout, ReadTimeout: headerTimeout,
		WriteTimeout: scrapeTimeout + 5*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: maxHeader,
		ErrorLog: nil}
	return s, nil
}

// Addr is the address the endpoint listens on (its port when Config's
// was 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Close; it returns at once, serving in a goroutine.
func (s *Server) Serve() {
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(s.ln)
	}()
}

// Close stops the endpoint and waits for its goroutine.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
	return err
}

// Config returns the configuration the server runs with.
func (s *Server) Config() Config { return s.cfg }

// authenticate refuses a request without the configured basic
// credentials: 401 with a challenge (RFC 7617 §2). The bcrypt check runs
// under a bound of its own, so that a storm of wrong passwords cannot
// take the CPUs.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.cfg.User == "" {
		return next
	}
	sem := make(chan struct{}, MaxInFlight)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok && subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.User)) == 1 {
			select {
			case sem <- struct{}{}:
				ok = s.passwordOK(pass)
				<-sem
			default:
				http.Error(w, "too many scrapes", http.StatusServiceUnavailable)
				return
			}
		} else {
			ok = false
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="secgw metrics", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) passwordOK(pass string) bool {
	d := sha256.Sum256([]byte(pass))
	s.authMu.Lock()
	cached := s.okDigest
	s.authMu.Unlock()
	if cached != nil && subtle.ConstantTimeCompare(cached, d[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(s.cfg.PasswordHash), []byte(pass)) != nil {
		return false
	}
	s.authMu.Lock()
	s.okDigest = d[:]
	s.authMu.Unlock()
	return true
}

// limitListener accepts at most cap(sem) connections at once.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.sem <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem })}, nil
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
