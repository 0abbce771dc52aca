package web

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// limiter counts attempts in fixed windows in Redis, so every web process shares
// the same counts.
type limiter struct{ rdb redis.UniversalClient }

// exceeded reports whether key has reached max attempts in the current window.
func (l *limiter) exceeded(ctx context.Context, key string, max int) bool {
	n, err := l.rdb.Get(ctx, "postdesk:rl:"+key).Int()
	if err != nil {
		return false // no count yet, or Redis is down: fail open rather than lock everyone out
	}
	return n >= max
}

// hit records one attempt for key.
func (l *limiter) hit(ctx context.Context, key string, window time.Duration) {
	k := "postdesk:rl:" + key
	pipe := l.rdb.TxPipeline()
	pipe.Incr(ctx, k)
	pipe.ExpireNX(ctx, k, window)
	pipe.Exec(ctx)
}

func (l *limiter) reset(ctx context.Context, key string) {
	l.rdb.Del(ctx, "postdesk:rl:"+key)
}
