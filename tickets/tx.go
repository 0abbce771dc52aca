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
	funcs  []func(context.Context)
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
	for _, fn := range ac.funcs {
		fn(ctx)
	}
	return nil
}

// inTransact reports whether ctx belongs to a Transact, whose commit AfterCommit waits for.
func inTransact(ctx context.Context) bool {
	_, ok := ctx.Value(afterCommitKey{}).(*afterCommit)
	return ok
}

// AfterCommit runs fn once the surrounding Transact commits (a rollback drops it):
// work queued for a worker must not reach it before the rows it reads are visible.
// Outside Transact it runs at once, and the worker must cope with a row it cannot
// see yet (retry) or never will (the caller's transaction rolled back).
func (s *Service) AfterCommit(ctx context.Context, fn func(context.Context)) {
	if ac, ok := ctx.Value(afterCommitKey{}).(*afterCommit); ok {
		ac.mu.Lock()
		ac.funcs = append(ac.funcs, fn)
		ac.mu.Unlock()
		return
	}
	fn(ctx)
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
