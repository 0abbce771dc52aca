package tickets

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Who sees which contact: contacts are shared by every channel, but knowing that a
// person wrote to a channel is that channel's business. An admin sees every
// contact; an agent sees a contact once it has a ticket in a channel the agent is a
// member of. A contact's tickets are listed only where the asker can see them.

// contactVisible is the condition "the contact c.id is visible to the agent".
func contactVisible(a *Agent) (string, []any) {
	if a.IsAdmin() {
		return "true", nil
	}
	scope, args := ChannelScopeSQL(a, "vt.channel_id")
	return "EXISTS (SELECT 1 FROM tickets vt WHERE vt.contact_id = c.id AND " + scope + ")", args
}

// ContactFilter selects contacts.
type ContactFilter struct {
	// Q matches a substring of the name or of any identity (address, phone, user id).
	Q string
	// Before continues below this id (the previous page's cursor).
	Before int64
	Limit  int
}

// ContactListItem is a contact as lists show it.
type ContactListItem struct {
	Contact
	TicketCount int64 `json:"ticket_count"`
}

// ContactPage is one page of contacts, newest first.
type ContactPage struct {
	Items      []ContactListItem `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// Contacts lists the contacts agent a may see, newest first; merged contacts are
// left out (they live on in the contact they were merged into).
func (s *Service) Contacts(ctx context.Context, a *Agent, f ContactFilter) (*ContactPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	vis, args := contactVisible(a)
	where := []string{"c.merged_into_id IS NULL", vis}
	if f.Before > 0 {
		where = append(where, "c.id < ?")
		args = append(args, f.Before)
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		// Both sides have pg_trgm indexes (migration 00031), so substrings in any script match.
		where = append(where, "(c.name ILIKE ? OR EXISTS (SELECT 1 FROM contact_identities ci WHERE ci.contact_id = c.id AND ci.value ILIKE ?))")
		p := likePattern(q)
		args = append(args, p, p)
	}
	tscope, targs := ChannelScopeSQL(a, "t.channel_id")
	args = append(targs, args...)
	args = append(args, f.Limit+1)
	page := &ContactPage{Items: []ContactListItem{}}
	err := s.DB.WithContext(ctx).Raw(`SELECT c.*,
			(SELECT count(*) FROM tickets t WHERE t.contact_id = c.id AND `+tscope+`) AS ticket_count
		FROM contacts c WHERE `+strings.Join(where, " AND ")+`
		ORDER BY c.id DESC LIMIT ?`, args...).Scan(&page.Items).Error
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = fmt.Sprint(page.Items[f.Limit-1].ID)
	}
	if err := s.loadIdentities(ctx, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

func (s *Service) loadIdentities(ctx context.Context, items []ContactListItem) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]int64, len(items))
	at := map[int64]int{}
	for i := range items {
		ids[i] = items[i].ID
		at[items[i].ID] = i
		items[i].Identities = []ContactIdentity{}
	}
	var all []ContactIdentity
	if err := s.DB.WithContext(ctx).Where("contact_id IN ?", ids).Order("id").Find(&all).Error; err != nil {
		return fmt.Errorf("contact identities: %w", err)
	}
	for _, ci := range all {
		it := &items[at[ci.ContactID]]
		it.Identities = append(it.Identities, ci)
	}
	return nil
}

// ContactDetail is a contact with its identities and its tickets on every channel
// the asker can see.
type ContactDetail struct {
	Contact
	Tickets []TicketRef `json:"tickets"`
}

// visibleContact loads contact id if agent a may see it.
func (s *Service) visibleContact(tx *gorm.DB, a *Agent, id int64, lock bool) (*Contact, error) {
	vis, args := contactVisible(a)
	q := tx.Table("contacts c").Where("c.id = ?", id).Where(vis, args...)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE", Table: clause.Table{Name: "c"}})
	}
	var c Contact
	if err := q.Select("c.*").Take(&c).Error; err != nil {
		return nil, notFound(err, "contact %d", id)
	}
	return &c, nil
}

// ContactDetail returns one contact agent a may see.
func (s *Service) ContactDetail(ctx context.Context, a *Agent, id int64) (*ContactDetail, error) {
	db := s.DB.WithContext(ctx)
	c, err := s.visibleContact(db, a, id, false)
	if err != nil {
		return nil, err
	}
	d := &ContactDetail{Contact: *c, Tickets: []TicketRef{}}
	if err := db.Where("contact_id = ?", id).Order("id").Find(&d.Identities).Error; err != nil {
		return nil, fmt.Errorf("identities of contact %d: %w", id, err)
	}
	err = db.Table("tickets").Scopes(ChannelScope(a, "tickets.channel_id")).Select(ticketRefCols).
		Where("tickets.contact_id = ?", id).Order("tickets.last_activity_at DESC, tickets.id DESC").Limit(500).
		Scan(&d.Tickets).Error
	if err != nil {
		return nil, fmt.Errorf("tickets of contact %d: %w", id, err)
	}
	return d, nil
}

// MergeContacts merges contact id into intoID: identities, tickets and messages
// move over, the name fills in if the survivor has none, and the merged contact
// keeps a pointer (so ResolveContact follows it). Both must be visible to a.
func (s *Service) MergeContacts(ctx context.Context, a *Agent, id, intoID int64) (*ContactDetail, error) {
	if intoID <= 0 {
		return nil, Invalid("into_id", "is required")
	}
	if id == intoID {
		return nil, Invalid("into_id", "must be another contact")
	}
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// Lock in id order so two opposite merges cannot deadlock.
		first, second := min(id, intoID), max(id, intoID)
		cs := map[int64]*Contact{}
		for _, cid := range []int64{first, second} {
			c, err := s.visibleContact(tx, a, cid, true)
			if err == ErrNotFound && cid == intoID {
				return Invalid("into_id", "no such contact")
			}
			if err != nil {
				return err
			}
			cs[cid] = c
		}
		src, into := cs[id], cs[intoID]
		var v Validator
		v.Check(src.MergedIntoID == nil, "id", "is already merged")
		v.Check(into.MergedIntoID == nil, "into_id", "is merged into another contact; merge into that one")
		if err := v.Err(); err != nil {
			return err
		}
		var moved []int64
		if err := tx.Model(&Ticket{}).Where("contact_id = ?", src.ID).Order("id").Pluck("id", &moved).Error; err != nil {
			return fmt.Errorf("tickets of contact %d: %w", src.ID, err)
		}
		for _, q := range []string{
			`UPDATE contact_identities SET contact_id = ? WHERE contact_id = ?`,
			`UPDATE tickets SET contact_id = ? WHERE contact_id = ?`,
			`UPDATE messages SET contact_id = ? WHERE contact_id = ?`,
		} {
			if err := tx.Exec(q, into.ID, src.ID).Error; err != nil {
				return fmt.Errorf("merge contact %d into %d: %w", src.ID, into.ID, err)
			}
		}
		updates := map[string]any{"updated_at": s.now()}
		if strings.TrimSpace(into.Name) == "" && src.Name != "" {
			updates["name"] = src.Name
		}
		if err := tx.Model(&Contact{}).Where("id = ?", into.ID).Updates(updates).Error; err != nil {
			return fmt.Errorf("update contact %d: %w", into.ID, err)
		}
		if err := tx.Model(&Contact{}).Where("id = ?", src.ID).
			Updates(map[string]any{"merged_into_id": into.ID, "updated_at": s.now()}).Error; err != nil {
			return fmt.Errorf("mark contact %d merged: %w", src.ID, err)
		}
		// One timeline entry on each ticket that changed hands.
		for _, tid := range moved {
			if err := RecordEvent(tx, tid, &a.ID, "contact_merged", fmt.Sprint(src.ID), fmt.Sprint(into.ID), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.ContactDetail(ctx, a, intoID)
}
