package templates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Signature is what the composer appends to a reply in a channel: the agent's own
// signature (their one for this channel, else their general one) and the channel's,
// with variables rendered.
type Signature struct {
	ChannelID int64  `json:"channel_id"`
	Agent     string `json:"agent"`
	Channel   string `json:"channel"`
	// Text is both, rendered, separated by a blank line: what the composer inserts.
	Text string `json:"text"`
}

type agentSignature struct {
	AgentID   int64 `gorm:"primaryKey"`
	ChannelID int64 `gorm:"primaryKey"`
	Body      string
	UpdatedAt time.Time
}

func (agentSignature) TableName() string { return "agent_signatures" }

// SignatureFor returns agent a's signature in a channel a may see.
func (st *Store) SignatureFor(ctx context.Context, a *tickets.Agent, channelID int64) (*Signature, error) {
	ch, err := st.Tickets.Channel(ctx, a, channelID)
	if err != nil {
		return nil, err
	}
	own := a.Signature
	var row agentSignature
	err = st.db(ctx).Where("agent_id = ? AND channel_id = ?", a.ID, channelID).Take(&row).Error
	switch {
	case err == nil:
		own = row.Body
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, fmt.Errorf("signature of agent %d: %w", a.ID, err)
	}
	vars := map[string]string{"agent.name": a.Name, "agent.first_name": firstName(a.Name), "channel.name": ch.Name}
	sig := &Signature{ChannelID: channelID}
	// A signature saved before a variable was renamed still shows, unrendered,
	// rather than breaking the composer.
	if sig.Agent, err = Render(own, vars); err != nil {
		sig.Agent = own
	}
	if sig.Channel, err = Render(ch.Signature, vars); err != nil {
		sig.Channel = ch.Signature
	}
	var parts []string
	for _, p := range []string{sig.Agent, sig.Channel} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	sig.Text = strings.Join(parts, "\n\n")
	return sig, nil
}

// SetSignature stores agent a's own signature for a channel ("" removes it, so the
// general one applies again).
func (st *Store) SetSignature(ctx context.Context, a *tickets.Agent, channelID int64, body string) (*Signature, error) {
	if err := st.Tickets.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var v tickets.Validator
	v.MaxLen(body, 10000, "body")
	if err := Check(body); err != nil {
		v.Add("body", err.Error())
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	db := st.db(ctx)
	var err error
	if strings.TrimSpace(body) == "" {
		err = db.Where("agent_id = ? AND channel_id = ?", a.ID, channelID).Delete(&agentSignature{}).Error
	} else {
		err = db.Exec(`INSERT INTO agent_signatures (agent_id, channel_id, body, updated_at) VALUES (?, ?, ?, now())
			ON CONFLICT (agent_id, channel_id) DO UPDATE SET body = EXCLUDED.body, updated_at = now()`,
			a.ID, channelID, body).Error
	}
	if err != nil {
		return nil, fmt.Errorf("store signature: %w", err)
	}
	return st.SignatureFor(ctx, a, channelID)
}
