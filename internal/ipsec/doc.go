// Package ipsec is the IPsec vocabulary shared by IKE and the dataplanes:
// IANA transform types and IDs with their names (RFC 7296 §3.3.2, RFC 9370),
// traffic selectors with their prefix and range helpers (RFC 7296 §3.13.1),
// and the classification of UDP-encapsulated datagrams on the NAT-T port
// (RFC 3948). It holds values and pure functions only; the IKE message codec
// is ike/wire, the ESP transforms are esp.
package ipsec
