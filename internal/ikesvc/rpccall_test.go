package ikesvc

import (
	"context"
	"encoding/xml"
	"fmt"
	"sync"

	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// NS is the namespace of the IKE RPCs (secgw-ike-rpc.yang).
const NS = "urn:secgw:yang:secgw-ike"

var loadSchema = sync.OnceValues(schema.Load)

// Call runs one RPC as the NETCONF server does (netconf.RPC): the input
// decoded and the output encoded by the schema-driven codec around the
// typed method, so that these tests see the replies on the wire.
func (s *Service) Call(ctx context.Context, name xml.Name, input []byte) ([]byte, error) {
	sch, err := loadSchema()
	if err != nil {
		return nil, err
	}
	rpc := sch.RPCs[name.Local]
	if rpc == nil {
		return nil, fmt.Errorf("no RPC %s", name.Local)
	}
	if name.Local == "redirect" {
		var in RedirectTarget
		if err := xmlcodec.DecodeInput(rpc, input, &in); err != nil {
			return nil, err
		}
		out, err := s.Redirect(ctx, in)
		if err != nil {
			return nil, err
		}
		return xmlcodec.AppendOutput(nil, rpc, out)
	}
	methods := map[string]func(context.Context, Target) (Result, error){
		"initiate": s.Initiate, "rekey": s.Rekey, "reauth": s.Reauth, "flush": s.Flush}
	var in Target
	if err := xmlcodec.DecodeInput(rpc, input, &in); err != nil {
		return nil, err
	}
	out, err := methods[name.Local](ctx, in)
	if err != nil {
		return nil, err
	}
	return xmlcodec.AppendOutput(nil, rpc, out)
}
