package templates

import (
	"errors"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	vars := map[string]string{"contact.name": "Jürgen Kunde", "contact.first_name": "Jürgen", "ticket.number": "1042",
		"agent.name": "Anna", "channel.name": "Awesome Flowers"}
	for name, tc := range map[string]struct{ in, want, err string }{
		"plain":             {in: "Hi {{contact.first_name}}, ticket {{ ticket.number }}.", want: "Hi Jürgen, ticket 1042."},
		"repeated":          {in: "{{agent.name}} {{agent.name}}", want: "Anna Anna"},
		"empty_value":       {in: "[{{contact.email}}]", want: "[]"},
		"values_not_reread": {in: "{{contact.name}}", want: "Jürgen Kunde"},
		"unknown":           {in: "Hi {{contact.shoe_size}}", err: "unknown variable {{contact.shoe_size}}"},
		"go_template_code":  {in: `{{ printf "%s" .Secret }}`, err: "unknown variable"},
		"unclosed":          {in: "Hi {{contact.name", err: "unbalanced"},
		"stray_close":       {in: "Hi }} there", err: "unbalanced"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(tc.in, vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || got != "" {
					t.Fatalf("got %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// A value that looks like a variable is inserted as text, never expanded again.
	got, err := Render("{{contact.name}}", map[string]string{"contact.name": "{{agent.name}}"})
	if err != nil || got != "{{agent.name}}" {
		t.Fatalf("value re-expanded: %q %v", got, err)
	}
	var uv *UnknownVariablesError
	if err := Check("{{a}} {{b}} {{a}}"); !errors.As(err, &uv) || len(uv.Names) != 2 {
		t.Fatalf("unknown list: %v", err)
	}
}
