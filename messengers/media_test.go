package messengers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

const mediaBase = "https://desk.example"

// mediaCase is one provider's answer to a reply with a picture and a PDF.
type mediaCase struct {
	pc    providerCase
	setup func(f *fake)
	// check looks at what the fake received; png and pdf are the attachments.
	check func(t *testing.T, e *env, f *fake, c *messengers.Conn, user string, png, pdf tickets.Attachment)
}

// TestMediaReplies: an agent's reply with a picture and a PDF reaches each fake
// provider the way its documented API takes files: Viber and Instagram as signed
// media URLs under the public base URL, Messenger uploaded with the message, VK
// through its upload servers and then attached to messages.send.
func TestMediaReplies(t *testing.T) {
	cases := []mediaCase{
		{pc: viberCase(), check: checkViberMedia},
		{pc: metaCase("instagram"), check: checkInstagramMedia},
		{pc: metaCase("facebook"), check: checkFacebookMedia},
		{pc: vkCase(), setup: vkUploadServers, check: checkVKMedia},
	}
	for _, mc := range cases {
		t.Run(mc.pc.provider, func(t *testing.T) {
			e := newEnv(t)
			f := newFake(t)
			mc.pc.setup(f)
			if mc.setup != nil {
				mc.setup(f)
			}
			c := e.conn(mc.pc.provider, f.srv.URL, mc.pc.creds, nil)
			user := fmt.Sprint(71000000 + seq.Add(1))
			if _, err := e.webhook(c, mc.pc.inbound(t, f, user, fmt.Sprint(81000000+seq.Add(1)))); err != nil {
				t.Fatal(err)
			}
			tk := e.ticket(e.messages(c)[0].TicketID)
			out := e.reply(tk, c, "Here is your invoice.", e.blob("bouquet.png", "image/png", "png-bytes"),
				e.blob("invoice.pdf", "application/pdf", "%PDF-1.4 invoice"))
			sender := *e.sender
			sender.Config = tasks.SendConfig{BaseURL: mediaBase}
			if err := e.deliver(&sender, out.ID); err != nil {
				t.Fatal(err)
			}
			m := e.message(out.ID)
			if m.Status != tickets.MessageSent || m.ProviderMessageID == "" {
				t.Fatalf("after send: %s %q (%s)", m.Status, m.ProviderMessageID, m.FailedReason)
			}
			var atts []tickets.Attachment
			e.svc.DB.Where("message_id = ?", out.ID).Order("id").Find(&atts)
			mc.check(t, e, f, c, user, atts[0], atts[1])
		})
	}
}

// checkMediaURL asserts that u is the signed, unexpired media URL of attachment a.
func checkMediaURL(t *testing.T, c *messengers.Conn, u string, a tickets.Attachment) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("media url %q: %v", u, err)
	}
	want := fmt.Sprintf("/hooks/%s/%d/media/%d/%s", c.Provider, c.ID, a.ID, a.Filename)
	if p.Scheme+"://"+p.Host != mediaBase || p.Path != want {
		t.Fatalf("media url %q, want %s%s", u, mediaBase, want)
	}
	q := p.Query()
	if !messengers.CheckMediaURL(c, a.ID, q.Get("exp"), q.Get("sig"), time.Now()) {
		t.Fatalf("media url %q does not verify", u)
	}
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	if left := time.Until(time.Unix(exp, 0)); left < messengers.MediaURLLifetime-time.Minute {
		t.Fatalf("media url expires in %s", left)
	}
	if messengers.CheckMediaURL(c, a.ID+1, q.Get("exp"), q.Get("sig"), time.Now()) {
		t.Fatal("the signature opens another attachment")
	}
	if messengers.CheckMediaURL(c, a.ID, q.Get("exp"), q.Get("sig"), time.Unix(exp+1, 0)) {
		t.Fatal("the signature outlives its expiry")
	}
}

func checkViberMedia(t *testing.T, e *env, f *fake, c *messengers.Conn, user string, png, pdf tickets.Attachment) {
	sends := f.callsTo("/pa/send_message")
	if len(sends) != 3 {
		t.Fatalf("%d send_message calls, want text, picture, file", len(sends))
	}
	if sends[0].JSON["type"] != "text" || sends[0].JSON["text"] != "Here is your invoice." {
		t.Fatalf("text: %v", sends[0].JSON)
	}
	pic, file := sends[1].JSON, sends[2].JSON
	if pic["type"] != "picture" || pic["receiver"] != user+"A==" || pic["text"] != "" {
		t.Fatalf("picture: %v", pic)
	}
	checkMediaURL(t, c, pic["media"].(string), png)
	if file["type"] != "file" || file["file_name"] != "invoice.pdf" || file["size"] != float64(pdf.Size) ||
		file["receiver"] != user+"A==" {
		t.Fatalf("file: %v", file)
	}
	checkMediaURL(t, c, file["media"].(string), pdf)
}

