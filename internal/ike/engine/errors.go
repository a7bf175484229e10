package engine

import (
	"errors"
	"fmt"

	"secgw/internal/ike/wire"
)

// NotifyError is a protocol failure that maps to an error notification
// (RFC 7296 §3.10.1): the responder answers with it, an initiator reports it
// when the peer sent it.
type NotifyError struct {
	// Type is the notify message type sent or received.
	Type wire.NotifyType
	// Data is the notification data (e.g. the group of INVALID_KE_PAYLOAD).
	Data []byte
	// Reason explains the failure for logs; it never holds key material.
	Reason string
}

// Error implements error.
func (e *NotifyError) Error() string {
	if e.Reason == "" {
		return "engine: " + e.Type.String()
	}
	return fmt.Sprintf("engine: %s: %s", e.Type, e.Reason)
}

// Notify returns the notification payload of the error.
func (e *NotifyError) Notify() *wire.Notify { return wire.NewNotify(e.Type, e.Data) }

func notifyErr(t wire.NotifyType, format string, args ...any) *NotifyError {
	return &NotifyError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// Errors reported by the engine API.
var (
	// ErrUnknownVPN is returned by Initiate for a VPN that is not
	// configured, is disabled or cannot initiate (no remote-address).
	ErrUnknownVPN = errors.New("engine: unknown or responder-only vpn")
	// ErrNoSA is returned when the IKE or child SA named does not exist
	// (or cannot do what is asked in its state).
	ErrNoSA = errors.New("engine: no such SA")
	// ErrUnknownPolicy is returned for a security policy that no enabled
	// VPN has.
	ErrUnknownPolicy = errors.New("engine: unknown security policy")
)

// errPeerDead is why an SA whose request went unanswered after every
// retransmission is gone (RFC 7296 §2.4).
var errPeerDead = errors.New("engine: peer not responding, giving up")

// errSkip is returned by a task's build when it has nothing left to do:
// the task manager drops it and goes on with the next one.
var errSkip = errors.New("engine: task no longer needed")

// errAgain tells the task manager to run the task again as a new exchange
// (after INVALID_KE_PAYLOAD in CREATE_CHILD_SA, RFC 7296 §1.3).
var errAgain = errors.New("engine: new exchange")

// errRestart tells the task manager to send the IKE_SA_INIT request again,
// after a COOKIE or INVALID_KE_PAYLOAD response (RFC 7296 §2.6, §1.2).
var errRestart = errors.New("engine: restart IKE_SA_INIT")
