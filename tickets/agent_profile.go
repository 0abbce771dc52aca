package tickets

import (
	"context"
	"fmt"
	"strings"
)

// Agent availability: round robin and least_open assign only to online agents.
const (
	AgentOnline  = "online"
	AgentAway    = "away"
	AgentOffline = "offline"
)

// ProfileChange is what an agent may change about themselves; nil fields are left
// as they are.
type ProfileChange struct {
	Status        *string
	Name          *string
	Signature     *string
	UndoSeconds   *int
	NotifySound   *bool
	NotifyDesktop *bool
	NotifyEmail   *bool
}

// UpdateProfile changes agent a's own status and settings.
func (s *Service) UpdateProfile(ctx context.Context, a *Agent, c ProfileChange) (*Agent, error) {
	var v Validator
	updates := map[string]any{}
	if c.Status != nil {
		v.Check(*c.Status == AgentOnline || *c.Status == AgentAway || *c.Status == AgentOffline, "status",
			"must be online, away or offline")
		updates["status"] = *c.Status
	}
	if c.Name != nil {
		n := strings.TrimSpace(*c.Name)
		v.Check(n != "", "name", "is required")
		v.MaxLen(n, 200, "name")
		updates["name"] = n
	}
	if c.Signature != nil {
		v.MaxLen(*c.Signature, 10000, "signature")
		updates["signature"] = *c.Signature
	}
	if c.UndoSeconds != nil {
		v.Check(*c.UndoSeconds >= 0 && *c.UndoSeconds <= 300, "undo_seconds", "must be between 0 and 300")
		updates["undo_seconds"] = *c.UndoSeconds
	}
	for col, p := range map[string]*bool{"notify_sound": c.NotifySound, "notify_desktop": c.NotifyDesktop,
		"notify_email": c.NotifyEmail} {
		if p != nil {
			updates[col] = *p
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(updates) > 0 {
		updates["updated_at"] = s.now()
		if err := s.DB.WithContext(ctx).Model(&Agent{}).Where("id = ?", a.ID).Updates(updates).Error; err != nil {
			return nil, fmt.Errorf("update agent %d: %w", a.ID, err)
		}
	}
	out, err := s.Agent(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if c.Status != nil && *c.Status != a.Status {
		s.Publisher.Publish(ctx, LiveEvent{Kind: "agent.status", AgentID: a.ID, Data: map[string]any{"status": out.Status}})
	}
	return out, nil
}