func checkInstagramMedia(t *testing.T, e *env, f *fake, c *messengers.Conn, user string, png, pdf tickets.Attachment) {
	sends := f.callsTo("/me/messages")
	if len(sends) != 3 {
		t.Fatalf("%d Send API calls, want text and two attachments", len(sends))
	}
	for i, want := range []struct {
		kind string
		att  tickets.Attachment
	}{{"image", png}, {"file", pdf}} {
		s := sends[i+1]
		if s.Header.Get("Content-Type") != "application/json" || s.Files != nil {
			t.Fatalf("instagram must get a URL, not an upload: %+v", s)
		}
		rc, _ := s.JSON["recipient"].(map[string]any)
		msg, _ := s.JSON["message"].(map[string]any)
		att, _ := msg["attachment"].(map[string]any)
		payload, _ := att["payload"].(map[string]any)
		if rc["id"] != user || att["type"] != want.kind || s.JSON["messaging_type"] != "RESPONSE" {
			t.Fatalf("attachment %d: %v", i, s.JSON)
		}
		checkMediaURL(t, c, payload["url"].(string), want.att)
	}
}

func checkFacebookMedia(t *testing.T, e *env, f *fake, c *messengers.Conn, user string, png, pdf tickets.Attachment) {
	sends := f.callsTo("/me/messages")
	if len(sends) != 3 {
		t.Fatalf("%d Send API calls, want text and two uploads", len(sends))
	}
	for i, want := range []struct{ kind, body string }{{"image", "png-bytes"}, {"file", "%PDF-1.4 invoice"}} {
		s := sends[i+1]
		if s.Files["filedata"] != want.body || !strings.Contains(s.Form["message"], `"type":"`+want.kind+`"`) ||
			!strings.Contains(s.Form["recipient"], user) {
			t.Fatalf("upload %d: %+v", i, s)
		}
	}
}

// vkUploadServers makes the fake speak VK's upload flow: the upload servers are
// on the fake too, as VK's are on its own hosts.
func vkUploadServers(f *fake) {
	f.handle("/method/photos.getMessagesUploadServer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"response":{"upload_url":%q,"album_id":-3,"group_id":1}}`, "http://"+r.Host+"/upload/photo")
	})
	f.handle("/method/docs.getMessagesUploadServer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"response":{"upload_url":%q}}`, "http://"+r.Host+"/upload/doc")
	})
	f.json("/upload/photo", map[string]any{"server": 624, "photo": `[{"photo":"abc","sizes":[]}]`, "hash": "h4sh"})
	f.json("/upload/doc", map[string]any{"file": "doc-file-token"})
	f.json("/method/photos.saveMessagesPhoto", map[string]any{"response": []any{map[string]any{"id": 457239017,
		"owner_id": -1, "access_key": "k3y"}}})
	f.json("/method/docs.save", map[string]any{"response": map[string]any{"type": "doc",
		"doc": map[string]any{"id": 600001, "owner_id": -1, "title": "invoice.pdf"}}})
}

func checkVKMedia(t *testing.T, e *env, f *fake, c *messengers.Conn, user string, png, pdf tickets.Attachment) {
	photoServer := f.callsTo("/method/photos.getMessagesUploadServer")
	docServer := f.callsTo("/method/docs.getMessagesUploadServer")
	if len(photoServer) != 1 || len(docServer) != 1 {
		t.Fatalf("upload servers asked: photos %d, docs %d", len(photoServer), len(docServer))
	}
	up := f.callsTo("/upload/photo")
	if len(up) != 1 || up[0].Files["photo"] != "png-bytes" || up[0].Form["photo.filename"] != "bouquet.png" {
		t.Fatalf("photo upload: %+v", up)
	}
	doc := f.callsTo("/upload/doc")
	if len(doc) != 1 || doc[0].Files["file"] != "%PDF-1.4 invoice" {
		t.Fatalf("doc upload: %+v", doc)
	}
	if p := photoServer[0].Form; p["peer_id"] != user || p["access_token"] != "vk-token" {
		t.Fatalf("photos.getMessagesUploadServer: %v", p)
	}
	if d := docServer[0].Form; d["peer_id"] != user || d["type"] != "doc" {
		t.Fatalf("docs.getMessagesUploadServer: %v", d)
	}
	save := f.callsTo("/method/photos.saveMessagesPhoto")
	if len(save) != 1 || save[0].Form["server"] != "624" || save[0].Form["hash"] != "h4sh" ||
		save[0].Form["photo"] != `[{"photo":"abc","sizes":[]}]` {
		t.Fatalf("photos.saveMessagesPhoto: %+v", save)
	}
	docSave := f.callsTo("/method/docs.save")
	if len(docSave) != 1 || docSave[0].Form["file"] != "doc-file-token" || docSave[0].Form["title"] != "invoice.pdf" {
		t.Fatalf("docs.save: %+v", docSave)
	}
	sends := f.callsTo("/method/messages.send")
	if len(sends) != 1 {
		t.Fatalf("%d messages.send calls", len(sends))
	}
	if s := sends[0].Form; s["attachment"] != "photo-1_457239017_k3y,doc-1_600001" || s["message"] != "Here is your invoice." ||
		s["peer_id"] != user || s["random_id"] == "" {
		t.Fatalf("messages.send: %v", s)
	}
}
