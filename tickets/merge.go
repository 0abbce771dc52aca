package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MergeTicket merges ticket id into ticket intoID: its messages and checklist move
// over, the survivor gains its tags, and it closes with merged_into_id pointing at the survivor. Both must be
// visible to a. Tickets of different contacts are refused unless force (a
// customer writing from two addresses is one person only if an agent says so).
func (s *Service) MergeTicket(ctx context.Context, a *Agent, id, intoID int64, force bool) (*Ticket, error) {
	if id == intoID {
		return nil, Invalid("into_id", "must be another ticket")
	}
	if intoID <= 0 {
		return nil, Invalid("into_id", "is required")
	}
	var into Ticket
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		// Lock both in id order so two opposite merges cannot deadlock.
		var both []Ticket
		err := tx.Scopes(ChannelScope(a, "tickets.channel_id")).Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("tickets.id IN ?", []int64{id, intoID}).Order("tickets.id").Find(&both).Error
		if err != nil {
			return fmt.Errorf("load tickets %d and %d: %w", id, intoID, err)
		}
		var src *Ticket
		for i := range both {
			switch both[i].ID {
			case id:
				src = &both[i]
			case intoID:
				into = both[i]
			}
		}
		if src == nil {
			return ErrNotFound
		}
		if into.ID == 0 {
			return Invalid("into_id", "no such ticket")
		}
		var v Validator
		v.Check(src.MergedIntoID == nil, "id", "is already merged")
		v.Check(into.MergedIntoID == nil, "into_id", "is merged into another ticket; merge into that one")
		if !force && !sameID(src.ContactID, into.ContactID) {
			v.Add("into_id", "belongs to another contact; send force to merge anyway")
		}
		if err := v.Err(); err != nil {
			return err
		}
		return s.mergeLocked(ctx, tx, a, src, &into)
	})
	if err != nil {
		return nil, err
	}
	return &into, nil
}

func (s *Service) mergeLocked(ctx context.Context, tx *gorm.DB, a *Agent, src, into *Ticket) error {
	now := s.now()
	// A mail sent to both channels' addresses is stored once per channel; the copy
	// already on the survivor wins, since Message-IDs are unique per channel.
	if into.ChannelID != src.ChannelID {
		err := tx.Exec(`DELETE FROM messages m WHERE m.ticket_id = ? AND m.message_id_header <> ''
			AND EXISTS (SELECT 1 FROM messages o WHERE o.channel_id = ? AND o.message_id_header = m.message_id_header)`,
			src.ID, into.ChannelID).Error
		if err != nil {
			return fmt.Errorf("drop duplicate messages of ticket %d: %w", src.ID, err)
		}
	}
	res := tx.Exec(`UPDATE messages SET ticket_id = ?, channel_id = ? WHERE ticket_id = ?`, into.ID, into.ChannelID, src.ID)
	if res.Error != nil {
		return fmt.Errorf("move messages of ticket %d: %w", src.ID, res.Error)
	}
	moved := res.RowsAffected
	if err := moveChecklist(tx, src.ID, into.ID); err != nil {
		return err
	}
	tagsAdded, err := copyTags(tx, src.ID, into.ID)
	if err != nil {
		return err
	}
	err = tx.Exec(`UPDATE tickets SET
			last_activity_at = GREATEST(last_activity_at, ?),
			last_customer_activity_at = GREATEST(last_customer_activity_at, ?),
			updated_at = ?
		WHERE id = ?`, src.LastActivityAt, src.LastCustomerActivityAt, now, into.ID).Error
	if err != nil {
		return fmt.Errorf("touch ticket %d: %w", into.ID, err)
	}
	err = tx.Model(&Ticket{}).Where("id = ?", src.ID).Updates(map[string]any{"status": StatusClosed,
		"closed_at": now, "merged_into_id": into.ID, "snoozed_until": nil, "reminder": false, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("close merged ticket %d: %w", src.ID, err)
	}
	if err := RecordEvent(tx, src.ID, &a.ID, "merged", src.Status, fmt.Sprint(into.ID),
		JSONMap{"into_id": into.ID, "into_number": into.Number, "messages": moved}); err != nil {
		return err
	}
	if err := RecordEvent(tx, into.ID, &a.ID, "merged_from", "", fmt.Sprint(src.ID),
		JSONMap{"from_id": src.ID, "from_number": src.Number, "messages": moved, "tags_added": tagsAdded}); err != nil {
		return err
	}
	if err := tx.Take(into, into.ID).Error; err != nil {
		return fmt.Errorf("reload ticket %d: %w", into.ID, err)
	}
	s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: src.ChannelID, TicketID: src.ID})
	s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: into.ChannelID, TicketID: into.ID})
	return nil
}

// moveChecklist appends the source's checklist after the target's own items, in
// the source's order, and recounts both tickets' progress.
func moveChecklist(tx *gorm.DB, srcID, intoID int64) error {
	err := tx.Exec(`UPDATE checklist_items SET ticket_id = ?,
			position = position + (SELECT COALESCE(max(position), 0) FROM checklist_items WHERE ticket_id = ?)
		WHERE ticket_id = ?`, intoID, intoID, srcID).Error
	if err != nil {
		return fmt.Errorf("move checklist of ticket %d: %w", srcID, err)
	}
	for _, id := range []int64{srcID, intoID} {
		if err := syncChecklistCounts(tx, id); err != nil {
			return err
		}
	}
	return nil
}

// copyTags gives the target every tag of the source it lacks (the merged ticket
// keeps its own, so its history still reads right) and returns the names added.
func copyTags(tx *gorm.DB, srcID, intoID int64) ([]string, error) {
	added := []string{}
	err := tx.Raw(`WITH added AS (
			INSERT INTO ticket_tags (ticket_id, tag_id)
			SELECT ?, tag_id FROM ticket_tags WHERE ticket_id = ?
			ON CONFLICT DO NOTHING
			RETURNING tag_id)
		SELECT g.name FROM added JOIN tags g ON g.id = added.tag_id ORDER BY g.name`, intoID, srcID).Scan(&added).Error
	if err != nil {
		return nil, fmt.Errorf("copy tags of ticket %d to %d: %w", srcID, intoID, err)
	}
	return added, nil
}
