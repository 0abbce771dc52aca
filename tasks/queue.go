package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Queues and their weights: outbound sends first, then ingest and reminders, then
// housekeeping.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

var queueWeights = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// RedisOpt parses a redis:// URL into asynq connection options.
func RedisOpt(rawURL string) (asynq.RedisClientOpt, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return asynq.RedisClientOpt{}, fmt.Errorf("redis url %q: want redis://host:port/db", rawURL)
	}
	opt := asynq.RedisClientOpt{Addr: u.Host}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:6379"
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return opt, fmt.Errorf("redis url %q: database must be a number", rawURL)
		}
		opt.DB = n
	}
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	return opt, nil
}

// Client enqueues tasks.
type Client struct {
	c   *asynq.Client
	rdb redis.UniversalClient
	opt asynq.RedisClientOpt
}

// NewClient connects to Redis.
func NewClient(opt asynq.RedisClientOpt) *Client {
	return &Client{c: asynq.NewClient(opt), rdb: opt.MakeRedisClient().(redis.UniversalClient), opt: opt}
}

// Close releases the connections.
func (c *Client) Close() error {
	c.rdb.Close()
	return c.c.Close()
}

// Ping checks Redis, for the health check.
func (c *Client) Ping(ctx context.Context) error {
	return c.rdb.Ping(ctx).Err()
}

// Redis exposes the underlying Redis client (rate limits, pub/sub).
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Enqueue submits a task. A task whose TaskID is already queued counts as success:
// deterministic ids are how callers make enqueueing idempotent.
func (c *Client) Enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	_, err := c.c.EnqueueContext(ctx, t, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}

// Delete removes a pending or scheduled task by id; a missing task is not an error.
func (c *Client) Delete(ctx context.Context, queue, taskID string) error {
	insp := asynq.NewInspectorFromRedisClient(c.rdb)
	err := insp.DeleteTask(queue, taskID)
	if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	return err
}

// Periodic is a task enqueued on a schedule by the scheduler role.
type Periodic struct {
	Every time.Duration
	Task  *asynq.Task
	Queue string
}

// Worker runs handlers (the worker role) and periodic tasks (the scheduler role).
type Worker struct {
	opt      asynq.RedisClientOpt
	mux      *asynq.ServeMux
	periodic []Periodic
	log      *slog.Logger
	// Concurrency is the number of tasks run at once (default 20).
	Concurrency int
	// RetryDelay is the backoff between attempts (default RetryDelay; tests shorten it).
	RetryDelay func(n int, err error, t *asynq.Task) time.Duration
}

// NewWorker returns a Worker with no handlers.
func NewWorker(opt asynq.RedisClientOpt, log *slog.Logger) *Worker {
	return &Worker{opt: opt, mux: asynq.NewServeMux(), log: log, Concurrency: 20}
}

// Handle registers the handler for a task type.
func (w *Worker) Handle(typ string, h func(context.Context, *asynq.Task) error) {
	w.mux.HandleFunc(typ, h)
}

// Every registers a periodic task.
func (w *Worker) Every(p Periodic) {
	if p.Queue == "" {
		p.Queue = QueueLow
	}
	w.periodic = append(w.periodic, p)
}

// RunWorker processes tasks until ctx is done, then lets in-flight tasks finish
// (up to the shutdown timeout).
func (w *Worker) RunWorker(ctx context.Context) error {
	srv := asynq.NewServer(w.opt, asynq.Config{
		Concurrency:     w.Concurrency,
		Queues:          queueWeights,
		ShutdownTimeout: 20 * time.Second,
		Logger:          asynqLogger{w.log},
		LogLevel:        asynq.WarnLevel,
		RetryDelayFunc:  w.retryDelay(),
		// Scheduled tasks (delayed sends, wake-ups) move to the queue within a second
		// of their time; asynq's default of 5 s is too coarse for "send at 14:00".
		DelayedTaskCheckInterval: time.Second,
		// When every queue is empty asynq polls again after 0.5–1.5 × this; at its
		// default of 1 s a mail arriving at a quiet moment waited up to 1.5 s for its
		// ingest. An idle worker now costs Redis ten small scripts a second.
		TaskCheckInterval: 100 * time.Millisecond,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			w.log.Warn("task failed", "task", t.Type(), "err", err)
		}),
	})
	if err := srv.Start(w.mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

func (w *Worker) retryDelay() asynq.RetryDelayFunc {
	if w.RetryDelay != nil {
		return w.RetryDelay
	}
	return RetryDelay
}

// RunScheduler enqueues periodic tasks until ctx is done. Several scheduler
// processes may run: each periodic task is enqueued with a uniqueness lock for its
// interval, so it runs once per interval however many schedulers there are.
func (w *Worker) RunScheduler(ctx context.Context) error {
	if len(w.periodic) == 0 {
		<-ctx.Done()
		return nil
	}
	client := asynq.NewClient(w.opt)
	defer client.Close()
	tick := func(p Periodic) {
		_, err := client.EnqueueContext(ctx, p.Task, asynq.Queue(p.Queue), asynq.Unique(p.Every), asynq.MaxRetry(0))
		if err != nil && !errors.Is(err, asynq.ErrDuplicateTask) && ctx.Err() == nil {
			w.log.Warn("periodic enqueue", "task", p.Task.Type(), "err", err)
		}
	}
	done := make(chan struct{})
	for _, p := range w.periodic {
		go func(p Periodic) {
			defer func() { done <- struct{}{} }()
			tick(p)
			t := time.NewTicker(p.Every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					tick(p)
				}
			}
		}(p)
	}
	for range w.periodic {
		<-done
	}
	return nil
}

// RetryDelay is exponential backoff with a cap: 10 s, 20 s, 40 s … up to 1 h.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	d := 10 * time.Second << min(n, 9)
	if d > time.Hour {
		d = time.Hour
	}
	return d
}

type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// RedisOpt returns the connection options the client was made with.
func (c *Client) RedisOpt() asynq.RedisClientOpt { return c.opt }
