package tasks

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeHeartbeat is a no-op periodic task; its last run time shows the worker and
// scheduler roles are alive.
const TypeHeartbeat = "system:heartbeat"

// HeartbeatKey holds the Unix time of the last processed heartbeat.
const HeartbeatKey = "postdesk:worker:heartbeat"

func registerHealth(w *Worker, d Deps) {
	w.Handle(TypeHeartbeat, func(ctx context.Context, t *asynq.Task) error {
		if d.Client == nil {
			return nil
		}
		return d.Client.Redis().Set(ctx, HeartbeatKey, time.Now().Unix(), 10*time.Minute).Err()
	})
	w.Every(Periodic{Every: 30 * time.Second, Task: asynq.NewTask(TypeHeartbeat, nil)})
}

// LastHeartbeat returns when a worker last processed a heartbeat (zero if never).
func (c *Client) LastHeartbeat(ctx context.Context) time.Time {
	n, err := c.rdb.Get(ctx, HeartbeatKey).Int64()
	if err != nil {
		return time.Time{}
	}
	return time.Unix(n, 0)
}
