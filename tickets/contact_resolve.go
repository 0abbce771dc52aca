package tickets

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
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
	return s.resolveContact(ctx, tx, kind, value, displayName, nil)
}

// IdentityLookupSQL is a sub-select of the contact owning identity (kind, value)
// as sender_id, sender_name and sender_merged_into_id, for a caller that folds the
// lookup into a statement it runs anyway (mail ingest) and passes the result to
// ResolveLookedUpContact. value must be NormaliseIdentity's form.
const IdentityLookupSQL = `SELECT c.id AS sender_id, c.name AS sender_name, c.merged_into_id AS sender_merged_into_id
	FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = ? AND i.value = ?`

// ResolveLookedUpContact is ResolveContact after the caller looked the identity up
// with IdentityLookupSQL in the same transaction: found is the contact it returned,
// nil when there was none. It saves ResolveContact's own lookup.
func (s *Service) ResolveLookedUpContact(ctx context.Context, tx *gorm.DB, found *Contact, kind, value,
	displayName string) (*Contact, error) {
	if found == nil {
		found = &Contact{} // looked up, none: go straight to the insert
	}
	return s.resolveContact(ctx, tx, kind, value, displayName, found)
}

// resolveContact is ResolveContact; lookedUp, when not nil, is the result of a
// lookup already made (ID 0: none).
func (s *Service) resolveContact(ctx context.Context, tx *gorm.DB, kind, value, displayName string,
	lookedUp *Contact) (*Contact, error) {
	value = NormaliseIdentity(kind, value)
	if value == "" {
		return nil, Invalid("identity", "is empty")
	}
	displayName = strings.TrimSpace(displayName)
	tx = tx.WithContext(ctx)
	// Every inbound mail and chat message resolves its sender, so each path is one
	// statement in the common case: a returning sender is one join, a new one is
	// one insert of both rows.
	for attempt := 0; attempt < 3; attempt++ {
		var found []Contact
		if attempt == 0 && lookedUp != nil {
			if lookedUp.ID != 0 {
				found = append(found, *lookedUp)
			}
		} else {
			err := tx.Raw(`SELECT c.* FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
				WHERE i.kind = ? AND i.value = ?`, kind, value).Scan(&found).Error
			if err != nil {
				return nil, fmt.Errorf("look up %s identity: %w", kind, err)
			}
		}
		if len(found) > 0 {
			return s.liveContact(tx, &found[0], displayName)
		}
		var created struct {
			Contact
			Claimed bool
		}
		// ON CONFLICT waits for a concurrent insert of the same identity; when that
		// one wins, our contact row is removed again and the next round reads theirs.
		err := tx.Raw(`WITH c AS (
				INSERT INTO contacts (name, created_at, updated_at) VALUES (?, now(), now()) RETURNING *),
			i AS (
				INSERT INTO contact_identities (contact_id, kind, value, display_name, created_at)
				SELECT id, ?, ?, ?, now() FROM c ON CONFLICT DO NOTHING RETURNING contact_id)
			SELECT c.*, EXISTS (SELECT 1 FROM i) AS claimed FROM c`,
			displayName, kind, value, displayName).Scan(&created).Error
		if err != nil {
			return nil, fmt.Errorf("create contact: %w", err)
		}
		if created.Claimed {
			c := created.Contact
			return &c, nil
		}
		if err := tx.Exec(`DELETE FROM contacts WHERE id = ?`, created.ID).Error; err != nil {
			return nil, fmt.Errorf("drop contact that lost the identity race: %w", err)
		}
	}
	return nil, fmt.Errorf("resolve contact %s:%s: too much contention", kind, value)
}

// liveContact follows merge pointers from c and fills an empty name.
func (s *Service) liveContact(tx *gorm.DB, c *Contact, displayName string) (*Contact, error) {
	for hops := 0; c.MergedIntoID != nil; hops++ {
		if hops == 10 {
			return nil, fmt.Errorf("contact %d: merge chain too long", c.ID)
		}
		next := *c.MergedIntoID
		c = &Contact{}
		if err := tx.Take(c, next).Error; err != nil {
			return nil, fmt.Errorf("contact %d: %w", next, err)
		}
	}
	if c.Name == "" && displayName != "" {
		c.Name = displayName
		if err := tx.Model(&Contact{}).Where("id = ? AND name = ''", c.ID).Update("name", c.Name).Error; err != nil {
			return nil, fmt.Errorf("name contact %d: %w", c.ID, err)
		}
	}
	return c, nil
}
