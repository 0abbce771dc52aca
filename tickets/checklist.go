package tickets

import (
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
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
