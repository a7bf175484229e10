package ikesvc

import (
	"context"
	"errors"
	"fmt"

	"secgw/internal/ike/engine"
)

// RedirectTarget is the input of the redirect RPC (secgw-ike-rpc.yang):
// the IKE SAs to redirect and the gateway to send their peers to.
type RedirectTarget struct {
	VRF     string       `yang:"vrf"`
	IKESA   *IKESelector `yang:"ike-sa"`
	Gateway string       `yang:"gateway"`
}

// Redirect sends the peers of the established IKE SAs t selects to
// another gateway (RFC 5685; 'cmd ike redirect'). Count is the number of
// IKE SAs redirected; a message names each one whose initiator did not
// announce REDIRECT_SUPPORTED.
func (s *Service) Redirect(_ context.Context, t RedirectTarget) (Result, error) {
	if err := s.checkVRF(t.VRF); err != nil {
		return Result{}, err
	}
	if t.IKESA == nil {
		return Result{}, missing("redirect", "redirect needs ike-sa")
	}
	if t.Gateway == "" {
		return Result{}, missing("redirect", "redirect needs gateway")
	}
	var res Result
	for _, sa := range s.selectIKE(&Target{IKESA: t.IKESA}) {
		switch err := s.eng.Redirect(sa.UniqueID, t.Gateway); {
		case err == nil:
			res.Count++
		case errors.Is(err, engine.ErrBadGateway):
			return Result{}, invalid("gateway", fmt.Sprintf("gateway %q is neither an address nor a domain name", t.Gateway))
		case errors.Is(err, engine.ErrRedirectUnsupported):
			res.Messages = append(res.Messages, fmt.Sprintf("IKE SA #%d (vpn %s): not redirected, the peer did not announce REDIRECT_SUPPORTED", sa.UniqueID, sa.VPN))
		}
	}
	res.Messages = append(res.Messages, fmt.Sprintf("Redirected %d IKE SA to %s.", res.Count, t.Gateway))
	return res, nil
}
