package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// NormaliseIdentity returns the stored form of an identity value: e-mail addresses
// lower-case, everything else trimmed.
func NormaliseIdentity(kind, value string) string {
	value = strings.TrimSpace(value)
	if kind == "email" {
		return strings.ToLower(value)
	}
	return value
}

// ResolveContact finds the contact owning identity (kind, value) or creates both.
// It is safe under concurrent arrivals from the same sender: the unique
// (kind, value) index decides, and the loser re-reads the winner's row. A merged
// contact resolves to the contact it was merged into.
func (s *Service) ResolveContact(ctx context.Context, tx *gorm.DB, kind, value, displayName string) (*Contact, error) {
	value = NormaliseIdentity(kind, value)
	if value == "" {
		return nil, Invalid("identity", "is empty")
	}
	tx = tx.WithContext(ctx)
	for attempt := 0; attempt < 3; attempt++ {
		var id ContactIdentity
		err := tx.Where("kind = ? AND value = ?", kind, value).Take(&id).Error
		if err == nil {
			return s.liveContact(tx, id.ContactID, displayName)
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("look up %s identity: %w", kind, err)
		}
		c := &Contact{Name: strings.TrimSpace(displayName)}
		err = tx.Transaction(func(tx2 *gorm.DB) error {
			if err := tx2.Create(c).Error; err != nil {
				return err
			}
			res := tx2.Clauses(clause.OnConflict{DoNothing: true}).Create(&ContactIdentity{ContactID: c.ID, Kind: kind,
				Value: value, DisplayName: strings.TrimSpace(displayName)})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return errIdentityTaken
			}
			return nil
		})
		if errors.Is(err, errIdentityTaken) {
			continue // someone else created it first: read theirs
		}
		if err != nil {
			return nil, fmt.Errorf("create contact: %w", err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("resolve contact %s:%s: too much contention", kind, value)
}

var errIdentityTaken = errors.New("identity taken")

// liveContact follows merge pointers and fills an empty name.
func (s *Service) liveContact(tx *gorm.DB, id int64, displayName string) (*Contact, error) {
	for hops := 0; hops < 10; hops++ {
		var c Contact
		if err := tx.Take(&c, id).Error; err != nil {
			return nil, fmt.Errorf("contact %d: %w", id, err)
		}
		if c.MergedIntoID == nil {
			if c.Name == "" && strings.TrimSpace(displayName) != "" {
				c.Name = strings.TrimSpace(displayName)
				tx.Model(&Contact{}).Where("id = ? AND name = ''", c.ID).Update("name", c.Name)
			}
			return &c, nil
		}
		id = *c.MergedIntoID
	}
	return nil, fmt.Errorf("contact %d: merge chain too long", id)
}
