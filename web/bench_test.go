package web

import (
	"testing"
)

// BenchmarkAuthenticatedGet measures the API's fixed per-request cost: bearer-token
// authentication plus a channel-scoped query (GET /api/v1/channels, 5 channels).
func BenchmarkAuthenticatedGet(b *testing.B) {
	h := newHarness(b)
	_, admin := h.agent("admin")
	a, c := h.agent("agent")
	for i := 0; i < 5; i++ {
		admin.channel("Bench "+itoa(agentSeq)+"-"+itoa(i), "email", a.ID)
	}
	b.ResetTimer()
	for b.Loop() {
		r := c.do("GET", "/api/v1/channels", nil)
		if r.Status != 200 {
			b.Fatalf("status %d", r.Status)
		}
	}
}
