package netconf

import (
	"context"
	"encoding/xml"
	"fmt"

	"secgw/internal/xmlcodec"
)

// RPCHandler carries out one of the model's RPCs (secgw-ike's initiate,
// rekey, reauth and flush, secgw-ha's ha-notify): a subsystem's typed
// method bound with RPC.
type RPCHandler interface {
	// call decodes the input of RPC name, runs the method and encodes
	// its output (nil for <ok/>).
	call(ctx context.Context, srv *Server, name xml.Name, body []byte) ([]byte, error)
}

// RPC binds a subsystem's typed method to an RPC of the model: the server
// decodes the RPC's input into an In (xmlcodec.DecodeInput, driven by the
// RPC's input statement; In names its nodes with `yang` tags), calls fn,
// and encodes the Out it returns as the content of the rpc-reply (the
// output statement). fn's error becomes the rpc-error: an *rpcerr.Error
// as it is, any other error operation-failed with its text.
func RPC[In, Out any](fn func(context.Context, In) (Out, error)) RPCHandler {
	return typedRPC[In, Out](fn)
}

type typedRPC[In, Out any] func(context.Context, In) (Out, error)

func (fn typedRPC[In, Out]) call(ctx context.Context, srv *Server, name xml.Name, body []byte) ([]byte, error) {
	rpc := srv.cfg.Schema.RPCs[name.Local]
	if rpc == nil || rpc.Namespace().Name != name.Space {
		return nil, unsupported(name)
	}
	var in In
	if err := xmlcodec.DecodeInput(rpc, body, &in); err != nil {
		return nil, err
	}
	out, err := fn(ctx, in)
	if err != nil {
		return nil, err
	}
	return xmlcodec.AppendOutput(nil, rpc, out)
}

// Notify publishes notification name of the model (secgw-ike's sa-event)
// with its content v (a struct naming the notification's nodes with
// `yang` tags, encoded by xmlcodec.AppendNotification) to every session
// subscribed with create-subscription (RFC 5277 §4). With no session
// subscribed it encodes nothing: there is no replay (createSubscription
// refuses startTime), so an event published to nobody is never sent;
// the sa-events of 20k SAs' rekeys were 7 % of secgwd's allocation.
func (srv *Server) Notify(name string, v any) error {
	n := srv.cfg.Schema.Notifications[name]
	if n == nil {
		return fmt.Errorf("netconf: no notification %s in the schema", name)
	}
	if !srv.events.subscribed() {
		return nil
	}
	event, err := xmlcodec.AppendNotification(nil, n, v)
	if err != nil {
		return fmt.Errorf("netconf: notification %s: %w", name, err)
	}
	module := ""
	if ns := n.Namespace(); ns != nil {
		module = srv.moduleOf(ns.Name)
	}
	srv.events.publish(module, name, event)
	return nil
}
