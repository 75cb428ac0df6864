package testnet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	key  crypto.Signer
}

// NewCA makes a CA named name (its common name), valid from an hour ago
// for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	now := time.Now()
	c, key := makeCert(t, name, nil, nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name, Organization: []string{"gostrap testnet"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	})
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf)
	return &CA{Cert: *c, Pool: pool, key: key}
}

// Issue makes a server certificate for hosts (DNS names or IP addresses),
// signed by ca, valid from an hour ago for a day.
func (ca *CA) Issue(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	now := time.Now()
	return ca.issue(t, hosts, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// IssueExpired is Issue for a certificate that expired a day ago.
func (ca *CA) IssueExpired(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	now := time.Now()
	return ca.issue(t, hosts, now.Add(-72*time.Hour), now.Add(-24*time.Hour))
}

func (ca *CA) issue(t testing.TB, hosts []string, from, to time.Time) *Cert {
	t.Helper()
	c, _ := makeCert(t, hosts[0], ca.Leaf, ca.key, leafTemplate(hosts, from, to))
	return c
}

// SelfSigned makes a certificate for hosts that signs itself: no CA
// vouches for it.
func SelfSigned(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	now := time.Now()
	c, _ := makeCert(t, hosts[0], nil, nil, leafTemplate(hosts, now.Add(-time.Hour), now.Add(24*time.Hour)))
	return c
}

func leafTemplate(hosts []string, from, to time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		NotBefore:   from,
		NotAfter:    to,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// makeCert signs tmpl with a new P-256 key, by parent (self-signed when
// nil), and writes both as PEM files in a temporary directory.
func makeCert(t testing.TB, name string, parent *x509.Certificate, parentKey crypto.Signer, tmpl *x509.Certificate) (*Cert, crypto.Signer) {
	t.Helper()
	if name == "" {
		t.Fatal("testnet: a certificate needs a name")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), strings.NewReplacer("/", "_", "*", "_", ":", "_").Replace(name))
	c := &Cert{
		CertFile: base + ".pem",
		KeyFile:  base + ".key",
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		Leaf:     leaf,
	}
	if err := os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c, key
}
