package mail

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey signs mail of one domain.
type DKIMKey struct {
	Domain   string
	Selector string
	Signer   crypto.Signer
}

// ParseDKIMKey reads a PEM private key (PKCS#1 or PKCS#8, RSA or Ed25519).
func ParseDKIMKey(domain, selector, pemText string) (*DKIMKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("dkim key: not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("dkim key: not a signing key")
	}
	return &DKIMKey{Domain: domain, Selector: selector, Signer: signer}, nil
}

// SignDKIM writes msg to w with a DKIM-Signature header for k in front. The
// headers a receiver shows or threads by are signed.
func SignDKIM(w io.Writer, msg io.Reader, k *DKIMKey) error {
	err := dkim.Sign(w, msg, &dkim.SignOptions{
		Domain:   k.Domain,
		Selector: k.Selector,
		Signer:   k.Signer,
		HeaderKeys: []string{"From", "To", "Cc", "Subject", "Date", "Message-Id", "In-Reply-To", "References",
			"Mime-Version", "Content-Type", "Auto-Submitted"},
	})
	if err != nil {
		return fmt.Errorf("dkim sign: %w", err)
	}
	return nil
}
