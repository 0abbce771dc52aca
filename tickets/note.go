package tickets

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// MaxNoteLen bounds an internal note's text, in characters.
const MaxNoteLen = 100_000

// Mentions in a note take two forms:
//
//   - @[Anna Berg](12): the form the UI's mention picker inserts; the number is the
//     agent id, the name is only for display.
//   - @anna: typed by hand; matches an agent whose e-mail address has that local
//     part (anna@example.com), ignoring case.
//
// A mention notifies the agent only when they are a member of the ticket's channel:
// a note must not tell anyone about a ticket they cannot open. The author is never
// notified of their own mention. An "@" inside a word (an e-mail address such as
// bob@example.com) is not a mention.
var (
	mentionByID   = regexp.MustCompile(`@\[([^\]\n]{0,200})\]\((\d{1,19})\)`)
	mentionByName = regexp.MustCompile(`(^|[^\pL\pN._%+\-@])@([\pL\pN._%+\-]*[\pL\pN])`)
)

// AddNote adds an internal note to a ticket agent a can see. Notes are never sent
// to the customer. attachmentIDs name files a uploaded beforehand (not yet used in
// a message). Mentioned channel members are notified.
func (s *Service) AddNote(ctx context.Context, a *Agent, ticketID int64, body string, attachmentIDs []int64) (*Message, error) {
	t, err := s.VisibleTicket(ctx, a, ticketID)
	if err != nil {
		return nil, err
	}
	var v Validator
	v.Check(strings.TrimSpace(body) != "" || len(attachmentIDs) > 0, "body", "is required")
	v.MaxLen(body, MaxNoteLen, "body")
	if err := v.Err(); err != nil {
		return nil, err
	}
	var m *Message
	err = s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		m, err = s.addNote(ctx, tx, a, t, body, attachmentIDs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// addNote stores a note inside tx; shared by AddNote and task creation.
func (s *Service) addNote(ctx context.Context, tx *gorm.DB, a *Agent, t *Ticket, body string, attachmentIDs []int64) (*Message, error) {
	now := s.now()
	m := &Message{TicketID: t.ID, ChannelID: t.ChannelID, Direction: DirectionNote,
		// A note has nothing to deliver; "received" means "stored as written".
		Status: MessageReceived, AuthorAgentID: &a.ID, FromName: a.Name, FromAddress: a.Email,
		BodyText: body, QuoteOffset: -1, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(m).Error; err != nil {
		return nil, fmt.Errorf("store note on ticket %d: %w", t.ID, err)
	}
	if err := attach(tx, a, m, attachmentIDs); err != nil {
		return nil, err
	}
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).
		Updates(map[string]any{"last_activity_at": now, "updated_at": now}).Error; err != nil {
		return nil, fmt.Errorf("touch ticket %d: %w", t.ID, err)
	}
	mentioned, err := s.mentionedMembers(tx, t.ChannelID, body)
	if err != nil {
		return nil, err
	}
	data := JSONMap{"message_id": m.ID}
	if len(mentioned) > 0 {
		data["mentions"] = mentioned
	}
	if err := RecordEvent(tx, t.ID, &a.ID, "note", "", "", data); err != nil {
		return nil, err
	}
	err = s.notifyMany(ctx, tx, mentioned, &a.ID, Notification{Kind: NotifyMention, TicketID: &t.ID,
		Data: JSONMap{"message_id": m.ID, "by": a.ID, "by_name": a.Name, "subject": t.Subject,
			"excerpt": excerpt(body, 200)}})
	if err != nil {
		return nil, err
	}
	s.PublishAfterCommit(ctx, LiveEvent{Kind: "message.created", ChannelID: t.ChannelID, TicketID: t.ID,
		Data: map[string]any{"message_id": m.ID, "direction": DirectionNote}})
	return m, nil
}

// attach links uploaded attachments to message m. Only files the agent uploaded
// and no message uses yet qualify; anything else fails the whole note.
func attach(tx *gorm.DB, a *Agent, m *Message, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	uniq := map[int64]bool{}
	for _, id := range ids {
		uniq[id] = true
	}
	res := tx.Model(&Attachment{}).Where("id IN ? AND message_id IS NULL AND uploaded_by = ?", ids, a.ID).
		Update("message_id", m.ID)
	if res.Error != nil {
		return fmt.Errorf("attach files to message %d: %w", m.ID, res.Error)
	}
	if int(res.RowsAffected) != len(uniq) {
		return Invalid("attachment_ids", "unknown or already used attachment")
	}
	return tx.Where("message_id = ?", m.ID).Order("id").Find(&m.Attachments).Error
}

// mentionedMembers returns the ids of channel members mentioned in body.
func (s *Service) mentionedMembers(tx *gorm.DB, channelID int64, body string) ([]int64, error) {
	var ids []int64
	var locals []string
	for _, g := range mentionByID.FindAllStringSubmatch(body, 50) {
		if id, err := strconv.ParseInt(g[2], 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	rest := mentionByID.ReplaceAllString(body, " ")
	for _, g := range mentionByName.FindAllStringSubmatch(rest, 50) {
		locals = append(locals, strings.ToLower(g[2]))
	}
	if len(ids) == 0 && len(locals) == 0 {
		return nil, nil
	}
	if ids == nil {
		ids = []int64{0}
	}
	if locals == nil {
		locals = []string{""}
	}
	var out []int64
	err := tx.Raw(`SELECT a.id FROM agents a
		JOIN channel_members cm ON cm.agent_id = a.id AND cm.channel_id = ?
		WHERE a.disabled_at IS NULL
		  AND (a.id IN ? OR lower(split_part(a.email::text, '@', 1)) IN ?)
		ORDER BY a.id`, channelID, ids, locals).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("resolve mentions: %w", err)
	}
	return out, nil
}

func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
