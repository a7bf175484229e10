// Package archtest holds the test that keeps the package graph layered: a
// package imports only packages of its own layer or below, arrows between
// subsystems of one layer are declared, and the IKE engine links no
// generated (ygot) code. Its table below is the architecture picture of the
// README in code.
package archtest
