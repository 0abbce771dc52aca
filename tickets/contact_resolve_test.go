package tickets_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// Concurrent first messages from one new sender make one contact: the losers of
// the identity race read the winner's contact and leave no contact row behind.
func TestResolveContactConcurrentNewSender(t *testing.T) {
	db := testenv.DB(t)
	s := tickets.NewService(db)
	name := fmt.Sprintf("Racer %d", time.Now().UnixNano())
	addr := fmt.Sprintf("racer-%d@example.test", time.Now().UnixNano())

	const n = 12
	got := make([]int64, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := db.Transaction(func(tx *gorm.DB) error {
				c, err := s.ResolveContact(context.Background(), tx, "email", addr, name)
				if err == nil {
					got[i] = c.ID
				}
				return err
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	for i := range got {
		if got[i] == 0 || got[i] != got[0] {
			t.Fatalf("contacts resolved = %v, want one id for all", got)
		}
	}
	var contacts int64
	db.Raw(`SELECT count(*) FROM contacts WHERE name = ?`, name).Scan(&contacts)
	if contacts != 1 {
		t.Errorf("contacts named %q = %d, want 1 (no orphans of lost races)", name, contacts)
	}
}

// A returning sender resolves to the same contact, followed through a merge, and
// a contact without a name takes the sender's display name.
func TestResolveContactReturningAndMerged(t *testing.T) {
	db := testenv.DB(t)
	s := tickets.NewService(db)
	ctx := context.Background()
	addr := fmt.Sprintf("Back-%d@Example.test", time.Now().UnixNano())
	first, err := s.ResolveContact(ctx, db, "email", addr, "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.ResolveContact(ctx, db, "email", addr, "  Back Again ")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Name != "Back Again" {
		t.Fatalf("returning sender = %+v, want contact %d named \"Back Again\"", again, first.ID)
	}
	target := &tickets.Contact{Name: "Kept"}
	if err := db.Create(target).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&tickets.Contact{}).Where("id = ?", first.ID).Update("merged_into_id", target.ID).Error; err != nil {
		t.Fatal(err)
	}
	merged, err := s.ResolveContact(ctx, db, "email", addr, "Someone")
	if err != nil {
		t.Fatal(err)
	}
	if merged.ID != target.ID || merged.Name != "Kept" {
		t.Fatalf("merged sender = %+v, want contact %d named Kept", merged, target.ID)
	}
}
