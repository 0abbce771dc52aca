package tickets

import "time"

// Contact is a customer or supplier; shared by every channel.
type Contact struct {
	ID           int64             `json:"id"`
	Name         string            `json:"name"`
	MergedIntoID *int64            `json:"merged_into_id"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	Identities   []ContactIdentity `json:"identities,omitempty" gorm:"foreignKey:ContactID"`
}

// ContactIdentity is one way to reach a contact: an e-mail address, a phone number,
// a messenger user id. (kind, value) is unique across all contacts.
type ContactIdentity struct {
	ID          int64     `json:"id"`
	ContactID   int64     `json:"contact_id"`
	Kind        string    `json:"kind"`
	Value       string    `json:"value"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

// MessengerConnection is a messenger account feeding a channel. Credentials are
// write-only.
type MessengerConnection struct {
	ID          int64     `json:"id"`
	ChannelID   int64     `json:"channel_id"`
	Provider    string    `json:"provider"`
	Name        string    `json:"name"`
	Credentials JSONMap   `json:"-"`
	APIBaseURL  string    `json:"api_base_url" gorm:"column:api_base_url"`
	Settings    JSONMap   `json:"settings"`
	Enabled     bool      `json:"enabled"`
	LastError   string    `json:"last_error"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}
