package tickets

import "testing"

func TestReplySubject(t *testing.T) {
	for in, want := range map[string]string{
		"Where is my order?":             "Re: Where is my order?",
		"Re: Where is my order?":         "Re: Where is my order?",
		"RE: Re: re:  Where is my order": "Re: Where is my order",
		"AW: Fwd: Angebot [#1042]":       "Re: Angebot [#1042]",
		"Re[2]: SV: Tilbud":              "Re: Tilbud",
		"Ответ":                          "Re: Ответ",
		"":                               "Re: (no subject)",
		"Reminder: invoice":              "Re: Reminder: invoice",
	} {
		if got := ReplySubject(in); got != want {
			t.Errorf("ReplySubject(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ForwardSubject("Re: Fwd: Offer"); got != "Fwd: Offer" {
		t.Errorf("ForwardSubject = %q", got)
	}
	if got := TagSubject("Re: Offer [#1042]", 1042); got != "Re: Offer [#1042]" {
		t.Errorf("tag twice: %q", got)
	}
	if got := TagSubject("Re: Offer", 1042); got != "Re: Offer [#1042]" {
		t.Errorf("tag: %q", got)
	}
}

func TestFromDisplayName(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"", "Anna from Awesome Flowers"},
		{"{agent} from {channel}", "Anna from Awesome Flowers"},
		{"{channel}", "Awesome Flowers"},
		{"{agent} | {channel} support", "Anna | Awesome Flowers support"},
	} {
		if got := FromDisplayName(tc.format, "Anna", "Awesome Flowers"); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.format, got, tc.want)
		}
	}
}
