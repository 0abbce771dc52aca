package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type checklistItemRequest struct {
	Text     Opt[string]  `json:"text"`
	Done     Opt[bool]    `json:"done"`
	Position Opt[float64] `json:"position"`
}

func (s *Server) listChecklist(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	items, err := s.tickets.Checklist(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(items, ""))
}

func (s *Server) addChecklistItem(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req checklistItemRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Done.Set {
		fail(c, tickets.Invalid("done", "set it with PATCH once the item exists"))
		return
	}
	text := ""
	if p := req.Text.Ptr(); p != nil {
		text = *p
	}
	item, err := s.tickets.AddChecklistItem(c.Request.Context(), agent(c), id, text, req.Position.Ptr())
	if err != nil {
		fail(c, err)
		return
	}
	created(c, item)
}

func (s *Server) updateChecklistItem(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	itemID, err := pathID(c, "item")
	if err != nil {
		fail(c, err)
		return
	}
	var req checklistItemRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	var v tickets.Validator
	v.Check(!req.Text.Set || req.Text.Value != nil, "text", "must not be null")
	v.Check(!req.Done.Set || req.Done.Value != nil, "done", "must not be null")
	v.Check(!req.Position.Set || req.Position.Value != nil, "position", "must not be null")
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	item, err := s.tickets.UpdateChecklistItem(c.Request.Context(), agent(c), id, itemID, tickets.ChecklistChange{
		Text: req.Text.Ptr(), Done: req.Done.Ptr(), Position: req.Position.Ptr()})
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, item)
}

func (s *Server) deleteChecklistItem(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	itemID, err := pathID(c, "item")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.DeleteChecklistItem(c.Request.Context(), agent(c), id, itemID); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type applyTemplateRequest struct {
	TemplateID int64 `json:"template_id"`
}

func (s *Server) applyChecklistTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req applyTemplateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	items, err := s.tickets.ApplyChecklistTemplate(c.Request.Context(), agent(c), id, req.TemplateID)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, listOf(items, ""))
}

type checklistTemplateRequest struct {
	Name  Opt[string]   `json:"name"`
	Items Opt[[]string] `json:"items"`
}

func (r *checklistTemplateRequest) input() tickets.ChecklistTemplateInput {
	return tickets.ChecklistTemplateInput{Name: r.Name.Ptr(), Items: r.Items.Ptr()}
}

func (s *Server) listChecklistTemplates(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	out, err := s.tickets.ChecklistTemplates(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) createChecklistTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req checklistTemplateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.CreateChecklistTemplate(c.Request.Context(), agent(c), id, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	created(c, t)
}

func (s *Server) updateChecklistTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	tid, err := pathID(c, "template_id")
	if err != nil {
		fail(c, err)
		return
	}
	var req checklistTemplateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.UpdateChecklistTemplate(c.Request.Context(), agent(c), id, tid, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}

func (s *Server) deleteChecklistTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	tid, err := pathID(c, "template_id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.DeleteChecklistTemplate(c.Request.Context(), agent(c), id, tid); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
