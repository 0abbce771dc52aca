package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The flower-shop demo: a small shop whose team answers customers on chat and
// mail, pays invoices, orders from growers, decorates weddings and plans the week.
// Loaded by `postdesk demo` so a newcomer sees a living inbox.

// DemoAgents are the demo's people; all share the password given to LoadDemo.
var DemoAgents = []struct{ Email, Name, Role string }{
	{"anna@flowers.example", "Anna Berg", RoleAdmin},
	{"ben@flowers.example", "Ben Okafor", RoleAgent},
	{"carla@flowers.example", "Carla Souza", RoleAgent},
	{"dan@flowers.example", "Dan Kim", RoleAgent},
}

type demoMail struct {
	channel, from, name, subject string
	bodies                       []string // customer messages; replies from the team in between
	priority, status             string
	tags                         []string
	dueIn                        time.Duration // 0: no due date; negative: overdue
	snoozeFor                    time.Duration
}

var demoMails = []demoMail{
	{channel: "Customers", from: "+4917612345678", name: "Lena Fischer", subject: "Roses for Saturday",
		bodies:   []string{"Hi! Can I get 20 red roses delivered on Saturday morning?", "Great, and could you add a card that says 'Happy 40th, Jonas'."},
		priority: "high", status: StatusOpen, tags: []string{"delivery"}, dueIn: 20 * time.Hour},
	{channel: "Customers", from: "+66812345678", name: "สมชาย ใจดี", subject: "สั่งดอกไม้",
		bodies: []string{"สวัสดีครับ ผมอยากสั่งดอกกุหลาบสีแดงสำหรับงานแต่งงานครับ"}, priority: "normal", status: StatusNew},
	{channel: "Customers", from: "+819012345678", name: "田中 花子", subject: "ご注文について",
		bodies: []string{"東京都渋谷区の花屋さんへ、結婚式用のバラを注文したいです。配達は可能ですか。"}, priority: "normal", status: StatusNew},
	{channel: "Customers", from: "ivan.petrov@example.ru", name: "Иван Петров", subject: "Букет на свадьбу",
		bodies: []string{"Здравствуйте! Хочу заказать букет тюльпанов на свадьбу 14 июня."}, priority: "normal", status: StatusPending},
	{channel: "Customers", from: "m.dubois@example.fr", name: "Marie Dubois", subject: "Wilted tulips",
		bodies:   []string{"The tulips I received yesterday were wilted when they arrived. I would like a refund.", "Photos attached, as you asked."},
		priority: "urgent", status: StatusOpen, tags: []string{"complaint", "refund"}},
	{channel: "Customers", from: "karin.meyer@example.org", name: "Karin Meyer", subject: "Weekly office flowers",
		bodies:   []string{"Could we start a weekly subscription for our reception desk, every Monday?"},
		priority: "normal", status: StatusResolved, tags: []string{"vip"}},
	{channel: "Bookkeeping", from: "billing@greenhouse-supply.example", name: "Greenhouse Supply", subject: "Invoice 2026-1142",
		bodies:   []string{"Please find attached invoice 2026-1142 for the May deliveries, due in 14 days."},
		priority: "normal", status: StatusOpen, tags: []string{"invoice"}, dueIn: -26 * time.Hour},
	{channel: "Bookkeeping", from: "tax@accountants.example", name: "Müller & Partner", subject: "VAT return Q2",
		bodies:   []string{"We need the receipts for Q2 by the end of the month to file the VAT return."},
		priority: "high", status: StatusPending, dueIn: 5 * 24 * time.Hour, snoozeFor: 3 * 24 * time.Hour},
	{channel: "Purchases", from: "sales@dutch-growers.example", name: "Dutch Growers", subject: "Spring price list",
		bodies:   []string{"Our spring price list is attached. Peonies are 10% cheaper if ordered before Friday."},
		priority: "normal", status: StatusNew, tags: []string{"supplier"}},
	{channel: "Purchases", from: "orders@ribbon-world.example", name: "Ribbon World", subject: "Order 7781 shipped",
		bodies:   []string{"Your order 7781 (satin ribbons, 40 rolls) has shipped and arrives Thursday."},
		priority: "low", status: StatusResolved},
	{channel: "Events", from: "sophie.lang@example.com", name: "Sophie Lang", subject: "Wedding decoration, 80 guests",
		bodies:   []string{"We are getting married on 21 June and need table decorations for 80 guests, in white and pale pink.", "Budget is around 2,500 EUR. Can you send a proposal?"},
		priority: "high", status: StatusOpen, tags: []string{"wedding", "event"}, dueIn: 2 * 24 * time.Hour},
	{channel: "Events", from: "events@cityhall.example", name: "City Hall Events", subject: "Gala dinner flowers",
		bodies:   []string{"Please confirm the decoration for the gala dinner on the 30th, 12 round tables."},
		priority: "normal", status: StatusNew, tags: []string{"event"}},
}

