package tickets

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

func checkTagNames(v *Validator, names []string) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || len([]rune(n)) > 100 {
			v.Add("tags", "each tag must be 1 to 100 characters")
			return
		}
	}
}

// addTags attaches tags by name to a ticket, creating tags that do not exist yet.
func addTags(tx *gorm.DB, ticketID int64, names []string) error {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Tag{Name: n}).Error; err != nil {
			return fmt.Errorf("create tag %q: %w", n, err)
		}
		err := tx.Exec(`INSERT INTO ticket_tags (ticket_id, tag_id) SELECT ?, id FROM tags WHERE name = ?
			ON CONFLICT DO NOTHING`, ticketID, n).Error
		if err != nil {
			return fmt.Errorf("tag ticket %d: %w", ticketID, err)
		}
	}
	return nil
}
