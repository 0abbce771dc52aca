package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MaxChecklistText bounds one checklist item's text, in characters.
const MaxChecklistText = 500

func checkChecklistText(v *Validator, field, text string) {
	text = strings.TrimSpace(text)
	v.Check(text != "", field, "is required")
	v.MaxLen(text, MaxChecklistText, field)
}

func checkChecklistTexts(v *Validator, texts []string) {
	v.Check(len(texts) <= MaxChecklistItems, "checklist", fmt.Sprintf("at most %d items", MaxChecklistItems))
	for i, t := range texts {
		checkChecklistText(v, fmt.Sprintf("checklist[%d]", i), t)
	}
}

// addChecklistItems appends items to a ticket's checklist inside tx and keeps the
// ticket's progress counters in step. Texts must have been validated.
func addChecklistItems(tx *gorm.DB, a *Agent, ticketID int64, texts []string) ([]ChecklistItem, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	var last float64
	if err := tx.Raw(`SELECT COALESCE(max(position), 0) FROM checklist_items WHERE ticket_id = ?`, ticketID).
		Scan(&last).Error; err != nil {
		return nil, fmt.Errorf("checklist position: %w", err)
	}
	var by *int64
	if a != nil {
		by = &a.ID
	}
	items := make([]ChecklistItem, len(texts))
	now := time.Now().UTC()
	for i, text := range texts {
		items[i] = ChecklistItem{TicketID: ticketID, Text: strings.TrimSpace(text),
			Position: last + float64(i+1)*1024, CreatedBy: by, CreatedAt: now}
	}
	if err := tx.Create(&items).Error; err != nil {
		return nil, fmt.Errorf("add checklist items to ticket %d: %w", ticketID, err)
	}
	for _, it := range items {
		if err := RecordEvent(tx, ticketID, by, "checklist_added", "", it.Text, JSONMap{"item_id": it.ID}); err != nil {
			return nil, err
		}
	}
	return items, syncChecklistCounts(tx, ticketID)
}

// syncChecklistCounts recomputes the ticket's checklist progress from its items in
// the same transaction as the change, so lists never show a stale 3/5.
func syncChecklistCounts(tx *gorm.DB, ticketID int64) error {
	err := tx.Exec(`UPDATE tickets SET
		checklist_total = (SELECT count(*) FROM checklist_items WHERE ticket_id = ?),
		checklist_done  = (SELECT count(*) FROM checklist_items WHERE ticket_id = ? AND done)
		WHERE id = ?`, ticketID, ticketID, ticketID).Error
	if err != nil {
		return fmt.Errorf("checklist progress of ticket %d: %w", ticketID, err)
	}
	return nil
}

// Checklist returns the checklist of a ticket agent a can see, in order.
func (s *Service) Checklist(ctx context.Context, a *Agent, ticketID int64) ([]ChecklistItem, error) {
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return nil, err
	}
	items := []ChecklistItem{}
	if err := s.DB.WithContext(ctx).Where("ticket_id = ?", ticketID).Order("position, id").Find(&items).Error; err != nil {
		return nil, fmt.Errorf("checklist of ticket %d: %w", ticketID, err)
	}
	return items, nil
}

// lockTicket loads ticket id for update inside tx, if agent a can see it. Every
// checklist change locks its ticket so concurrent changes keep the counters right.
func lockTicket(tx *gorm.DB, a *Agent, id int64) (*Ticket, error) {
	var t Ticket
	err := tx.Scopes(ChannelScope(a, "tickets.channel_id")).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("tickets.id = ?", id).Take(&t).Error
	if err != nil {
		return nil, notFound(err, "ticket %d", id)
	}
	return &t, nil
}

// checklistChange runs fn on a locked ticket, then syncs the progress counters and
// announces the change after commit.
func (s *Service) checklistChange(ctx context.Context, a *Agent, ticketID int64, fn func(tx *gorm.DB, t *Ticket) error) error {
	return s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		t, err := lockTicket(tx, a, ticketID)
		if err != nil {
			return err
		}
		if err := fn(tx, t); err != nil {
			return err
		}
		if err := syncChecklistCounts(tx, t.ID); err != nil {
			return err
		}
		if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Update("updated_at", s.now()).Error; err != nil {
			return fmt.Errorf("touch ticket %d: %w", t.ID, err)
		}
		s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: t.ChannelID, TicketID: t.ID,
			Data: map[string]any{"checklist": true}})
		return nil
	})
}

