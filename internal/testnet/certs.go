package testnet

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// Cert is a certificate and its key, in memory and as PEM files (for
// nginx, squid, or a client's CA file).
type Cert struct {
	CertFile string // PEM certificate
	KeyFile  string // PEM PKCS #8 private key
	TLS      tls.Certificate
	Leaf     *x509.Certificate
}

// CA is a certificate authority made for one test. Clients trust it
// through CertFile (a PEM file) or Pool.
type CA struct {
	Cert
	Pool *x509.CertPool
	m    *mirrortest.CA
}

// NewCA makes a CA named name (its common name), valid from an hour ago
// for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	m := mirrortest.NewCA(name)
	pool := x509.NewCertPool()
	pool.AddCert(m.Cert)
	c := writeCert(t, name, tls.Certificate{Certificate: [][]byte{m.Cert.Raw}, PrivateKey: m.Key})
	return &CA{Cert: *c, Pool: pool, m: m}
}

// Issue makes a server certificate for hosts (DNS names or IP addresses),
// signed by ca, valid from an hour ago for a day.
func (ca *CA) Issue(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	return writeCert(t, hosts[0], ca.m.Leaf(mirrortest.LeafOptions{Hosts: hosts}))
}

// IssueExpired is Issue for a certificate that expired a day ago.
func (ca *CA) IssueExpired(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	now := time.Now()
	return writeCert(t, hosts[0], ca.m.Leaf(mirrortest.LeafOptions{Hosts: hosts, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}))
}

// SelfSigned makes a certificate for hosts that signs itself: no CA
// vouches for it.
func SelfSigned(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	return writeCert(t, hosts[0], mirrortest.SelfSigned(mirrortest.LeafOptions{Hosts: hosts}))
}

// writeCert writes c (its chain, and its key) as PEM files in a temporary
// directory, for nginx, squid or a client's CA file.
func writeCert(t testing.TB, name string, c tls.Certificate) *Cert {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	c.Leaf = leaf
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	base := filepath.Join(t.TempDir(), strings.NewReplacer("/", "_", "*", "_", ":", "_").Replace(name))
	out := &Cert{CertFile: base + ".pem", KeyFile: base + ".key", TLS: c, Leaf: leaf}
	if err := os.WriteFile(out.CertFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
