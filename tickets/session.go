package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SessionTTL is how long a login lasts without use.
const SessionTTL = 30 * 24 * time.Hour

// Session is a server-side login; ID is the hash of the cookie value.
type Session struct {
	ID         string
	AgentID    int64
	CSRFToken  string `gorm:"column:csrf_token"`
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// APIToken is a bearer token for scripts; only its hash is stored.
type APIToken struct {
	ID         int64      `json:"id"`
	AgentID    int64      `json:"agent_id"`
	Name       string     `json:"name"`
	TokenHash  string     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Authenticate checks an e-mail and password. Unknown addresses, disabled agents and
// wrong passwords all return ErrUnauthorized after the same amount of work.
func (s *Service) Authenticate(ctx context.Context, email, password string) (*Agent, error) {
	a, err := s.AgentByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		CheckPassword(dummyHash(), password)
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, errBadCredentials)
	}
	if err != nil {
		return nil, err
	}
	if !CheckPassword(a.PasswordHash, password) || a.DisabledAt != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, errBadCredentials)
	}
	return a, nil
}

// CreateSession starts a login and returns the cookie value (shown once) and the session.
func (s *Service) CreateSession(ctx context.Context, agentID int64, ip, userAgent string) (string, *Session, error) {
	token := RandomToken(32)
	now := s.now()
	sess := &Session{ID: TokenHash(token), AgentID: agentID, CSRFToken: RandomToken(24), IP: ip,
		UserAgent: truncate(userAgent, 500), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.DB.WithContext(ctx).Create(sess).Error; err != nil {
		return "", nil, fmt.Errorf("create session: %w", err)
	}
	return token, sess, nil
}

// SessionAgent resolves a cookie value to its session and agent, sliding the expiry.
func (s *Service) SessionAgent(ctx context.Context, token string) (*Session, *Agent, error) {
	var sess Session
	err := s.DB.WithContext(ctx).Where("id = ? AND expires_at > ?", TokenHash(token), s.now()).First(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrUnauthorized
	}
	if err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	a, err := s.Agent(ctx, sess.AgentID)
	if err != nil || a.DisabledAt != nil {
		return nil, nil, ErrUnauthorized
	}
	// Touch at most once a minute to keep the hot path read-only.
	if now := s.now(); now.Sub(sess.LastSeenAt) > time.Minute {
		s.DB.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).
			Updates(map[string]any{"last_seen_at": now, "expires_at": now.Add(SessionTTL)})
	}
	return &sess, a, nil
}

// DeleteSession ends a login.
func (s *Service) DeleteSession(ctx context.Context, token string) error {
	return s.DB.WithContext(ctx).Where("id = ?", TokenHash(token)).Delete(&Session{}).Error
}

// CreateAPIToken issues a bearer token for an agent; the plain token is returned once.
func (s *Service) CreateAPIToken(ctx context.Context, agentID int64, name string) (string, *APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "api"
	}
	if len(name) > 200 {
		return "", nil, Invalid("name", "must be at most 200 characters")
	}
	plain := "pd_" + RandomToken(32)
	t := &APIToken{AgentID: agentID, Name: name, TokenHash: TokenHash(plain)}
	if err := s.DB.WithContext(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("create api token: %w", err)
	}
	return plain, t, nil
}

// TokenAgent resolves a bearer token to its agent.
func (s *Service) TokenAgent(ctx context.Context, plain string) (*Agent, error) {
	var t APIToken
	err := s.DB.WithContext(ctx).Where("token_hash = ? AND revoked_at IS NULL", TokenHash(plain)).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	a, err := s.Agent(ctx, t.AgentID)
	if err != nil || a.DisabledAt != nil {
		return nil, ErrUnauthorized
	}
	now := s.now()
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		s.DB.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now)
	}
	return a, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
