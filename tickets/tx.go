package tickets

import (
	"context"
	"sync"

	"gorm.io/gorm"
)

// Live events must not reach the UI before the change they announce is committed,
// or a client re-fetching on the event would read the old state. Transact collects
// the events queued inside a transaction and publishes them after it commits; a
// rollback drops them.

type afterCommitKey struct{}

type afterCommit struct {
	mu     sync.Mutex
	events []LiveEvent
}

// Transact runs fn in one transaction and publishes the live events queued with
// PublishAfterCommit once it commits. fn must use the ctx it is given.
func (s *Service) Transact(ctx context.Context, fn func(ctx context.Context, tx *gorm.DB) error) error {
	ac := &afterCommit{}
	inner := context.WithValue(ctx, afterCommitKey{}, ac)
	if err := s.DB.WithContext(inner).Transaction(func(tx *gorm.DB) error { return fn(inner, tx) }); err != nil {
		return err
	}
	for _, ev := range ac.events {
		s.Publisher.Publish(ctx, ev)
	}
	return nil
}

// PublishAfterCommit queues ev until the surrounding Transact commits. Outside
// Transact (a caller running its own gorm transaction) it publishes at once: live
// events are hints for the UI, which re-reads, so early is better than never.
func (s *Service) PublishAfterCommit(ctx context.Context, ev LiveEvent) {
	if ac, ok := ctx.Value(afterCommitKey{}).(*afterCommit); ok {
		ac.mu.Lock()
		ac.events = append(ac.events, ev)
		ac.mu.Unlock()
		return
	}
	s.Publisher.Publish(ctx, ev)
}
