package templates

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Template is a reply template: global (ChannelID nil) or for one channel.
type Template struct {
	ID        int64     `json:"id"`
	ChannelID *int64    `json:"channel_id"`
	Name      string    `json:"name"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	CreatedBy *int64    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Input is the writable part of a template; nil fields stay unchanged on update.
// ChannelID is only read on create.
type Input struct {
	ChannelID *int64
	Name      *string
	Subject   *string
	Body      *string
}

// Store keeps templates in Postgres, with the domain's access rules: a channel's
// templates belong to its members, global ones are edited by admins and used by all.
type Store struct {
	Tickets *tickets.Service
}

func (st *Store) db(ctx context.Context) *gorm.DB { return st.Tickets.DB.WithContext(ctx) }

// List returns the global templates and those of channels a may see; with
// channelID, only the global ones and that channel's.
func (st *Store) List(ctx context.Context, a *tickets.Agent, channelID *int64) ([]Template, error) {
	ids, err := st.Tickets.VisibleChannelIDs(ctx, a)
	if err != nil {
		return nil, err
	}
	if channelID != nil {
		if err := st.Tickets.CanSeeChannel(ctx, a, *channelID); err != nil {
			return nil, err
		}
		ids = []int64{*channelID}
	}
	var out []Template
	q := st.db(ctx).Where("channel_id IS NULL")
	if len(ids) > 0 {
		q = st.db(ctx).Where("channel_id IS NULL OR channel_id IN ?", ids)
	}
	if err := q.Order("lower(name), id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return out, nil
}

// Get returns one template a may use.
func (st *Store) Get(ctx context.Context, a *tickets.Agent, id int64) (*Template, error) {
	var t Template
	if err := st.db(ctx).Take(&t, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, tickets.ErrNotFound
		}
		return nil, fmt.Errorf("template %d: %w", id, err)
	}
	if t.ChannelID != nil {
		if err := st.Tickets.CanSeeChannel(ctx, a, *t.ChannelID); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// mayEdit: channel templates by the channel's members, global ones by admins.
func (st *Store) mayEdit(ctx context.Context, a *tickets.Agent, channelID *int64) error {
	if channelID != nil {
		return st.Tickets.CanSeeChannel(ctx, a, *channelID)
	}
	if !a.IsAdmin() {
		return tickets.ErrForbidden
	}
	return nil
}

func (in Input) apply(t *Template) error {
	var v tickets.Validator
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if in.Subject != nil {
		t.Subject = strings.TrimSpace(*in.Subject)
	}
	if in.Body != nil {
		t.Body = *in.Body
	}
	v.Check(t.Name != "", "name", "is required")
	v.MaxLen(t.Name, 200, "name")
	v.MaxLen(t.Subject, 998, "subject")
	v.MaxLen(t.Body, 100000, "body")
	v.Check(strings.TrimSpace(t.Body) != "", "body", "is required")
	if err := Check(t.Subject); err != nil {
		v.Add("subject", err.Error())
	}
	if err := Check(t.Body); err != nil {
		v.Add("body", err.Error())
	}
	return v.Err()
}

// Create stores a new template.
func (st *Store) Create(ctx context.Context, a *tickets.Agent, in Input) (*Template, error) {
	if err := st.mayEdit(ctx, a, in.ChannelID); err != nil {
		return nil, err
	}
	t := &Template{ChannelID: in.ChannelID, CreatedBy: &a.ID}
	if err := in.apply(t); err != nil {
		return nil, err
	}
	if err := st.db(ctx).Create(t).Error; err != nil {
		return nil, fmt.Errorf("create template: %w", err)
	}
	return t, nil
}

// Update changes a template.
func (st *Store) Update(ctx context.Context, a *tickets.Agent, id int64, in Input) (*Template, error) {
	t, err := st.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := st.mayEdit(ctx, a, t.ChannelID); err != nil {
		return nil, err
	}
	if err := in.apply(t); err != nil {
		return nil, err
	}
	t.UpdatedAt = time.Now().UTC()
	if err := st.db(ctx).Save(t).Error; err != nil {
		return nil, fmt.Errorf("update template %d: %w", id, err)
	}
	return t, nil
}

// Delete removes a template.
func (st *Store) Delete(ctx context.Context, a *tickets.Agent, id int64) error {
	t, err := st.Get(ctx, a, id)
	if err != nil {
		return err
	}
	if err := st.mayEdit(ctx, a, t.ChannelID); err != nil {
		return err
	}
	if err := st.db(ctx).Delete(&Template{}, id).Error; err != nil {
		return fmt.Errorf("delete template %d: %w", id, err)
	}
	return nil
}

// Vars returns the variable values for a ticket a may see (ticketID 0: no ticket,
// for a new conversation) and channel channelID (0: the ticket's).
func (st *Store) Vars(ctx context.Context, a *tickets.Agent, ticketID, channelID int64) (map[string]string, error) {
	vars := map[string]string{"agent.name": a.Name, "agent.first_name": firstName(a.Name)}
	db := st.db(ctx)
	if ticketID != 0 {
		t, err := st.Tickets.VisibleTicket(ctx, a, ticketID)
		if err != nil {
			return nil, err
		}
		channelID = t.ChannelID
		vars["ticket.number"] = strconv.FormatInt(t.Number, 10)
		vars["ticket.subject"] = t.Subject
		if t.ContactID != nil {
			var c tickets.Contact
			if err := db.Preload("Identities").Take(&c, *t.ContactID).Error; err != nil {
				return nil, fmt.Errorf("contact %d: %w", *t.ContactID, err)
			}
			name := c.Name
			for _, id := range c.Identities {
				if id.Kind == "email" && vars["contact.email"] == "" {
					vars["contact.email"] = id.Value
				}
				if name == "" {
					name = id.DisplayName
				}
			}
			vars["contact.name"] = name
			vars["contact.first_name"] = firstName(name)
		}
	}
	if channelID != 0 {
		ch, err := st.Tickets.Channel(ctx, a, channelID)
		if err != nil {
			return nil, err
		}
		vars["channel.name"] = ch.Name
	}
	return vars, nil
}

// RenderForTicket renders template id for a ticket: the template must be global or
// of the ticket's channel, and every variable must exist.
func (st *Store) RenderForTicket(ctx context.Context, a *tickets.Agent, id, ticketID int64) (subject, body string, err error) {
	t, err := st.Get(ctx, a, id)
	if err != nil {
		return "", "", err
	}
	vars, err := st.Vars(ctx, a, ticketID, 0)
	if err != nil {
		return "", "", err
	}
	if t.ChannelID != nil && ticketID != 0 {
		tk, err := st.Tickets.VisibleTicket(ctx, a, ticketID)
		if err != nil {
			return "", "", err
		}
		if tk.ChannelID != *t.ChannelID {
			return "", "", tickets.Invalid("template_id", "belongs to another channel")
		}
	}
	if subject, err = Render(t.Subject, vars); err != nil {
		return "", "", tickets.Invalid("template_id", err.Error())
	}
	if body, err = Render(t.Body, vars); err != nil {
		return "", "", tickets.Invalid("template_id", err.Error())
	}
	return subject, body, nil
}
