package daemon

import (
	"context"

	"secgw/internal/ikesvc"
)

// vrfRPCs hands each IKE RPC to the IKE instance of the vrf its input
// names (the model's RPCs carry the vrf, secgw-ike-rpc.yang): vrf main
// (or none) to the daemon's service, another to its vrf's instance.
type vrfRPCs struct{ d *Daemon }

// svc is the service of vrf.
func (r vrfRPCs) svc(vrf string) (*ikesvc.Service, error) {
	if vrf == "" || vrf == ikesvc.VRF || r.d.vrfs == nil {
		return r.d.ike, nil
	}
	return r.d.vrfs.service(vrf)
}

// Initiate is ikesvc.Service.Initiate in the Target's vrf.
func (r vrfRPCs) Initiate(ctx context.Context, t ikesvc.Target) (ikesvc.Result, error) {
	s, err := r.svc(t.VRF)
	if err != nil {
		return ikesvc.Result{}, err
	}
	return s.Initiate(ctx, t)
}

// Rekey is ikesvc.Service.Rekey in the Target's vrf.
func (r vrfRPCs) Rekey(ctx context.Context, t ikesvc.Target) (ikesvc.Result, error) {
	s, err := r.svc(t.VRF)
	if err != nil {
		return ikesvc.Result{}, err
	}
	return s.Rekey(ctx, t)
}

// Reauth is ikesvc.Service.Reauth in the Target's vrf.
func (r vrfRPCs) Reauth(ctx context.Context, t ikesvc.Target) (ikesvc.Result, error) {
	s, err := r.svc(t.VRF)
	if err != nil {
		return ikesvc.Result{}, err
	}
	return s.Reauth(ctx, t)
}

// Flush is ikesvc.Service.Flush in the Target's vrf.
func (r vrfRPCs) Flush(ctx context.Context, t ikesvc.Target) (ikesvc.Result, error) {
	s, err := r.svc(t.VRF)
	if err != nil {
		return ikesvc.Result{}, err
	}
	return s.Flush(ctx, t)
}

// Redirect is ikesvc.Service.Redirect in the target's vrf.
func (r vrfRPCs) Redirect(ctx context.Context, t ikesvc.RedirectTarget) (ikesvc.Result, error) {
	s, err := r.svc(t.VRF)
	if err != nil {
		return ikesvc.Result{}, err
	}
	return s.Redirect(ctx, t)
}

// DebugIKE is ikesvc.Service.DebugIKE in the input's vrf.
func (r vrfRPCs) DebugIKE(ctx context.Context, in ikesvc.DebugInput) (ikesvc.DebugOutput, error) {
	s, err := r.svc(in.VRF)
	if err != nil {
		return ikesvc.DebugOutput{}, err
	}
	return s.DebugIKE(ctx, in)
}
