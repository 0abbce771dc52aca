package web

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIMatchesRouter keeps the document true: every API route is documented
// and every documented path exists.
func TestOpenAPIMatchesRouter(t *testing.T) {
	h := newHarness(t)
	b, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	param := regexp.MustCompile(`:([a-z_]+)`)
	routed := map[string]bool{}
	for _, r := range h.web.Routes() {
		if !documentedPrefix(r.Path) || r.Method == "HEAD" {
			continue
		}
		routed[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	var missing, stale []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 || len(stale) > 0 {
		t.Fatalf("routes without docs: %v\ndocs without routes: %v", missing, stale)
	}
	if len(routed) < 10 {
		t.Fatalf("only %d routes found", len(routed))
	}
}

// documentedPrefix says which routes belong in the API document: the API, health,
// webhooks and the tracking pixel; not UI pages or static files.
func documentedPrefix(p string) bool {
	for _, pre := range []string{"/api/", "/healthz", "/hooks/", "/o/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}
