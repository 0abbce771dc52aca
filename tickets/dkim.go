package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// DKIMKey is the signing key of one sending domain. The private key never leaves
// the server through the API.
type DKIMKey struct {
	Domain     string    `json:"domain" gorm:"primaryKey"`
	Selector   string    `json:"selector"`
	PrivateKey string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// DKIMKeyFor returns the key for the domain of address from, or nil when none is
// configured (the mail then goes out unsigned).
func (s *Service) DKIMKeyFor(ctx context.Context, from string) (*DKIMKey, error) {
	at := strings.LastIndexByte(from, '@')
	if at < 0 {
		return nil, nil
	}
	var k DKIMKey
	err := s.DB.WithContext(ctx).Where("domain = ?", strings.ToLower(from[at+1:])).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dkim key for %s: %w", from, err)
	}
	return &k, nil
}

// SetDKIMKey stores (or replaces) a domain's key; admins only. check validates the
// key (the caller parses it, since tickets knows nothing of mail formats).
func (s *Service) SetDKIMKey(ctx context.Context, a *Agent, k DKIMKey, check func(DKIMKey) error) (*DKIMKey, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	var v Validator
	k.Domain = strings.ToLower(strings.TrimSpace(k.Domain))
	k.Selector = strings.TrimSpace(k.Selector)
	v.Check(k.Domain != "" && !strings.ContainsAny(k.Domain, "@ /"), "domain", "must be a domain name")
	v.Check(k.Selector != "" && len(k.Selector) <= 63, "selector", "is required (at most 63 characters)")
	v.Check(strings.TrimSpace(k.PrivateKey) != "", "private_key", "is required")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(k); err != nil {
			return nil, Invalid("private_key", err.Error())
		}
	}
	now := s.now()
	k.CreatedAt, k.UpdatedAt = now, now
	err := s.DB.WithContext(ctx).Exec(`INSERT INTO dkim_keys (domain, selector, private_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (domain) DO UPDATE SET selector = EXCLUDED.selector, private_key = EXCLUDED.private_key,
		updated_at = EXCLUDED.updated_at`, k.Domain, k.Selector, k.PrivateKey, now, now).Error
	if err != nil {
		return nil, fmt.Errorf("store dkim key for %s: %w", k.Domain, err)
	}
	return &k, nil
}

// TableName names the table explicitly (gorm would guess from the acronym).
func (DKIMKey) TableName() string { return "dkim_keys" }

// DKIMKeys lists the configured domains (admins only; keys are not returned).
func (s *Service) DKIMKeys(ctx context.Context, a *Agent) ([]DKIMKey, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	var out []DKIMKey
	if err := s.DB.WithContext(ctx).Order("domain").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list dkim keys: %w", err)
	}
	return out, nil
}

// DeleteDKIMKey stops signing a domain's mail.
func (s *Service) DeleteDKIMKey(ctx context.Context, a *Agent, domain string) error {
	if !a.IsAdmin() {
		return ErrForbidden
	}
	res := s.DB.WithContext(ctx).Where("domain = ?", strings.ToLower(domain)).Delete(&DKIMKey{})
	if res.Error != nil {
		return fmt.Errorf("delete dkim key %s: %w", domain, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
