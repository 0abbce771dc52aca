package web

// uiStrings holds every user-visible UI string, so the UI can be translated in one
// place. English first.
var uiStrings = map[string]string{
	"app.name":       "Postdesk",
	"login.title":    "Log in",
	"login.email":    "E-mail",
	"login.password": "Password",
	"login.submit":   "Log in",
	"login.failed":   "Wrong e-mail or password.",
	"inbox.title":    "Inbox",
	"inbox.empty":    "Nothing in this queue.",
	"nav.logout":     "Log out",
}

// translate returns the UI string for key (the key itself when missing, so a gap is
// visible rather than blank).
func translate(key string) string {
	if s, ok := uiStrings[key]; ok {
		return s
	}
	return key
}
