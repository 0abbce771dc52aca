package tickets

import "github.com/microcosm-cc/bluemonday"

// composerPolicy is what an agent's HTML may contain: the formatting a mail client
// shows (bluemonday's user-generated-content policy: no scripts, no event
// handlers, no javascript: links), so a reply can harm neither the customer's mail
// client nor the colleagues who see it in the thread.
var composerPolicy = bluemonday.UGCPolicy()

// SanitizeComposerHTML cleans HTML written in the composer before it is stored.
func SanitizeComposerHTML(html string) string {
	if html == "" {
		return ""
	}
	return composerPolicy.Sanitize(html)
}