var demoTasks = []struct {
	subject, assignee string
	checklist         []string
	dueIn             time.Duration
	priority          string
}{
	{"Prepare Saturday deliveries", "ben@flowers.example", []string{"Print delivery list", "Load the van", "Call customers before arrival"}, 30 * time.Hour, "high"},
	{"Order peonies before Friday", "dan@flowers.example", []string{"Check stock", "Compare Dutch Growers price list", "Place order"}, 50 * time.Hour, "normal"},
	{"Wedding proposal for Sophie Lang", "anna@flowers.example", []string{"Sketch table arrangement", "Price the flowers", "Send proposal"}, 40 * time.Hour, "high"},
	{"Clean the cold room", "carla@flowers.example", nil, -5 * time.Hour, "low"},
}

// LoadDemo creates the flower-shop demo: agents (password for all), the channels
// Customers, Bookkeeping, Purchases, Events (assigns everything to Anna) and
// Planning (tasks), and a living inbox. It refuses a database that already has a
// Customers channel.
func (s *Service) LoadDemo(ctx context.Context, password string) error {
	var n int64
	if err := s.DB.WithContext(ctx).Model(&Channel{}).Where("lower(name) = 'customers'").Count(&n).Error; err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if n > 0 {
		return errors.New("demo: a Customers channel exists already; the demo is loaded")
	}
	agents := map[string]*Agent{}
	for _, d := range DemoAgents {
		a, err := s.AgentByEmail(ctx, d.Email)
		if errors.Is(err, ErrNotFound) {
			a, err = s.CreateAgent(ctx, NewAgent{Email: d.Email, Name: d.Name, Password: password, Role: d.Role})
		}
		if err != nil {
			return fmt.Errorf("demo agent %s: %w", d.Email, err)
		}
		status := AgentOnline
		if d.Email == "dan@flowers.example" {
			status = AgentAway
		}
		if a, err = s.UpdateProfile(ctx, a, ProfileChange{Status: &status}); err != nil {
			return err
		}
		agents[d.Email] = a
	}
	anna := agents["anna@flowers.example"]
	id := func(email string) int64 { return agents[email].ID }
	members := func(emails ...string) *[]ChannelMember {
		ms := []ChannelMember{}
		for _, e := range emails {
			ms = append(ms, ChannelMember{AgentID: id(e), Role: MemberRole})
		}
		return &ms
	}
	str := func(v string) *string { return &v }
	all := []string{"anna@flowers.example", "ben@flowers.example", "carla@flowers.example", "dan@flowers.example"}
	annaID, carlaID := id("anna@flowers.example"), id("carla@flowers.example")
	annaP, carlaP := &annaID, &carlaID
	specs := []struct {
		name, kind, mode string
		def              **int64
		members          *[]ChannelMember
	}{
		{"Customers", ChannelChat, "round_robin", nil, members(all...)},
		{"Bookkeeping", ChannelEmail, "default", &carlaP, members("anna@flowers.example", "carla@flowers.example")},
		{"Purchases", ChannelEmail, "least_open", nil, members("anna@flowers.example", "dan@flowers.example", "ben@flowers.example")},
		{"Events", ChannelEmail, "default", &annaP, members(all...)},
		{"Planning", ChannelTasks, "none", nil, members(all...)},
	}
	channels := map[string]*Channel{}
	for _, sp := range specs {
		c, err := s.CreateChannel(ctx, anna, ChannelInput{Name: str(sp.name), Kind: str(sp.kind), AssignmentMode: str(sp.mode),
			DefaultAssigneeID: sp.def, Members: sp.members})
		if err != nil {
			return fmt.Errorf("demo channel %s: %w", sp.name, err)
		}
		channels[sp.name] = c
	}
	now := s.now()
	for i, m := range demoMails {
		ch := channels[m.channel]
		kind := "email"
		if !strings.Contains(m.from, "@") {
			kind = "whatsapp"
		}
		var t *Ticket
		err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			c, err := s.ResolveContact(ctx, tx, kind, m.from, m.name)
			if err != nil {
				return err
			}
			if t, err = s.OpenTicket(ctx, tx, NewTicket{ChannelID: ch.ID, Subject: m.subject, ContactID: &c.ID}); err != nil {
				return err
			}
			for j, body := range m.bodies {
				if j > 0 {
					reply := &Message{TicketID: t.ID, ChannelID: ch.ID, Direction: DirectionOutbound, Status: MessageSent,
						AuthorAgentID: &anna.ID, BodyText: "Thank you, we are on it!", SentAt: &now}
					if err := tx.Create(reply).Error; err != nil {
						return err
					}
				}
				in := &Message{BodyText: body, FromName: m.name, ContactID: &c.ID, Subject: m.subject}
				if kind == "email" {
					in.FromAddress = m.from
				}
				if err := s.AddInboundMessage(ctx, tx, t, in); err != nil {
					return err
				}
			}
			// Spread arrivals over the last days so the queue has an order.
			ago := time.Duration(len(demoMails)-i) * 97 * time.Minute
			return tx.Exec(`UPDATE tickets SET created_at = created_at - ?::interval,
				last_customer_activity_at = last_customer_activity_at - ?::interval,
				last_activity_at = last_activity_at - ?::interval WHERE id = ?`,
				ago.String(), ago.String(), ago.String(), t.ID).Error
		})
		if err != nil {
			return fmt.Errorf("demo ticket %q: %w", m.subject, err)
		}
		change := TicketChange{Priority: &m.priority}
		if m.status != StatusNew {
			change.Status = &m.status
		}
		if len(m.tags) > 0 {
			tags := m.tags
			change.Tags = &tags
		}
		if m.dueIn != 0 {
			due := now.Add(m.dueIn)
			dp := &due
			change.DueAt = &dp
		}
		if _, err := s.UpdateTicket(ctx, anna, t.ID, change); err != nil {
			return fmt.Errorf("demo ticket %q: %w", m.subject, err)
		}
		if m.snoozeFor > 0 {
			err := s.DB.WithContext(ctx).Exec(`UPDATE tickets SET snoozed_until = ?, snoozed_by_id = ? WHERE id = ?`,
				now.Add(m.snoozeFor), anna.ID, t.ID).Error
			if err != nil {
				return err
			}
		}
	}
	for _, tk := range demoTasks {
		due := now.Add(tk.dueIn)
		assignee := id(tk.assignee)
		_, err := s.CreateTask(ctx, anna, NewTask{ChannelID: channels["Planning"].ID, Subject: tk.subject,
			AssigneeID: &assignee, DueAt: &due, Priority: tk.priority, Checklist: tk.checklist})
		if err != nil {
			return fmt.Errorf("demo task %q: %w", tk.subject, err)
		}
	}
	return nil
}
