package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type memberJSON struct {
	AgentID int64  `json:"agent_id"`
	Role    string `json:"role"`
}

type channelRequest struct {
	Name               Opt[string]       `json:"name"`
	Kind               Opt[string]       `json:"kind"`
	DefaultAssigneeID  Opt[int64]        `json:"default_assignee_id"`
	AssignmentMode     Opt[string]       `json:"assignment_mode"`
	AssignmentCap      Opt[int]          `json:"assignment_cap"`
	FromNameFormat     Opt[string]       `json:"from_name_format"`
	Signature          Opt[string]       `json:"signature"`
	SubjectTag         Opt[bool]         `json:"subject_tag"`
	ReadTracking       Opt[bool]         `json:"read_tracking"`
	MaxAttachmentBytes Opt[int64]        `json:"max_attachment_bytes"`
	Members            Opt[[]memberJSON] `json:"members"`
}

func (r *channelRequest) input() tickets.ChannelInput {
	in := tickets.ChannelInput{
		Name: r.Name.Ptr(), Kind: r.Kind.Ptr(), DefaultAssigneeID: r.DefaultAssigneeID.Nullable(),
		AssignmentMode: r.AssignmentMode.Ptr(), AssignmentCap: r.AssignmentCap.Nullable(),
		FromNameFormat: r.FromNameFormat.Ptr(), Signature: r.Signature.Ptr(), SubjectTag: r.SubjectTag.Ptr(),
		ReadTracking: r.ReadTracking.Ptr(), MaxAttachmentBytes: r.MaxAttachmentBytes.Ptr(),
	}
	if r.Members.Set {
		ms := []tickets.ChannelMember{}
		if r.Members.Value != nil {
			for _, m := range *r.Members.Value {
				ms = append(ms, tickets.ChannelMember{AgentID: m.AgentID, Role: m.Role})
			}
		}
		in.Members = &ms
	}
	return in
}

// channelView is a channel with its members, as the API returns it.
type channelView struct {
	*tickets.Channel
	Members []memberJSON `json:"members"`
	// Sidebar counts, in listings only: the default queue and what is unread in it for the caller.
	OpenCount   *int64 `json:"open_count,omitempty"`
	UnreadCount *int64 `json:"unread_count,omitempty"`
}

func (s *Server) channelView(c *gin.Context, ch *tickets.Channel) (*channelView, error) {
	views, err := s.channelViews(c, []tickets.Channel{*ch})
	if err != nil {
		return nil, err
	}
	return views[0], nil
}

// channelViews attaches members to channels with one query for all of them.
func (s *Server) channelViews(c *gin.Context, chs []tickets.Channel) ([]*channelView, error) {
	ids := make([]int64, len(chs))
	for i := range chs {
		ids[i] = chs[i].ID
	}
	members, err := s.tickets.MembersOf(c.Request.Context(), ids)
	if err != nil {
		return nil, err
	}
	out := make([]*channelView, 0, len(chs))
	for i := range chs {
		v := &channelView{Channel: &chs[i], Members: []memberJSON{}}
		for _, m := range members[chs[i].ID] {
			v.Members = append(v.Members, memberJSON{AgentID: m.AgentID, Role: m.Role})
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Server) listChannels(c *gin.Context) {
	chs, err := s.tickets.Channels(c.Request.Context(), agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	out, err := s.channelViews(c, chs)
	if err != nil {
		fail(c, err)
		return
	}
	counts, err := s.tickets.ChannelCounts(c.Request.Context(), agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	for _, v := range out {
		n := counts[v.ID]
		v.OpenCount, v.UnreadCount = &n.OpenCount, &n.UnreadCount
	}
	ok(c, listOf(out, ""))
}

func (s *Server) createChannel(c *gin.Context) {
	var req channelRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, err := s.tickets.CreateChannel(c.Request.Context(), agent(c), req.input())
	if err != nil {
		fail(c, err)
		return
	}
	v, err := s.channelView(c, ch)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, v)
}

func (s *Server) getChannel(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	ch, err := s.tickets.Channel(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	v, err := s.channelView(c, ch)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, v)
}

func (s *Server) updateChannel(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req channelRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, err := s.tickets.UpdateChannel(c.Request.Context(), agent(c), id, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	v, err := s.channelView(c, ch)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, v)
}

func (s *Server) deleteChannel(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.DeleteChannel(c.Request.Context(), agent(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type memberRequest struct {
	Role string `json:"role"`
}

func (s *Server) putMember(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	agentID, err := pathID(c, "agent_id")
	if err != nil {
		fail(c, err)
		return
	}
	var req memberRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.SetMember(c.Request.Context(), agent(c), id, agentID, req.Role); err != nil {
		fail(c, err)
		return
	}
	s.getChannel(c)
}

func (s *Server) deleteMember(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	agentID, err := pathID(c, "agent_id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.RemoveMember(c.Request.Context(), agent(c), id, agentID); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
