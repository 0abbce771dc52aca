package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type mailboxRequest struct {
	Address        Opt[string] `json:"address"`
	DisplayName    Opt[string] `json:"display_name"`
	Inbound        Opt[string] `json:"inbound"`
	IMAPHost       Opt[string] `json:"imap_host"`
	IMAPPort       Opt[int]    `json:"imap_port"`
	IMAPSecurity   Opt[string] `json:"imap_security"`
	IMAPUsername   Opt[string] `json:"imap_username"`
	IMAPPassword   Opt[string] `json:"imap_password"`
	IMAPFolder     Opt[string] `json:"imap_folder"`
	IMAPAfter      Opt[string] `json:"imap_after"`
	IMAPMoveFolder Opt[string] `json:"imap_move_folder"`
	IMAPSentFolder Opt[string] `json:"imap_sent_folder"`
	SMTPHost       Opt[string] `json:"smtp_host"`
	SMTPPort       Opt[int]    `json:"smtp_port"`
	SMTPSecurity   Opt[string] `json:"smtp_security"`
	SMTPUsername   Opt[string] `json:"smtp_username"`
	SMTPPassword   Opt[string] `json:"smtp_password"`
}

func (r *mailboxRequest) input() tickets.MailboxInput {
	return tickets.MailboxInput{
		Address: r.Address.Ptr(), DisplayName: r.DisplayName.Ptr(), Inbound: r.Inbound.Ptr(),
		IMAPHost: r.IMAPHost.Ptr(), IMAPPort: r.IMAPPort.Ptr(), IMAPSecurity: r.IMAPSecurity.Ptr(),
		IMAPUsername: r.IMAPUsername.Ptr(), IMAPPassword: r.IMAPPassword.Ptr(), IMAPFolder: r.IMAPFolder.Ptr(),
		IMAPAfter: r.IMAPAfter.Ptr(), IMAPMoveFolder: r.IMAPMoveFolder.Ptr(), IMAPSentFolder: r.IMAPSentFolder.Ptr(),
		SMTPHost: r.SMTPHost.Ptr(), SMTPPort: r.SMTPPort.Ptr(), SMTPSecurity: r.SMTPSecurity.Ptr(),
		SMTPUsername: r.SMTPUsername.Ptr(), SMTPPassword: r.SMTPPassword.Ptr(),
	}
}

func (s *Server) listMailboxes(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	out, err := s.tickets.Mailboxes(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) createMailbox(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req mailboxRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	m, err := s.tickets.CreateMailbox(c.Request.Context(), agent(c), id, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	created(c, m)
}

func (s *Server) getMailbox(c *gin.Context) {
	id, mid, err := mailboxPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	m, err := s.tickets.Mailbox(c.Request.Context(), agent(c), id, mid)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, m)
}

func (s *Server) updateMailbox(c *gin.Context) {
	id, mid, err := mailboxPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	var req mailboxRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	m, err := s.tickets.UpdateMailbox(c.Request.Context(), agent(c), id, mid, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, m)
}

func (s *Server) deleteMailbox(c *gin.Context) {
	id, mid, err := mailboxPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.DeleteMailbox(c.Request.Context(), agent(c), id, mid); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// mailboxPath reads the channel and mailbox ids of /channels/{id}/mailboxes/{mailbox_id}.
func mailboxPath(c *gin.Context) (int64, int64, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, 0, err
	}
	mid, err := pathID(c, "mailbox_id")
	return id, mid, err
}
