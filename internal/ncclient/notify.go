package ncclient

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"secgw/internal/netconf/framing"
)

// Subscribe subscribes the session to the server's NETCONF event stream
// (RFC 5277 §2.1.1 create-subscription, no filter, no replay): the
// notifications come between the replies from then on, until the
// session ends (§2.1.1: a subscription cannot be cancelled). Replies are
// still matched as before: Receive skips the notifications; a caller
// reads them with NextNotification ('secgw monitor ike').
func (s *Session) Subscribe() error {
	_, err := s.Do(`<create-subscription xmlns="` + nsNotification + `"/>`)
	return err
}

// NextNotification blocks until the next <notification> arrives and
// returns it whole; anything else received meanwhile (a late reply) is
// skipped. It must not run while a request waits for its reply.
func (s *Session) NextNotification() ([]byte, error) {
	t := s.tr
	var mr framing.MessageReader = t.eom
	if t.version == "v1.1" {
		mr = t.chunked
	}
	for {
		msg, err := mr.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the server closed the session")
			}
			return nil, fmt.Errorf("netconf receive: %w", err)
		}
		if name, _ := root(msg); name == (xml.Name{Space: nsNotification, Local: "notification"}) {
			return msg, nil
		}
	}
}
