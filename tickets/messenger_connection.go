package tickets

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"gorm.io/gorm"
)

// MessengerProviders are the providers a connection may use.
var MessengerProviders = []string{"telegram", "whatsapp", "webchat", "viber", "facebook", "instagram", "vk"}

// MessengerConnectionInput is the writable part of a connection; nil fields are
// left unchanged. Credentials are merged key by key (a nil value removes a key),
// because clients cannot read them back to resend the rest.
type MessengerConnectionInput struct {
	Provider    *string
	Name        *string
	Credentials map[string]*string
	APIBaseURL  *string
	Settings    *JSONMap
	Enabled     *bool
}

func (in *MessengerConnectionInput) apply(c *MessengerConnection, creating bool, v *Validator) {
	if in.Provider != nil {
		if !creating && *in.Provider != c.Provider {
			v.Add("provider", "cannot be changed; create a new connection")
		}
		c.Provider = *in.Provider
	}
	known := false
	for _, p := range MessengerProviders {
		known = known || p == c.Provider
	}
	v.Check(known, "provider", "must be one of "+strings.Join(MessengerProviders, ", "))
	setStr(&c.Name, in.Name, "name", 200, v)
	if c.Credentials == nil {
		c.Credentials = JSONMap{}
	}
	for k, val := range in.Credentials {
		if val == nil {
			delete(c.Credentials, k)
			continue
		}
		v.MaxLen(*val, 4096, "credentials."+k)
		c.Credentials[k] = *val
	}
	setStr(&c.APIBaseURL, in.APIBaseURL, "api_base_url", 500, v)
	if c.APIBaseURL != "" {
		u, err := url.Parse(c.APIBaseURL)
		v.Check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "", "api_base_url",
			"must be an http or https URL")
	}
	if in.Settings != nil {
		c.Settings = *in.Settings
	}
	if c.Settings == nil {
		c.Settings = JSONMap{}
	}
	if d, ok := c.Settings["reopen_days"]; ok {
		n, isNum := d.(float64)
		v.Check(isNum && n >= 0 && n <= 365, "settings.reopen_days", "must be a number of days from 0 to 365")
	}
	if m, ok := c.Settings["menu"]; ok && m != nil {
		_, isObj := m.(map[string]any)
		v.Check(isObj, "settings.menu", "must be an object with prompt, options and fallback")
	}
	if in.Enabled != nil {
		c.Enabled = *in.Enabled
	}
}

// CredentialKeys lists which credentials are set, so clients can show it without
// seeing the secrets.
func (c *MessengerConnection) CredentialKeys() []string {
	keys := make([]string, 0, len(c.Credentials))
	for k := range c.Credentials {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// MessengerConnections lists a channel's connections.
func (s *Service) MessengerConnections(ctx context.Context, a *Agent, channelID int64) ([]MessengerConnection, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var out []MessengerConnection
	err := s.DB.WithContext(ctx).Where("channel_id = ?", channelID).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list messenger connections: %w", err)
	}
	return out, nil
}

// MessengerConnection returns one connection of a channel agent a may see.
func (s *Service) MessengerConnection(ctx context.Context, a *Agent, channelID, id int64) (*MessengerConnection, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var c MessengerConnection
	if err := s.DB.WithContext(ctx).Where("channel_id = ? AND id = ?", channelID, id).Take(&c).Error; err != nil {
		return nil, notFound(err, "messenger connection %d", id)
	}
	return &c, nil
}

// CreateMessengerConnection adds a connection to a channel (admins only).
func (s *Service) CreateMessengerConnection(ctx context.Context, a *Agent, channelID int64,
	in MessengerConnectionInput) (*MessengerConnection, error) {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	c := &MessengerConnection{ChannelID: channelID, Enabled: true}
	var v Validator
	v.Check(in.Provider != nil, "provider", "is required")
	in.apply(c, true, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.DB.WithContext(ctx).Omit("LastError").Create(c).Error; err != nil {
		return nil, fmt.Errorf("create messenger connection: %w", err)
	}
	return c, nil
}

// UpdateMessengerConnection changes a connection (admins only).
func (s *Service) UpdateMessengerConnection(ctx context.Context, a *Agent, channelID, id int64,
	in MessengerConnectionInput) (*MessengerConnection, error) {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var c MessengerConnection
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Set("gorm:query_option", "FOR UPDATE").Where("channel_id = ? AND id = ?", channelID, id).
			Take(&c).Error; err != nil {
			return notFound(err, "messenger connection %d", id)
		}
		var v Validator
		in.apply(&c, false, &v)
		if err := v.Err(); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		return tx.Model(&c).Select("name", "credentials", "api_base_url", "settings", "enabled", "updated_at").
			Updates(&c).Error
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteMessengerConnection removes a connection (admins only). Tickets and
// messages keep their history; their connection reference is cleared.
func (s *Service) DeleteMessengerConnection(ctx context.Context, a *Agent, channelID, id int64) error {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return err
	}
	res := s.DB.WithContext(ctx).Where("channel_id = ? AND id = ?", channelID, id).Delete(&MessengerConnection{})
	if res.Error != nil {
		return fmt.Errorf("delete messenger connection %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
