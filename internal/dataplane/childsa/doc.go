// Package childsa is the adapter between the IKE engine and a dataplane:
// it turns the child SAs the engine negotiated (engine.ChildSA), the trap
// policies it asks for (engine.Trap) and the configuration's pass and drop
// policies (config.ClearPolicy) into the SAs and policies of the dataplane
// interface (dataplane.SA, dataplane.Policy): in and out SAs with their
// reqids, lifetimes and marks, out, in and fwd policies with their
// priorities. Programmer implements engine.Dataplane and applies the
// entries through a dataplane.Dataplane, one batch per call.
//
// Arrows: the daemon wires engine → childsa.Programmer →
// dataplane.Dataplane. This package imports the engine (for the types it
// receives), the plain IKE configuration (internal/ike/config) and the
// dataplane interface (internal/dataplane); it imports no concrete
// dataplane (xfrm, userspace: the daemon hands one in as a
// dataplane.Dataplane) and no generated YANG code.
package childsa
