package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz checks Postgres and Redis; it answers 503 when either is down.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{}
	status := http.StatusOK
	if sqlDB, err := s.tickets.DB.DB(); err != nil || sqlDB.PingContext(ctx) != nil {
		checks["postgres"] = "down"
		status = http.StatusServiceUnavailable
	} else {
		checks["postgres"] = "ok"
	}
	if err := s.tasks.Ping(ctx); err != nil {
		checks["redis"] = "down"
		status = http.StatusServiceUnavailable
	} else {
		checks["redis"] = "ok"
	}
	if hb := s.tasks.LastHeartbeat(ctx); !hb.IsZero() {
		checks["worker_heartbeat_at"] = hb.UTC().Format(time.RFC3339)
	}
	state := "ok"
	if status != http.StatusOK {
		state = "unavailable"
	}
	c.JSON(status, gin.H{"status": state, "checks": checks, "version": s.cfg.Version})
}
