package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certValidity is long enough for a demo lab left running for weeks, and the
// backdating in newCert absorbs clock skew between processes.
const certValidity = 365 * 24 * time.Hour

// keyPair is a PEM certificate and its PEM private key.
type keyPair struct {
	CertPEM, KeyPEM []byte
}

// clusterPKI is everything a lab cluster's apiserver and clients need. Every
// cluster gets its own CA, as every GKE cluster does, so a client that mixes
// up two clusters' credentials fails the TLS handshake instead of quietly
// working.
type clusterPKI struct {
	CA      keyPair
	Serving keyPair // kube-apiserver's serving certificate
	Admin   keyPair // client certificate in system:masters
	// SAKeyPEM and SAPubPEM sign and verify service account tokens.
	SAKeyPEM, SAPubPEM []byte
}

func newClusterPKI(cluster string) (*clusterPKI, error) {
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "geofed-lab-ca-" + cluster},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := newCert(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}
	ca, err := encodePair(caDER, caKey)
	if err != nil {
		return nil, err
	}

	serving, err := issue(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		// The loopback the apiserver listens on, and the addresses Pods
		// on real nodes reach it at (realnode.go).
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.ParseIP(KubernetesServiceIP), net.ParseIP(LabHostIP)},
	})
	if err != nil {
		return nil, fmt.Errorf("issuing serving certificate: %w", err)
	}
	admin, err := issue(caCert, caKey, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "geofed-lab-admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("issuing admin client certificate: %w", err)
	}

	saKey, err := newKey()
	if err != nil {
		return nil, err
	}
	saKeyDER, err := x509.MarshalECPrivateKey(saKey)
	if err != nil {
		return nil, fmt.Errorf("encoding service account key: %w", err)
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding service account public key: %w", err)
	}
	return &clusterPKI{
		CA:       ca,
		Serving:  serving,
		Admin:    admin,
		SAKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: saKeyDER}),
		SAPubPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
	}, nil
}

// newKey makes a P-256 key: generating one takes microseconds, where RSA
// takes long enough to show in parallel tests on a small machine.
func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return k, nil
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	der, err := newCert(tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return keyPair{}, err
	}
	return encodePair(der, key)
}

func newCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	now := time.Now()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(certValidity)
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
}

func encodePair(certDER []byte, key *ecdsa.PrivateKey) (keyPair, error) {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return keyPair{}, fmt.Errorf("encoding key: %w", err)
	}
	return keyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}
