package tickets

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Roles.
const (
	RoleAdmin = "admin"
	RoleAgent = "agent"
)

// Agent is a person who answers tickets.
type Agent struct {
	ID            int64      `json:"id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	PasswordHash  string     `json:"-"`
	Role          string     `json:"role"`
	Status        string     `json:"status"`
	Signature     string     `json:"signature"`
	UndoSeconds   int        `json:"undo_seconds"`
	NotifySound   bool       `json:"notify_sound"`
	NotifyDesktop bool       `json:"notify_desktop"`
	NotifyEmail   bool       `json:"notify_email"`
	DisabledAt    *time.Time `json:"disabled_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// IsAdmin reports whether the agent sees every channel.
func (a *Agent) IsAdmin() bool { return a != nil && a.Role == RoleAdmin }

// NewAgent is the input for creating an agent.
type NewAgent struct {
	Email    string
	Name     string
	Password string
	Role     string
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

func normaliseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return "", errors.New("must be a plain e-mail address")
	}
	return strings.ToLower(a.Address), nil
}

// CreateAgent validates the input, hashes the password and stores the agent.
func (s *Service) CreateAgent(ctx context.Context, in NewAgent) (*Agent, error) {
	var v Validator
	email, err := normaliseEmail(in.Email)
	if err != nil {
		v.Add("email", err.Error())
	}
	in.Name = strings.TrimSpace(in.Name)
	v.Check(in.Name != "", "name", "is required")
	v.MaxLen(in.Name, 200, "name")
	if in.Role == "" {
		in.Role = RoleAgent
	}
	v.Check(in.Role == RoleAdmin || in.Role == RoleAgent, "role", "must be admin or agent")
	v.Check(len(in.Password) >= MinPasswordLen, "password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	v.Check(len(in.Password) <= 1024, "password", "must be at most 1024 characters")
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	// Notification mail is on by default, as Help Scout users expect (migration 00038 says why).
	a := &Agent{Email: email, Name: in.Name, Role: in.Role, PasswordHash: hash, Status: "offline", UndoSeconds: 10,
		NotifySound: true, NotifyDesktop: true, NotifyEmail: true}
	if err := s.DB.WithContext(ctx).Create(a).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, Invalid("email", "is already taken")
		}
		return nil, fmt.Errorf("create agent: %w", err)
	}
	return a, nil
}

// Agent returns one agent by id.
func (s *Service) Agent(ctx context.Context, id int64) (*Agent, error) {
	var a Agent
	if err := s.DB.WithContext(ctx).First(&a, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("agent %d: %w", id, err)
	}
	return &a, nil
}

// AgentByEmail returns one agent by e-mail address (case-insensitive).
func (s *Service) AgentByEmail(ctx context.Context, email string) (*Agent, error) {
	var a Agent
	err := s.DB.WithContext(ctx).Where("email = ?", strings.TrimSpace(email)).First(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("agent by email: %w", err)
	}
	return &a, nil
}

// Agents lists every agent.
func (s *Service) Agents(ctx context.Context) ([]Agent, error) {
	var out []Agent
	err := s.DB.WithContext(ctx).Order("id").Find(&out).Error
	return out, err
}

// CountAgents returns how many agents exist.
func (s *Service) CountAgents(ctx context.Context) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&Agent{}).Count(&n).Error
	return n, err
}

// SetPassword replaces an agent's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, agentID int64, password string) error {
	if len(password) < MinPasswordLen {
		return Invalid("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Agent{}).Where("id = ?", agentID).Updates(map[string]any{"password_hash": hash, "updated_at": s.now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return tx.Where("agent_id = ?", agentID).Delete(&Session{}).Error
	})
}

// AgentUpdate is an admin's change to an agent; nil fields stay unchanged.
type AgentUpdate struct {
	Name     *string
	Role     *string
	Disabled *bool
}

// UpdateAgent changes an agent's name, role or disabled state (admins only). An
// admin cannot demote or disable themselves, so an install never loses its last way in.
func (s *Service) UpdateAgent(ctx context.Context, by *Agent, id int64, in AgentUpdate) (*Agent, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	var v Validator
	if in.Name != nil {
		n := strings.TrimSpace(*in.Name)
		in.Name = &n
		v.Check(n != "", "name", "is required")
		v.MaxLen(n, 200, "name")
	}
	if in.Role != nil {
		v.Check(*in.Role == RoleAdmin || *in.Role == RoleAgent, "role", "must be admin or agent")
		v.Check(by.ID != id || *in.Role == RoleAdmin, "role", "you cannot demote yourself")
	}
	if in.Disabled != nil {
		v.Check(by.ID != id || !*in.Disabled, "disabled", "you cannot disable yourself")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var a Agent
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Set("gorm:query_option", "FOR UPDATE").Take(&a, id).Error; err != nil {
			return notFound(err, "agent %d", id)
		}
		upd := map[string]any{"updated_at": s.now()}
		if in.Name != nil {
			upd["name"] = *in.Name
		}
		if in.Role != nil {
			upd["role"] = *in.Role
		}
		if in.Disabled != nil {
			if *in.Disabled {
				upd["disabled_at"] = s.now()
				// A disabled agent's sessions and tokens stop working at once.
				if err := tx.Where("agent_id = ?", id).Delete(&Session{}).Error; err != nil {
					return err
				}
			} else {
				upd["disabled_at"] = nil
			}
		}
		if err := tx.Model(&a).Updates(upd).Error; err != nil {
			return fmt.Errorf("update agent %d: %w", id, err)
		}
		return tx.Take(&a, id).Error
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}
