package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeIngestMail turns one committed raw mail (inbound_mails row) into tickets.
const TypeIngestMail = "mail:ingest"

// TypeIngestSweep re-enqueues raw mail that was committed but not processed
// (Redis was down at intake, a worker died, a task was lost).
const TypeIngestSweep = "mail:ingest-sweep"

// ingestSweepAge is how long a row may wait before the sweeper assumes its task
// was lost; the task normally runs within milliseconds.
const ingestSweepAge = 30 * time.Second

type ingestPayload struct {
	ID int64 `json:"id"`
}

// NewIngestTask returns the ingest task for inbound mail id. Its task id is
// deterministic, so enqueueing it again while it waits is a no-op.
func NewIngestTask(id int64) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(ingestPayload{ID: id})
	return asynq.NewTask(TypeIngestMail, b), []asynq.Option{asynq.TaskID(NewIngestTaskID(id)),
		asynq.Queue(QueueDefault), asynq.MaxRetry(20), asynq.Timeout(5 * time.Minute)}
}

// NewIngestTaskID is the asynq task id of the ingest of inbound mail id.
func NewIngestTaskID(id int64) string { return fmt.Sprintf("ingest:%d", id) }

// EnqueueIngest schedules the ingest of inbound mail id (mail.Intake.Enqueue).
func (c *Client) EnqueueIngest(ctx context.Context, id int64) error {
	t, opts := NewIngestTask(id)
	return c.Enqueue(ctx, t, opts...)
}

func registerIngest(w *Worker, d Deps) {
	if d.Ingester == nil {
		return
	}
	w.Handle(TypeIngestMail, func(ctx context.Context, t *asynq.Task) error {
		var p ingestPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID <= 0 {
			return fmt.Errorf("ingest payload %q: %w", t.Payload(), asynq.SkipRetry)
		}
		_, err := d.Ingester.Process(ctx, p.ID)
		return err
	})
	w.Handle(TypeIngestSweep, func(ctx context.Context, t *asynq.Task) error {
		return sweepIngest(ctx, d)
	})
	w.Every(Periodic{Every: 30 * time.Second, Task: asynq.NewTask(TypeIngestSweep, nil)})
}

// sweepIngest enqueues every unprocessed row older than ingestSweepAge. The
// deterministic task id keeps a row that is still queued from running twice.
// Each re-delivery counts as an attempt: a mail whose ingest kills the worker
// (and so never records a failure) still shows how often it was tried. Rows an
// ingest holds right now are skipped, not waited for: during a backlog the
// sweep would otherwise queue behind the workers and then count an attempt on
// mail they had just stored.
func sweepIngest(ctx context.Context, d Deps) error {
	var ids []int64
	err := d.Tickets.DB.WithContext(ctx).Raw(`UPDATE inbound_mails SET attempts = attempts + 1
		WHERE id IN (SELECT id FROM inbound_mails
			WHERE processed_at IS NULL AND received_at < now() - make_interval(secs => ?)
			ORDER BY received_at, id LIMIT 5000
			FOR UPDATE SKIP LOCKED)
		AND processed_at IS NULL
		RETURNING id`, ingestSweepAge.Seconds()).Scan(&ids).Error
	if err != nil {
		return fmt.Errorf("ingest sweep: %w", err)
	}
	for _, id := range ids {
		if err := d.Client.EnqueueIngest(ctx, id); err != nil {
			return fmt.Errorf("ingest sweep: %w", err)
		}
	}
	if len(ids) > 0 && d.Log != nil {
		d.Log.Info("ingest sweep re-enqueued mail", "count", len(ids))
	}
	return nil
}
