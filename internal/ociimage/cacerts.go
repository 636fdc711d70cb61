package ociimage

import (
	"bytes"
	"encoding/pem"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// CACerts is the PEM bundle of the Mozilla NSS roots as the Go team ships
// them in golang.org/x/crypto/x509roots/fallback, pinned in go.mod: copied
// data like any distribution's ca-certificates.crt, but the same bytes on
// every build machine, so the image stays reproducible, and updated by a
// go.mod bump that review sees.
//
// Roots NSS trusts only for certificates issued before a date are left
// out: a PEM file cannot carry that constraint, and trusting them without
// it would trust more than NSS does.
func CACerts() []byte {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		// pem.Encode to a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return buf.Bytes()
}
