package templates

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Variables a template may use, with what they stand for.
var Variables = map[string]string{
	"contact.name":       "the customer's name",
	"contact.first_name": "the customer's first name",
	"contact.email":      "the customer's e-mail address",
	"ticket.number":      "the ticket number",
	"ticket.subject":     "the ticket's subject",
	"agent.name":         "your name",
	"agent.first_name":   "your first name",
	"channel.name":       "the channel's name",
}

// placeholder matches {{ name }}; anything between the braces is checked against
// Variables, so "{{ 7*7 }}" or "{{ .Env }}" is an error, not an expression.
var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// UnknownVariablesError lists the placeholders a template uses that do not exist.
type UnknownVariablesError struct{ Names []string }

func (e *UnknownVariablesError) Error() string {
	known := make([]string, 0, len(Variables))
	for k := range Variables {
		known = append(known, "{{"+k+"}}")
	}
	sort.Strings(known)
	return fmt.Sprintf("unknown variable %s; known: %s", strings.Join(e.Names, ", "), strings.Join(known, " "))
}

// Check reports unknown variables and unbalanced braces in text.
func Check(text string) error {
	var unknown []string
	seen := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if _, ok := Variables[m[1]]; !ok && !seen[m[1]] {
			seen[m[1]] = true
			unknown = append(unknown, "{{"+m[1]+"}}")
		}
	}
	if len(unknown) > 0 {
		return &UnknownVariablesError{Names: unknown}
	}
	rest := placeholder.ReplaceAllString(text, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return fmt.Errorf("unbalanced {{ or }}; a variable looks like {{contact.name}}")
	}
	return nil
}

// Render replaces each variable in text with its value from vars. It fails, and
// renders nothing, when text uses a variable that does not exist.
func Render(text string, vars map[string]string) (string, error) {
	if err := Check(text); err != nil {
		return "", err
	}
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return vars[placeholder.FindStringSubmatch(m)[1]]
	}), nil
}

// firstName is the first word of a name.
func firstName(name string) string {
	if f := strings.Fields(name); len(f) > 0 {
		return f[0]
	}
	return ""
}