// AddChecklistItem appends an item (or places it at position, when given).
func (s *Service) AddChecklistItem(ctx context.Context, a *Agent, ticketID int64, text string, position *float64) (*ChecklistItem, error) {
	var v Validator
	checkChecklistText(&v, "text", text)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var item *ChecklistItem
	err := s.checklistChange(ctx, a, ticketID, func(tx *gorm.DB, t *Ticket) error {
		var n int64
		if err := tx.Model(&ChecklistItem{}).Where("ticket_id = ?", t.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("count checklist: %w", err)
		}
		if n >= MaxChecklistItems {
			return Invalid("text", fmt.Sprintf("a checklist holds at most %d items", MaxChecklistItems))
		}
		items, err := addChecklistItems(tx, a, t.ID, []string{text})
		if err != nil {
			return err
		}
		item = &items[0]
		if position != nil {
			item.Position = *position
			return tx.Model(item).Update("position", *position).Error
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return item, nil
}

// ChecklistChange is a change to one item; nil fields are left alone. Position is
// the item's sort key: to move an item between two others, send a number between
// theirs.
type ChecklistChange struct {
	Text     *string
	Done     *bool
	Position *float64
}

// UpdateChecklistItem edits, ticks or moves an item. Who ticked it and when is
// kept on the item and in the ticket's events.
func (s *Service) UpdateChecklistItem(ctx context.Context, a *Agent, ticketID, itemID int64, c ChecklistChange) (*ChecklistItem, error) {
	var v Validator
	if c.Text != nil {
		checkChecklistText(&v, "text", *c.Text)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var item ChecklistItem
	err := s.checklistChange(ctx, a, ticketID, func(tx *gorm.DB, t *Ticket) error {
		if err := tx.Where("id = ? AND ticket_id = ?", itemID, t.ID).Take(&item).Error; err != nil {
			return notFound(err, "checklist item %d", itemID)
		}
		updates := map[string]any{}
		ev := JSONMap{"item_id": item.ID}
		if c.Text != nil && strings.TrimSpace(*c.Text) != item.Text {
			text := strings.TrimSpace(*c.Text)
			if err := RecordEvent(tx, t.ID, &a.ID, "checklist_edited", item.Text, text, ev); err != nil {
				return err
			}
			updates["text"], item.Text = text, text
		}
		if c.Done != nil && *c.Done != item.Done {
			kind := "checklist_checked"
			if *c.Done {
				now := s.now()
				updates["done"], updates["done_by_id"], updates["done_at"] = true, a.ID, now
				item.Done, item.DoneByID, item.DoneAt = true, &a.ID, &now
			} else {
				kind = "checklist_unchecked"
				updates["done"], updates["done_by_id"], updates["done_at"] = false, nil, nil
				item.Done, item.DoneByID, item.DoneAt = false, nil, nil
			}
			if err := RecordEvent(tx, t.ID, &a.ID, kind, "", item.Text, ev); err != nil {
				return err
			}
		}
		if c.Position != nil && *c.Position != item.Position {
			if err := RecordEvent(tx, t.ID, &a.ID, "checklist_moved", fmt.Sprint(item.Position),
				fmt.Sprint(*c.Position), ev); err != nil {
				return err
			}
			updates["position"], item.Position = *c.Position, *c.Position
		}
		if len(updates) == 0 {
			return nil
		}
		if err := tx.Model(&ChecklistItem{}).Where("id = ?", item.ID).Updates(updates).Error; err != nil {
			return fmt.Errorf("update checklist item %d: %w", item.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &item, nil
}

// DeleteChecklistItem removes an item.
func (s *Service) DeleteChecklistItem(ctx context.Context, a *Agent, ticketID, itemID int64) error {
	return s.checklistChange(ctx, a, ticketID, func(tx *gorm.DB, t *Ticket) error {
		var item ChecklistItem
		if err := tx.Where("id = ? AND ticket_id = ?", itemID, t.ID).Take(&item).Error; err != nil {
			return notFound(err, "checklist item %d", itemID)
		}
		if err := tx.Delete(&item).Error; err != nil {
			return fmt.Errorf("delete checklist item %d: %w", item.ID, err)
		}
		return RecordEvent(tx, t.ID, &a.ID, "checklist_removed", item.Text, "", JSONMap{"item_id": item.ID})
	})
}

// OpenChecklistItems returns the undone items of a ticket, for automation rules
// ("remind while items are open"). It checks no access: callers are the system.
func (s *Service) OpenChecklistItems(ctx context.Context, ticketID int64) ([]ChecklistItem, error) {
	var items []ChecklistItem
	err := s.DB.WithContext(ctx).Where("ticket_id = ? AND NOT done", ticketID).Order("position, id").Find(&items).Error
	if err != nil {
		return nil, fmt.Errorf("open checklist items of ticket %d: %w", ticketID, err)
	}
	return items, nil
}
