package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ChecklistTemplate is a named list of checklist items for one channel. Any member
// of the channel may manage its templates: they are working material, not channel
// settings.
type ChecklistTemplate struct {
	ID        int64      `json:"id"`
	ChannelID int64      `json:"channel_id"`
	Name      string     `json:"name"`
	Items     StringList `json:"items" gorm:"type:text[]"`
	CreatedBy *int64     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// ChecklistTemplateInput is the writable part of a template; nil fields are left
// unchanged on update.
type ChecklistTemplateInput struct {
	Name  *string
	Items *[]string
}

func (in *ChecklistTemplateInput) apply(t *ChecklistTemplate) error {
	var v Validator
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	v.Check(t.Name != "", "name", "is required")
	v.MaxLen(t.Name, 200, "name")
	if in.Items != nil {
		t.Items = StringList{}
		for _, it := range *in.Items {
			t.Items = append(t.Items, strings.TrimSpace(it))
		}
	}
	v.Check(len(t.Items) > 0, "items", "must hold at least one item")
	v.Check(len(t.Items) <= MaxChecklistItems, "items", fmt.Sprintf("at most %d items", MaxChecklistItems))
	for i, it := range t.Items {
		checkChecklistText(&v, fmt.Sprintf("items[%d]", i), it)
	}
	return v.Err()
}

// ChecklistTemplates lists a channel's templates by name.
func (s *Service) ChecklistTemplates(ctx context.Context, a *Agent, channelID int64) ([]ChecklistTemplate, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	out := []ChecklistTemplate{}
	err := s.DB.WithContext(ctx).Where("channel_id = ?", channelID).Order("lower(name), id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("checklist templates of channel %d: %w", channelID, err)
	}
	return out, nil
}

// CreateChecklistTemplate adds a template to a channel a can see.
func (s *Service) CreateChecklistTemplate(ctx context.Context, a *Agent, channelID int64, in ChecklistTemplateInput) (*ChecklistTemplate, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	t := &ChecklistTemplate{ChannelID: channelID, CreatedBy: &a.ID}
	if err := in.apply(t); err != nil {
		return nil, err
	}
	if err := s.DB.WithContext(ctx).Create(t).Error; err != nil {
		return nil, templateWriteError(err)
	}
	return t, nil
}

func (s *Service) checklistTemplate(ctx context.Context, a *Agent, channelID, id int64) (*ChecklistTemplate, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var t ChecklistTemplate
	if err := s.DB.WithContext(ctx).Where("id = ? AND channel_id = ?", id, channelID).Take(&t).Error; err != nil {
		return nil, notFound(err, "checklist template %d", id)
	}
	return &t, nil
}

// UpdateChecklistTemplate changes a template's name or items.
func (s *Service) UpdateChecklistTemplate(ctx context.Context, a *Agent, channelID, id int64, in ChecklistTemplateInput) (*ChecklistTemplate, error) {
	t, err := s.checklistTemplate(ctx, a, channelID, id)
	if err != nil {
		return nil, err
	}
	if err := in.apply(t); err != nil {
		return nil, err
	}
	t.UpdatedAt = s.now()
	err = s.DB.WithContext(ctx).Model(t).Select("name", "items", "updated_at").Updates(t).Error
	if err != nil {
		return nil, templateWriteError(err)
	}
	return t, nil
}

// DeleteChecklistTemplate removes a template; checklists made from it stay.
func (s *Service) DeleteChecklistTemplate(ctx context.Context, a *Agent, channelID, id int64) error {
	t, err := s.checklistTemplate(ctx, a, channelID, id)
	if err != nil {
		return err
	}
	if err := s.DB.WithContext(ctx).Delete(t).Error; err != nil {
		return fmt.Errorf("delete checklist template %d: %w", id, err)
	}
	return nil
}

// ApplyChecklistTemplate appends a template's items to a ticket's checklist. The
// template must belong to the ticket's channel.
func (s *Service) ApplyChecklistTemplate(ctx context.Context, a *Agent, ticketID, templateID int64) ([]ChecklistItem, error) {
	var added []ChecklistItem
	err := s.checklistChange(ctx, a, ticketID, func(tx *gorm.DB, t *Ticket) error {
		var tpl ChecklistTemplate
		if err := tx.Where("id = ? AND channel_id = ?", templateID, t.ChannelID).Take(&tpl).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Invalid("template_id", "no such template in the ticket's channel")
			}
			return fmt.Errorf("checklist template %d: %w", templateID, err)
		}
		var n int64
		if err := tx.Model(&ChecklistItem{}).Where("ticket_id = ?", t.ID).Count(&n).Error; err != nil {
			return fmt.Errorf("count checklist: %w", err)
		}
		if int(n)+len(tpl.Items) > MaxChecklistItems {
			return Invalid("template_id", fmt.Sprintf("a checklist holds at most %d items", MaxChecklistItems))
		}
		var err error
		added, err = addChecklistItems(tx, a, t.ID, tpl.Items)
		if err != nil {
			return err
		}
		return RecordEvent(tx, t.ID, &a.ID, "checklist_template", "", tpl.Name, JSONMap{"template_id": tpl.ID})
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

func templateWriteError(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return Invalid("name", "a template with this name exists in the channel")
	}
	return fmt.Errorf("save checklist template: %w", err)
}
